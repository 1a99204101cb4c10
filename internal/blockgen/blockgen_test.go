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

// TestWitnessBlock checks that Witness makes blocks whose share of witness
// transactions is about right, whose commitment validates and which pass
// btcd's sanity checks, and that a wrong witness breaks the commitment
// while leaving every txid (and so the merkle root) unchanged.
func TestWitnessBlock(t *testing.T) {
	for _, share := range []float64{0.3, 1} {
		blk, err := Block(Config{Txs: 500, Seed: 3, Witness: share})
		if err != nil {
			t.Fatal(err)
		}
		with := 0
		for _, tx := range blk.Transactions[1:] {
			if tx.HasWitness() {
				with++
			}
		}
		if lo, hi := int(share*499*0.8), int(min(499, share*499*1.2+1)); with < lo || with > hi {
			t.Errorf("share %v: %d of 499 transactions carry a witness, want %d..%d", share, with, lo, hi)
		}
		b := btcutil.NewBlock(blk)
		if err := blockchain.ValidateWitnessCommitment(b); err != nil {
			t.Fatalf("share %v: %v", share, err)
		}
		if err := blockchain.CheckBlockSanity(b, chaincfg.RegressionNetParams.PowLimit, blockchain.NewMedianTime()); err != nil {
			t.Fatalf("share %v: sanity: %v", share, err)
		}
		// Flip one byte of the first witness: txids stay, the commitment
		// breaks.
		for _, tx := range blk.Transactions[1:] {
			if tx.HasWitness() {
				before := tx.TxHash()
				tx.TxIn[0].Witness[0][5] ^= 1
				if tx.TxHash() != before {
					t.Fatal("a witness byte changed the txid")
				}
				break
			}
		}
		if err := blockchain.ValidateWitnessCommitment(btcutil.NewBlock(blk)); err == nil {
			t.Errorf("share %v: a wrong witness still validates", share)
		}
	}
	if _, err := Block(Config{Txs: 2, Witness: 1.5}); !errors.Is(err, ErrConfig) {
		t.Errorf("witness share 1.5: %v, want ErrConfig", err)
	}
}
