package wire

import "testing"

func getBlocksSamples() []msgSample {
	return []msgSample{
		{name: "GET_BLOCKS two", m: &GetBlocks{Hashes: msgHashes("wanted", 2)}},
		{name: "GET_BLOCKS 128", m: &GetBlocks{Hashes: msgHashes("wanted", MaxBlocksPerRequest)}, noVector: true},
	}
}

func getBlocksRejects() []msgReject {
	return []msgReject{
		{"GET_BLOCKS COUNT 0", TypeGetBlocks, mvi(0), ErrLimit, false},
		{"GET_BLOCKS COUNT 129", TypeGetBlocks, mcat(mvi(MaxBlocksPerRequest+1), make([]byte, 32*129)), ErrLimit, true},
		{"GET_BLOCKS COUNT 129, no hashes", TypeGetBlocks, mvi(MaxBlocksPerRequest + 1), ErrLimit, false},
	}
}

func TestGetBlocks(t *testing.T) { testMessageType(t, TypeGetBlocks) }
