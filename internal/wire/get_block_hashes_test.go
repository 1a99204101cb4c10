package wire

import (
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
)

func getBlockHashesSamples() []msgSample {
	return []msgSample{
		{name: "GET_BLOCK_HASHES 2,048 before a tip", m: &GetBlockHashes{Hash: msgHash("tip"), MaxBlocks: MaxBlockHashes}},
		{name: "GET_BLOCK_HASHES one before genesis", m: &GetBlockHashes{Hash: *chaincfg.MainNetParams.GenesisHash, MaxBlocks: 1}},
	}
}

func getBlockHashesRejects() []msgReject {
	h := msgHash("tip")
	return []msgReject{
		{"GET_BLOCK_HASHES MAX_BLOCKS 0", TypeGetBlockHashes, mcat(h[:], mvi(0)), ErrLimit, false},
		{"GET_BLOCK_HASHES MAX_BLOCKS 2,049", TypeGetBlockHashes, mcat(h[:], mvi(MaxBlockHashes+1)), ErrLimit, false},
		{"GET_BLOCK_HASHES non-canonical MAX_BLOCKS", TypeGetBlockHashes, mcat(h[:], mhx("fd1000")), ErrNonCanonical, false},
		{"GET_BLOCK_HASHES no MAX_BLOCKS", TypeGetBlockHashes, h[:], ErrShort, false},
	}
}

func TestGetBlockHashes(t *testing.T) { testMessageType(t, TypeGetBlockHashes) }
