package wire

import (
	"strings"
	"testing"
)

func disconnectSamples() []msgSample {
	return []msgSample{
		{name: "DISCONNECT protocol", m: &Disconnect{Reason: ReasonProtocol, Message: "payload does not decode"}},
		{name: "DISCONNECT normal, no message", m: &Disconnect{Reason: ReasonNormal}},
		{name: "DISCONNECT shutting-down, UTF-8", m: &Disconnect{Reason: ReasonShuttingDown, Message: "arrêt ⏻"}},
		{name: "DISCONNECT longest message", m: &Disconnect{Reason: ReasonWrongGenesis, Message: strings.Repeat("x", MaxDisconnectMessageLen)}},
	}
}

func disconnectRejects() []msgReject {
	return []msgReject{
		{"DISCONNECT reason 7", TypeDisconnect, mcat([]byte{7}, mvi(0)), ErrReserved, false},
		{"DISCONNECT reason 255", TypeDisconnect, mcat([]byte{255}, mvi(0)), ErrReserved, false},
		{"DISCONNECT LEN 257", TypeDisconnect, mcat([]byte{1}, mvi(257), make([]byte, 257)), ErrLimit, false},
		{"DISCONNECT message not UTF-8", TypeDisconnect, mcat([]byte{1}, mvi(3), []byte{'a', 0xff, 'b'}), ErrMalformed, false},
	}
}

func TestDisconnect(t *testing.T) {
	testMessageType(t, TypeDisconnect)
	for r := ReasonNormal; r <= ReasonShuttingDown; r++ {
		if strings.HasPrefix(r.String(), "DisconnectReason") {
			t.Errorf("reason %d has no name", r)
		}
	}
	if ReasonWrongGenesis.String() != "wrong-genesis" || DisconnectReason(7).String() != "DisconnectReason(7)" {
		t.Error("reason names")
	}
}
