package wire

import (
	"errors"
	"testing"
)

func getBTAddrSamples() []msgSample {
	return []msgSample{{name: "GET_BTADDR", m: &GetBTAddr{}}}
}

func getBTAddrRejects() []msgReject {
	return []msgReject{{"GET_BTADDR of 2 bytes", TypeGetBTAddr, []byte{0, 0}, ErrLimit, false}}
}

func TestGetBTAddr(t *testing.T) {
	testMessageType(t, TypeGetBTAddr)
	if _, err := DecodeGetBTAddr([]byte{1}); !errors.Is(err, ErrTrailing) {
		t.Fatal(err)
	}
}
