package store

import (
	"errors"
	"testing"

	"github.com/blocktorrent/blocktorrent/internal/blockgen"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

func TestReorg(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, regtest, Options{})
	gen := *regtest.GenesisHash
	a := chain(t, gen, 0, 5, 10, 2)              // heights 1..5
	b := chain(t, a[1].BlockHash(), 2, 4, 11, 2) // heights 3..6, forks after a[1]
	putAll(t, s, a)

	// A branch with less or equal work does not move the tip.
	putAll(t, s, b[:3])
	if tip, h, _ := s.Tip(); tip != a[4].BlockHash() || h != 5 {
		t.Fatalf("tip %v at %d after an equal-work branch", tip, h)
	}
	if s.InMainChain(b[2].BlockHash()) || !s.InMainChain(a[4].BlockHash()) {
		t.Fatal("side branch in the main chain")
	}
	if h, err := s.Height(b[2].BlockHash()); err != nil || h != 5 {
		t.Fatalf("side branch block height %d, %v", h, err)
	}

	// One more block makes the branch the best chain.
	putAll(t, s, b[3:])
	if tip, h, _ := s.Tip(); tip != b[3].BlockHash() || h != 6 {
		t.Fatalf("tip %v at %d after the reorg", tip, h)
	}
	checkBestChain(t, s)
	for _, blk := range a[2:] {
		if s.InMainChain(blk.BlockHash()) {
			t.Fatal("disconnected block still in the main chain")
		}
		if !s.Has(blk.BlockHash()) {
			t.Fatal("disconnected block lost")
		}
	}
	anc := s.Ancestors(b[3].BlockHash(), 10)
	if len(anc) != 6 || anc[3] != a[1].BlockHash() || anc[5] != gen {
		t.Fatalf("ancestors across the fork: %v", anc)
	}

	// A shorter branch with more work wins and the heights above it go.
	hard, err := blockgen.Block(blockgen.Config{Txs: 1, Seed: 12, Prev: a[0].BlockHash(), Height: 2, Bits: 0x1f00ffff})
	if err != nil {
		t.Fatal(err)
	}
	putAll(t, s, []*btcwire.MsgBlock{hard})
	if tip, h, _ := s.Tip(); tip != hard.BlockHash() || h != 2 {
		t.Fatalf("tip %v at %d after the heavy block", tip, h)
	}
	if _, err := s.HashAtHeight(3); !errors.Is(err, ErrNotFound) {
		t.Fatalf("height 3 above the new tip: %v", err)
	}
	checkBestChain(t, s)

	s.Close()
	s = openTest(t, dir, regtest, Options{})
	if tip, h, _ := s.Tip(); tip != hard.BlockHash() || h != 2 {
		t.Fatalf("reopened tip %v at %d", tip, h)
	}
	checkBestChain(t, s)

	// An easy block on the old branch is not enough; a heavy one brings
	// the old branch back, heights 3 to 7 included.
	putAll(t, s, chain(t, b[3].BlockHash(), 6, 1, 13, 1))
	if tip, _, _ := s.Tip(); tip != hard.BlockHash() {
		t.Fatal("a lighter branch took the tip")
	}
	back, err := blockgen.Block(blockgen.Config{Txs: 1, Seed: 14, Prev: b[3].BlockHash(), Height: 7, Bits: 0x1f00ffff})
	if err != nil {
		t.Fatal(err)
	}
	putAll(t, s, []*btcwire.MsgBlock{back})
	if tip, h, _ := s.Tip(); tip != back.BlockHash() || h != 7 {
		t.Fatalf("tip %v at %d after the second heavy block", tip, h)
	}
	checkBestChain(t, s)
	if !s.InMainChain(b[0].BlockHash()) || s.InMainChain(hard.BlockHash()) {
		t.Fatal("main chain membership wrong after the second reorg")
	}
}
