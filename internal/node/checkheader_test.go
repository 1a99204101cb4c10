package node

import (
	"errors"
	"log/slog"
	"testing"

	"github.com/blocktorrent/blocktorrent/internal/pow"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// TestCheckHeader checks the chain context rule for peers' OPEN_JOB
// headers: on mainnet a header may not be more than four times easier than
// its parent (or, with an unknown parent, the best block); regtest allows
// minimum-difficulty blocks and skips the rule.
func TestCheckHeader(t *testing.T) {
	const modern, minimum = 0x1703a30c, 0x1d00ffff
	newNode := func(network string) *Node {
		cfg := DefaultConfig()
		cfg.Network = network
		cfg.Log = slog.New(slog.DiscardHandler)
		n, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	main := newNode("mainnet")
	// A block at today's difficulty on top of genesis (its proof of work
	// is not checked by the chain view; only its bits matter here).
	hard := btcwire.BlockHeader{PrevBlock: *chaincfg.MainNetParams.GenesisHash, Bits: modern}
	if !main.chain.add(&hard) {
		t.Fatal("the hard block did not join the chain")
	}
	child := func(prev chainhash.Hash, bits uint32) *btcwire.BlockHeader {
		return &btcwire.BlockHeader{PrevBlock: prev, Bits: bits}
	}
	tests := []struct {
		name string
		n    *Node
		h    *btcwire.BlockHeader
		want error
	}{
		{"same difficulty as the parent", main, child(hard.BlockHash(), modern), nil},
		{"minimum difficulty on a hard parent", main, child(hard.BlockHash(), minimum), pow.ErrTooEasy},
		{"minimum difficulty, unknown parent, hard best block", main, child(chainhash.Hash{1}, minimum), pow.ErrTooEasy},
		{"minimum difficulty on genesis", main, child(*chaincfg.MainNetParams.GenesisHash, minimum), nil},
		{"regtest skips the rule", newNode("regtest"), child(chainhash.Hash{1}, 0x207fffff), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.n.checkHeader(tt.h)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}
