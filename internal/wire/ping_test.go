package wire

import "testing"

func pingSamples() []msgSample {
	return []msgSample{
		{name: "PING asking for a PONG, padded to the PONG's size", m: &Ping{Nonce: 0xfeedface, Flags: PingReply, Padding: PongSize - PingSize}},
		{name: "PING unpadded, no reply", m: &Ping{Nonce: 1}},
		{name: "PING of a 100-byte datagram", m: NewPing(0x1122334455667788, 0, 100)},
		{name: "PING of the largest datagram", m: NewPing(2, 0, MaxDatagramSize), noVector: true},
	}
}

func pingRejects() []msgReject {
	return []msgReject{
		{"PING flags 0x02", TypePing, mhx("0100000000000000 02"), ErrReserved, false},
		{"PING non-zero padding", TypePing, mhx("0100000000000000 01 000000ff00"), ErrReserved, false},
		{"PING of 8 bytes", TypePing, mhx("0100000000000000"), ErrShort, false},
	}
}

func TestPing(t *testing.T) {
	testMessageType(t, TypePing)
	if p := NewPing(1, PingReply, MaxDatagramSize); len(AppendDatagram(nil, DatagramHeader{}, p)) != MaxDatagramSize {
		t.Fatalf("NewPing(1472) padding %d", p.Padding)
	}
	if p := NewPing(1, 0, 10); p.Padding != 0 {
		t.Fatalf("NewPing(10) padding %d", p.Padding)
	}
	// A PONG is never larger than a PING padded as the rule requires.
	if PingSize+(PongSize-PingSize) < len(msgPayload(&Pong{})) {
		t.Fatal("PONG larger than the smallest PING that may be answered")
	}
}
