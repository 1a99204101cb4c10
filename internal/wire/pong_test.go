package wire

import "testing"

func pongSamples() []msgSample {
	return []msgSample{
		{name: "PONG", m: &Pong{Nonce: 0xfeedface, ReceivedSize: 31, RecvMicros: 1700000000123456}},
		{name: "PONG extremes", m: &Pong{Nonce: ^uint64(0), ReceivedSize: MaxDatagramSize, RecvMicros: ^uint64(0)}},
	}
}

func pongRejects() []msgReject {
	return []msgReject{
		{"PONG of 17 bytes", TypePong, make([]byte, 17), ErrShort, false},
		{"PONG of 19 bytes", TypePong, make([]byte, 19), ErrTrailing, false},
	}
}

func TestPong(t *testing.T) {
	testMessageType(t, TypePong)
	if n := len(msgPayload(&Pong{})); n != PongSize {
		t.Fatalf("payload %d bytes", n)
	}
}
