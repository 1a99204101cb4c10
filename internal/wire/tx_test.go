package wire

import (
	"bytes"
	"testing"
)

func txSamples() []msgSample {
	return []msgSample{
		{name: "TX genesis coinbase", m: &Tx{Tx: msgGenesisCoinbase()}},
		{name: "TX empty", m: &Tx{}},
		{name: "TX of 4,000,000 bytes", m: &Tx{Tx: bytes.Repeat([]byte{0x5a}, MaxTxSize)}, noVector: true},
	}
}

func txRejects() []msgReject {
	return []msgReject{
		{"TX LEN 4,000,001", TypeTx, mvi(MaxTxSize + 1), ErrLimit, false},
		{"TX LEN beyond the payload", TypeTx, mcat(mvi(10), []byte{1, 2, 3}), ErrShort, false},
		{"TX non-canonical LEN", TypeTx, mcat(mhx("fd0300"), []byte{1, 2, 3}), ErrNonCanonical, false},
	}
}

func TestTx(t *testing.T) { testMessageType(t, TypeTx) }
