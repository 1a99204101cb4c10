package blockgen

import (
	"bytes"
	"errors"
	"testing"

	"github.com/blocktorrent/blocktorrent/internal/pow"
	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
)

func TestBlock(t *testing.T) {
	tests := []struct {
		txs, avg int
		minB     int
		maxB     int
	}{
		{1, 0, 80, 400},
		{100, 0, 25_000, 70_000},
		{10_000, 0, 3_500_000, 4_500_000},
		{2_000, 300, 450_000, 750_000},
	}
	for _, tt := range tests {
		blk, err := Block(Config{Txs: tt.txs, AvgTxBytes: tt.avg, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		if len(blk.Transactions) != tt.txs {
			t.Fatalf("%d txs, want %d", len(blk.Transactions), tt.txs)
		}
		size := blk.SerializeSize()
		if size < tt.minB || size > tt.maxB {
			t.Fatalf("%d txs: %d bytes, want %d..%d", tt.txs, size, tt.minB, tt.maxB)
		}
		// Blocks of legacy transactions over 1 MB break Bitcoin's base-size
		// rule; they are relay workloads, so btcd's sanity check applies to
		// the smaller ones only.
		if size <= 1_000_000 {
			b := btcutil.NewBlock(blk)
			if err := blockchain.CheckBlockSanity(b, chaincfg.RegressionNetParams.PowLimit, blockchain.NewMedianTime()); err != nil {
				t.Fatalf("%d txs: btcd sanity: %v", tt.txs, err)
			}
		}
		if err := pow.Check(&blk.Header, chaincfg.RegressionNetParams.PowLimit); err != nil {
			t.Fatal(err)
		}
		again, _ := Block(Config{Txs: tt.txs, AvgTxBytes: tt.avg, Seed: 7})
		var x, y bytes.Buffer
		blk.Serialize(&x)
		again.Serialize(&y)
		if !bytes.Equal(x.Bytes(), y.Bytes()) {
			t.Fatal("same config gave different blocks")
		}
	}
	if _, err := Block(Config{Txs: 0}); !errors.Is(err, ErrConfig) {
		t.Fatalf("zero txs: %v", err)
	}
}
