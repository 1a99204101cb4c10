package wire

import (
	"errors"
	"testing"
)

func msgJobStateSample() *JobState {
	return &JobState{
		JobID:    JobIDOf(msgHash("example block")),
		StateSeq: 3,
		Flags:    0,
		Nodes: Workout{Runs: []Run{
			HashlessFlat(9, 0, 32),
			HashlessFlat(9, 64, 32),
			HashlessFlat(14, 0, 1024),
		}},
		Bodies: Workout{Runs: []Run{HashlessFlat(14, 0, 700), HashlessFlat(14, 800, 224)}},
	}
}

func jobStateSamples() []msgSample {
	return []msgSample{
		{name: "JOB_STATE nodes and bodies", m: msgJobStateSample()},
		{name: "JOB_STATE complete, nothing new", m: &JobState{JobID: JobIDOf(msgHash("example block")), StateSeq: 4, Flags: JobStateComplete}},
		{name: "JOB_STATE do not push", m: &JobState{JobID: JobIDOf(msgHash("example block")), StateSeq: 5, Flags: JobStateNoPush}},
		{name: "JOB_STATE largest workouts", m: &JobState{JobID: JobID{9}, StateSeq: ^uint32(0), Nodes: Workout{Runs: []Run{HashlessFlat(16, 0, MaxWorkoutNodes)}}, Bodies: Workout{Runs: []Run{HashlessFlat(16, 1<<24-1, 0), HashlessFlat(16, 0, MaxWorkoutNodes)}}}},
	}
}

// msgJobStateRejects returns the reject cases of JOB_STATE's layout as type
// mt.
func msgJobStateRejects(mt MsgType, name string) []msgReject {
	head := mhx("0102030405060708 05000000")
	flat := AppendRun(nil, &Run{Dir: Flat, Level: 3, Start: 1, Seq: HashSeq{Count: 2}}, true)
	up := AppendRun(nil, &Run{Dir: Up, Level: 3, Start: 1, Seq: HashSeq{Count: 2}}, true)
	down := AppendRun(nil, &Run{Dir: Down, Level: 3, Start: 1, Seq: HashSeq{Count: 2}}, true)
	big := AppendRun(nil, &Run{Dir: Flat, Level: 3, Start: 0, Seq: HashSeq{Count: MaxWorkoutNodes}}, true)
	return []msgReject{
		{name + " flags 0x04", mt, mcat(head, []byte{4}, mvi(0), mvi(0)), ErrReserved, false},
		{name + " flags 0x80", mt, mcat(head, []byte{0x80}, mvi(0), mvi(0)), ErrReserved, false},
		{name + " ascending run in NODES", mt, mcat(head, []byte{0}, mvi(2), flat, up, mvi(0)), ErrMalformed, false},
		{name + " descending run in BODIES", mt, mcat(head, []byte{0}, mvi(1), flat, mvi(1), down), ErrMalformed, false},
		{name + " direction 3", mt, mcat(head, []byte{0}, mvi(1), []byte{0xc3, 1, 2}, mvi(0)), ErrReserved, false},
		{name + " NODES of 65,537 nodes", mt, mcat(head, []byte{0}, mvi(2), big, flat[:2], mvi(1), mvi(0)), ErrLimit, false},
		{name + " no BODIES", mt, mcat(head, []byte{0}, mvi(1), flat), ErrShort, false},
		{name + " hashless COUNT 65,537", mt, mcat(head, []byte{0}, mvi(1), flat[:2], mvi(MaxSeqCount+1), mvi(0)), ErrLimit, false},
	}
}

func jobStateRejects() []msgReject { return msgJobStateRejects(TypeJobState, "JOB_STATE") }

func TestJobState(t *testing.T) {
	testMessageType(t, TypeJobState)
	p := msgPayload(msgJobStateSample())
	if len(p) > DefaultDatagramSize-DatagramHeaderSize {
		t.Fatalf("sample of %d bytes", len(p))
	}
	if _, err := DecodeJobState(p[:13]); !errors.Is(err, ErrShort) {
		t.Fatal(err)
	}
}
