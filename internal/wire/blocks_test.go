package wire

import (
	"errors"
	"runtime"
	"testing"
)

func blocksSamples() []msgSample {
	big := make([]byte, MaxTxSize)
	for i := range big {
		big[i] = byte(i)
	}
	return []msgSample{
		{name: "BLOCKS genesis", m: &Blocks{Blocks: [][]byte{msgGenesisBlock()}}},
		{name: "BLOCKS none", m: &Blocks{}},
		{name: "BLOCKS genesis twice", m: &Blocks{Blocks: [][]byte{msgGenesisBlock(), msgGenesisBlock()}}, noVector: true},
		{name: "BLOCKS largest block and a small one", m: &Blocks{Blocks: [][]byte{big, {1}}}, noVector: true},
	}
}

func blocksRejects() []msgReject {
	return []msgReject{
		{"BLOCKS COUNT 129", TypeBlocks, mcat(mvi(MaxBlocksPerRequest+1), make([]byte, 129)), ErrLimit, false},
		{"BLOCKS LEN 4,000,001", TypeBlocks, mcat(mvi(1), mvi(MaxTxSize+1)), ErrLimit, false},
		{"BLOCKS LEN beyond the payload", TypeBlocks, mcat(mvi(1), mvi(300), make([]byte, 299)), ErrShort, false},
		{"BLOCKS COUNT 2 with one block", TypeBlocks, mcat(mvi(2), mvi(1), []byte{1}), ErrShort, false},
	}
}

func TestBlocks(t *testing.T) {
	testMessageType(t, TypeBlocks)
	// A count that the payload cannot hold allocates nothing.
	p := mcat(mvi(MaxBlocksPerRequest), mvi(MaxTxSize))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 100 {
		if _, err := DecodeBlocks(p); !errors.Is(err, ErrShort) {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Fatalf("100 rejected decodes allocated %d bytes", d)
	}
}
