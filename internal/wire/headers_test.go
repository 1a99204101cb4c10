package wire

import (
	"testing"

	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// msgHeaderChain returns n linked headers, youngest first, ending at genesis.
func msgHeaderChain(n int) []btcwire.BlockHeader {
	out := make([]btcwire.BlockHeader, n)
	out[n-1] = msgGenesisHeader()
	for i := n - 2; i >= 0; i-- {
		h := out[i+1]
		h.PrevBlock = out[i+1].BlockHash()
		h.MerkleRoot = msgHash(h.PrevBlock.String())
		h.Timestamp = h.Timestamp.Add(600e9)
		h.Nonce++
		out[i] = h
	}
	return out
}

func headersSamples() []msgSample {
	return []msgSample{
		{name: "HEADERS two, ending at genesis", m: &Headers{Headers: msgHeaderChain(2)}},
		{name: "HEADERS none", m: &Headers{}},
		{name: "HEADERS 2,000", m: &Headers{Headers: msgHeaderChain(MaxHeaders)}, noVector: true},
	}
}

func headersRejects() []msgReject {
	return []msgReject{
		{"HEADERS COUNT 2,001", TypeHeaders, mvi(MaxHeaders + 1), ErrLimit, false},
		{"HEADERS COUNT 2 with one header", TypeHeaders, mcat(mvi(2), make([]byte, 80)), ErrShort, false},
		{"HEADERS 79-byte header", TypeHeaders, mcat(mvi(1), make([]byte, 79)), ErrShort, false},
	}
}

func TestHeaders(t *testing.T) {
	testMessageType(t, TypeHeaders)
	c := msgHeaderChain(3)
	if c[0].PrevBlock != c[1].BlockHash() || c[1].PrevBlock != c[2].BlockHash() {
		t.Fatal("chain not linked")
	}
}
