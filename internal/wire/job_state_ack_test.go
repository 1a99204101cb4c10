package wire

import (
	"bytes"
	"reflect"
	"testing"
)

func jobStateAckSamples() []msgSample {
	ack := JobStateAck(*msgJobStateSample())
	return []msgSample{
		{name: "JOB_STATE_ACK echoing a JOB_STATE", m: &ack},
		{name: "JOB_STATE_ACK empty", m: &JobStateAck{JobID: JobID{1}, StateSeq: 1}},
	}
}

func jobStateAckRejects() []msgReject { return msgJobStateRejects(TypeJobStateAck, "JOB_STATE_ACK") }

func TestJobStateAck(t *testing.T) {
	testMessageType(t, TypeJobStateAck)
	// An ACK has the bytes of the state it echoes and is never larger.
	s := msgJobStateSample()
	ack := JobStateAck(*s)
	if !bytes.Equal(msgPayload(s), msgPayload(&ack)) {
		t.Fatal("ACK payload differs from the state's")
	}
	got, err := DecodeJobStateAck(msgPayload(s))
	if err != nil || !reflect.DeepEqual((*JobState)(got), s) {
		t.Fatalf("%+v %v", got, err)
	}
}
