package wire

import (
	"errors"
	"testing"
)

func btverackSamples() []msgSample {
	return []msgSample{{name: "BTVERACK", m: &BTVerack{}}}
}

func btverackRejects() []msgReject {
	return []msgReject{{"BTVERACK of 2 bytes", TypeBTVerack, []byte{0, 0}, ErrLimit, false}}
}

func TestBTVerack(t *testing.T) {
	testMessageType(t, TypeBTVerack)
	if _, err := DecodeBTVerack([]byte{1}); !errors.Is(err, ErrTrailing) {
		t.Fatal(err)
	}
}
