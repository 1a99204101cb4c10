package store

import (
	"bytes"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/blockgen"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

func TestOpenCreatesGenesis(t *testing.T) {
	for _, params := range []*chaincfg.Params{&chaincfg.MainNetParams, regtest, &chaincfg.TestNet3Params} {
		t.Run(params.Name, func(t *testing.T) {
			dir := t.TempDir()
			s := openTest(t, dir, params, Options{})
			tip, height, work := s.Tip()
			if tip != *params.GenesisHash || height != 0 {
				t.Fatalf("tip %v at %d, want genesis %v at 0", tip, height, params.GenesisHash)
			}
			if want := workOf(params.GenesisBlock.Header.Bits); work.Cmp(want) != 0 {
				t.Fatalf("work %v, want %v", work, want)
			}
			raw, err := s.RawBlock(tip)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(raw, serialize(t, params.GenesisBlock)) {
				t.Fatal("stored genesis block differs")
			}
			if anc := s.Ancestors(tip, 10); anc == nil || len(anc) != 0 {
				t.Fatalf("genesis ancestors %v, want an empty list", anc)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			// The record is a Core-format record.
			f, err := os.ReadFile(filepath.Join(dir, "blocks", "blk00000.dat"))
			if err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			writeRecord(&want, uint32(params.Net), raw)
			if !bytes.Equal(f, want.Bytes()) {
				t.Fatal("blk00000.dat is not one genesis record")
			}
			s = openTest(t, dir, params, Options{})
			if tip2, h2, _ := s.Tip(); tip2 != tip || h2 != 0 {
				t.Fatalf("reopened tip %v at %d", tip2, h2)
			}
		})
	}
}

func TestPutAndRead(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, regtest, Options{})
	blks := chain(t, *regtest.GenesisHash, 0, 30, 1, 5)
	putAll(t, s, blks)
	check := func(s *Store) {
		t.Helper()
		tip, height, work := s.Tip()
		if tip != blks[29].BlockHash() || height != 30 {
			t.Fatalf("tip %v at %d", tip, height)
		}
		want := new(big.Int).Mul(workOf(blockgen.RegtestBits), big.NewInt(31))
		if work.Cmp(want) != 0 {
			t.Fatalf("work %v, want %v", work, want)
		}
		for i, blk := range blks {
			hash := blk.BlockHash()
			if !s.Has(hash) {
				t.Fatalf("block %d missing", i)
			}
			got, err := s.Block(hash)
			if err != nil {
				t.Fatal(err)
			}
			if got.BlockHash() != hash || len(got.Transactions) != 5 {
				t.Fatalf("block %d read back wrong", i)
			}
			raw, err := s.RawBlock(hash)
			if err != nil || !bytes.Equal(raw, serialize(t, blk)) {
				t.Fatalf("raw block %d: %v", i, err)
			}
			if h, err := s.Height(hash); err != nil || h != int32(i+1) {
				t.Fatalf("height of block %d = %d, %v", i, h, err)
			}
			if hdr, err := s.Header(hash); err != nil || hdr.BlockHash() != hash {
				t.Fatalf("header of block %d: %v", i, err)
			}
			if at, err := s.HashAtHeight(int32(i + 1)); err != nil || at != hash {
				t.Fatalf("hash at %d = %v, %v", i+1, at, err)
			}
			info, err := s.Info(hash)
			if err != nil || !info.MainChain || !info.HasData || info.Height != int32(i+1) {
				t.Fatalf("info of block %d: %+v, %v", i, info, err)
			}
		}
		checkBestChain(t, s)

		// Ancestors: the parent first, youngest to oldest.
		anc := s.Ancestors(blks[29].BlockHash(), 10)
		if len(anc) != 10 {
			t.Fatalf("%d ancestors", len(anc))
		}
		for i, h := range anc {
			if h != blks[28-i].BlockHash() {
				t.Fatalf("ancestor %d is %v", i, h)
			}
		}
		anc = s.Ancestors(blks[2].BlockHash(), 100)
		if len(anc) != 3 || anc[2] != *regtest.GenesisHash {
			t.Fatalf("ancestors of height 3: %v", anc)
		}
		// Headers: the block's own header first.
		hdrs := s.Headers(blks[29].BlockHash(), 7)
		if len(hdrs) != 7 {
			t.Fatalf("%d headers", len(hdrs))
		}
		checkLinked(t, blks[29].BlockHash(), hdrs)
		if hdrs := s.Headers(blks[1].BlockHash(), 100); len(hdrs) != 3 {
			t.Fatalf("%d headers from height 2", len(hdrs))
		}
		var unknown chainhash.Hash
		unknown[0] = 1
		if s.Ancestors(unknown, 5) != nil || s.Headers(unknown, 5) != nil || s.Has(unknown) {
			t.Fatal("unknown hash answered")
		}
		if len(s.Ancestors(blks[5].BlockHash(), 0)) != 0 || len(s.Headers(blks[5].BlockHash(), 0)) != 0 {
			t.Fatal("max 0 answered")
		}
		if _, err := s.Block(unknown); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown block: %v", err)
		}
		if _, err := s.HashAtHeight(31); !errors.Is(err, ErrNotFound) {
			t.Fatalf("height above tip: %v", err)
		}
	}
	check(s)

	// Storing a block again adds nothing.
	if added, err := s.Put(blks[10]); err != nil || added {
		t.Fatalf("second put: %v, %v", added, err)
	}
	if n, err := s.PutBatch(blks[:5]); err != nil || n != 0 {
		t.Fatalf("second batch: %v, %v", n, err)
	}
	if added, err := s.Put(regtest.GenesisBlock); err != nil || added {
		t.Fatalf("genesis put: %v, %v", added, err)
	}
	s.Close()
	check(openTest(t, dir, regtest, Options{}))
}

