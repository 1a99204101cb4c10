package wire

import "testing"

func closeJobSamples() []msgSample {
	id := JobIDOf(msgHash("closed block"))
	return []msgSample{
		{name: "CLOSE_JOB complete", m: &CloseJob{JobID: id, Reason: CloseComplete}},
		{name: "CLOSE_JOB superseded (UDP)", t: TypeCloseJobUDP, m: &CloseJob{JobID: id, Reason: CloseSuperseded}},
		{name: "CLOSE_JOB invalid block", m: &CloseJob{JobID: id, Reason: CloseInvalidBlock}},
		{name: "CLOSE_JOB abandoned (UDP)", t: TypeCloseJobUDP, m: &CloseJob{JobID: id, Reason: CloseAbandoned}},
	}
}

func closeJobRejects() []msgReject {
	return []msgReject{
		{"CLOSE_JOB reason 4", TypeCloseJob, mhx("0102030405060708 04"), ErrReserved, false},
		{"CLOSE_JOB (UDP) reason 255", TypeCloseJobUDP, mhx("0102030405060708 ff"), ErrReserved, false},
		{"CLOSE_JOB (UDP) trailing byte", TypeCloseJobUDP, mhx("0102030405060708 00 00"), ErrTrailing, false},
	}
}

func TestCloseJob(t *testing.T) {
	testMessageType(t, TypeCloseJob)
	if n := len(msgPayload(&CloseJob{})); n != CloseJobSize {
		t.Fatalf("payload %d bytes", n)
	}
	if CloseInvalidBlock.String() != "invalid-block" || CloseReason(4).String() != "CloseReason(4)" {
		t.Error("reason names")
	}
}
