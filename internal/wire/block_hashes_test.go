package wire

import (
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
)

func blockHashesSamples() []msgSample {
	return []msgSample{
		{name: "BLOCK_HASHES three ancestors", m: &BlockHashes{Hashes: msgHashes("ancestor", 3)}},
		{name: "BLOCK_HASHES unknown hash", m: &BlockHashes{}},
		{name: "BLOCK_HASHES 2,048", m: &BlockHashes{Hashes: msgHashes("ancestor", MaxBlockHashes)}, noVector: true},
	}
}

func blockHashesRejects() []msgReject {
	return []msgReject{
		{"BLOCK_HASHES COUNT 2,049", TypeBlockHashes, mvi(MaxBlockHashes + 1), ErrLimit, false},
		{"BLOCK_HASHES COUNT 2 with one hash", TypeBlockHashes, mcat(mvi(2), make([]byte, chainhash.HashSize)), ErrShort, false},
		{"BLOCK_HASHES half a hash", TypeBlockHashes, mcat(mvi(1), make([]byte, 16)), ErrShort, false},
	}
}

func TestBlockHashes(t *testing.T) { testMessageType(t, TypeBlockHashes) }