func TestPutBatch(t *testing.T) {
	s := openTest(t, t.TempDir(), regtest, Options{})
	blks := chain(t, *regtest.GenesisHash, 0, 50, 2, 3)
	n, err := s.PutBatch(blks[:20])
	if err != nil || n != 20 {
		t.Fatalf("batch: %d, %v", n, err)
	}
	// A batch with an orphan stores nothing, not even its good blocks.
	bad := append([]*btcwire.MsgBlock{}, blks[20:30]...)
	bad = append(bad, blks[31])
	if _, err := s.PutBatch(bad); !errors.Is(err, ErrOrphan) {
		t.Fatalf("batch with orphan: %v", err)
	}
	if s.Has(blks[20].BlockHash()) {
		t.Fatal("failed batch stored a block")
	}
	if _, h, _ := s.Tip(); h != 20 {
		t.Fatalf("tip height %d after a failed batch", h)
	}
	// A batch with a bad block stores nothing either.
	broken := *blks[25]
	broken.Header.MerkleRoot[0] ^= 1
	if _, err := s.PutBatch([]*btcwire.MsgBlock{blks[20], &broken}); !errors.Is(err, ErrBadBlock) {
		t.Fatalf("batch with a bad block: %v", err)
	}
	// Known blocks in a batch are skipped.
	if n, err := s.PutBatch(blks[10:50]); err != nil || n != 30 {
		t.Fatalf("overlapping batch: %d, %v", n, err)
	}
	checkBestChain(t, s)
	if tip, h, _ := s.Tip(); tip != blks[49].BlockHash() || h != 50 {
		t.Fatalf("tip %v at %d", tip, h)
	}
}

func TestPutRejects(t *testing.T) {
	s := openTest(t, t.TempDir(), regtest, Options{})
	good := chain(t, *regtest.GenesisHash, 0, 1, 3, 3)[0]

	orphan := chain(t, chainhash.Hash{1}, 0, 1, 4, 1)[0]
	highHash := *good
	for {
		highHash.Header.Nonce++
		if h := highHash.Header.BlockHash(); h[31] >= 0x80 {
			break
		}
	}
	highTarget := *good
	highTarget.Header.Bits = 0x2100ffff
	badRoot := *good
	badRoot.Transactions = good.Transactions[:2]
	blockgen.Solve(&badRoot.Header)
	mutated := *good
	mutated.Transactions = append(append([]*btcwire.MsgTx{}, good.Transactions...), good.Transactions[2])
	empty := *good
	empty.Transactions = nil
	huge := bigBlock(t, *regtest.GenesisHash)

	tests := []struct {
		name string
		blk  *btcwire.MsgBlock
		want error
	}{
		{"orphan", orphan, ErrOrphan},
		{"hash above target", &highHash, ErrBadBlock},
		{"target above limit", &highTarget, ErrBadBlock},
		{"merkle root", &badRoot, ErrBadBlock},
		{"mutated", &mutated, ErrBadBlock},
		{"no transactions", &empty, ErrBadBlock},
		{"oversize", huge, ErrBadBlock},
		{"nil", nil, ErrBadBlock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			added, err := s.Put(tt.blk)
			if !errors.Is(err, tt.want) || added {
				t.Fatalf("got %v, %v; want %v", added, err, tt.want)
			}
		})
	}
	if _, h, _ := s.Tip(); h != 0 {
		t.Fatalf("tip moved to %d", h)
	}
	// The mutated block has the good block's hash: the good one is still
	// welcome.
	if added, err := s.Put(good); err != nil || !added {
		t.Fatalf("good block after its mutated twin: %v, %v", added, err)
	}
}

// bigBlock makes a valid regtest block of more than MaxBlockBytes.
func bigBlock(t *testing.T, prev chainhash.Hash) *btcwire.MsgBlock {
	t.Helper()
	tx := btcwire.NewMsgTx(1)
	tx.AddTxIn(btcwire.NewTxIn(btcwire.NewOutPoint(&chainhash.Hash{}, btcwire.MaxPrevOutIndex), []byte{1, 2}, nil))
	tx.AddTxOut(btcwire.NewTxOut(1, make([]byte, MaxBlockBytes)))
	blk := &btcwire.MsgBlock{
		Header: btcwire.BlockHeader{
			Version: 1, PrevBlock: prev, MerkleRoot: tx.TxHash(),
			Timestamp: time.Unix(1700000000, 0), Bits: blockgen.RegtestBits,
		},
		Transactions: []*btcwire.MsgTx{tx},
	}
	if err := blockgen.Solve(&blk.Header); err != nil {
		t.Fatal(err)
	}
	return blk
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, regtest, Options{})

	if _, err := OpenWith(dir, regtest, Options{Logger: quiet, LockTimeout: 50 * time.Millisecond}); !errors.Is(err, ErrInUse) {
		t.Fatalf("second open: %v", err)
	}
	s.Close()
	if _, err := OpenWith(dir, &chaincfg.MainNetParams, Options{Logger: quiet}); !errors.Is(err, ErrWrongNetwork) {
		t.Fatalf("open as mainnet: %v", err)
	}
	if _, err := OpenWith(dir, regtest, Options{MaxFileSize: -1}); err == nil {
		t.Fatal("negative MaxFileSize accepted")
	}
	if _, err := Open(dir, nil); err == nil {
		t.Fatal("nil params accepted")
	}
}

func TestClosed(t *testing.T) {
	s := openTest(t, t.TempDir(), regtest, Options{})
	blk := chain(t, *regtest.GenesisHash, 0, 1, 5, 1)[0]
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := s.Put(blk); !errors.Is(err, ErrClosed) {
		t.Fatalf("put: %v", err)
	}
	if _, err := s.Block(*regtest.GenesisHash); !errors.Is(err, ErrClosed) {
		t.Fatalf("block: %v", err)
	}
	if _, err := s.HashAtHeight(0); !errors.Is(err, ErrClosed) {
		t.Fatalf("hash at height: %v", err)
	}
	if s.Has(*regtest.GenesisHash) {
		t.Fatal("closed store has the genesis block")
	}
	if tip, _, _ := s.Tip(); tip != *regtest.GenesisHash {
		t.Fatal("tip forgotten after close")
	}
}

func TestErrorKinds(t *testing.T) {
	kinds := []error{ErrNotFound, ErrOrphan, ErrBadBlock, ErrWrongNetwork, ErrCorrupt, ErrClosed, ErrInUse, ErrBadRecord, ErrOrphanLimit}
	for i, a := range kinds {
		for j, b := range kinds {
			if errors.Is(a, b) != (i == j) {
				t.Fatalf("errors.Is(%v, %v) = %v", a, b, i != j)
			}
		}
	}
}

func TestFileRolling(t *testing.T) {
	dir := t.TempDir()
	const maxSize = 64 << 10
	s := openTest(t, dir, regtest, Options{MaxFileSize: maxSize})
	blks := chain(t, *regtest.GenesisHash, 0, 60, 6, 20) // about 8 KB each
	putAll(t, s, blks[:30])
	if _, err := s.PutBatch(blks[30:]); err != nil {
		t.Fatal(err)
	}
	s.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "blocks", "blk*.dat"))
	if len(files) < 5 {
		t.Fatalf("%d block files, want several", len(files))
	}
	for _, f := range files {
		if fi, _ := os.Stat(f); fi.Size() > maxSize {
			t.Fatalf("%s has %d bytes", f, fi.Size())
		}
	}
	s = openTest(t, dir, regtest, Options{MaxFileSize: maxSize})
	for i, blk := range blks {
		if got, err := s.Block(blk.BlockHash()); err != nil || got.BlockHash() != blk.BlockHash() {
			t.Fatalf("block %d: %v", i, err)
		}
	}
	checkBestChain(t, s)
}

func TestTxids(t *testing.T) {
	blk := chain(t, *regtest.GenesisHash, 0, 1, 50, 6)[0]
	// Give two transactions witness data: their ids must not cover it.
	for _, i := range []int{2, 4} {
		blk.Transactions[i].TxIn[0].Witness = btcwire.TxWitness{{1, 2, 3}, bytes.Repeat([]byte{7}, 70)}
	}
	raw := serialize(t, blk)
	ids := txids(blk, raw)
	for i, tx := range blk.Transactions {
		if ids[i] != tx.TxHash() {
			t.Fatalf("txid %d: %v, want %v", i, ids[i], tx.TxHash())
		}
	}
	// Witness data changes neither the ids nor the merkle root, so the
	// block is still good.
	s := openTest(t, t.TempDir(), regtest, Options{})
	if added, err := s.Put(blk); err != nil || !added {
		t.Fatalf("block with witness data: %v, %v", added, err)
	}
	got, err := s.Block(blk.BlockHash())
	if err != nil || !got.Transactions[2].HasWitness() {
		t.Fatalf("witness data lost: %v", err)
	}
}
