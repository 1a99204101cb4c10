package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"go.etcd.io/bbolt"
)

// entryOf returns the index entry of hash.
func entryOf(t *testing.T, s *Store, hash chainhash.Hash) entry {
	t.Helper()
	var e entry
	err := s.view(func(ix index) error {
		var err error
		e, err = lookup(ix, &hash)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestRecoverUnindexedTail(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, regtest, Options{})
	blks := chain(t, *regtest.GenesisHash, 0, 20, 20, 4)
	putAll(t, s, blks[:10])
	s.Close()

	head := filepath.Join(dir, "blocks", "blk00000.dat")
	size := fileSize(t, head)
	// What a crash between the block write and the index commit leaves:
	// a whole record and half of another, plus a file started by a roll.
	f, err := os.OpenFile(head, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	raw := serialize(t, blks[10])
	writeRecord(f, uint32(regtest.Net), raw)
	writeRecord(f, uint32(regtest.Net), serialize(t, blks[11])[:100])
	f.Close()
	next := filepath.Join(dir, "blocks", "blk00001.dat")
	if err := os.WriteFile(next, raw, 0o644); err != nil {
		t.Fatal(err)
	}

	s = openTest(t, dir, regtest, Options{})
	if got := fileSize(t, head); got != size {
		t.Fatalf("head file %d bytes after recovery, want %d", got, size)
	}
	if _, err := os.Stat(next); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("unindexed next file survived: %v", err)
	}
	if s.Has(blks[10].BlockHash()) {
		t.Fatal("unindexed block appeared")
	}
	putAll(t, s, blks[10:])
	s.Close()
	s = openTest(t, dir, regtest, Options{})
	for i, blk := range blks {
		if _, err := s.Block(blk.BlockHash()); err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
	}
	checkBestChain(t, s)
}

func TestRecoverNewStoreCrash(t *testing.T) {
	// A crash before the genesis block's index commit leaves a block file
	// and an index without a tip.
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "blocks"), 0o755)
	os.WriteFile(filepath.Join(dir, "blocks", "blk00000.dat"), []byte("half a genesis record"), 0o644)
	db, err := bbolt.Open(filepath.Join(dir, "index.db"), 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	s := openTest(t, dir, regtest, Options{})
	if _, err := s.Block(*regtest.GenesisHash); err != nil {
		t.Fatal(err)
	}
	if got := fileSize(t, filepath.Join(dir, "blocks", "blk00000.dat")); got != int64(8+regtest.GenesisBlock.SerializeSize()) {
		t.Fatalf("blk00000.dat has %d bytes", got)
	}
}

func TestRecoverShortFiles(t *testing.T) {
	dir := t.TempDir()
	opts := Options{MaxFileSize: 64 << 10}
	s := openTest(t, dir, regtest, opts)
	blks := chain(t, *regtest.GenesisHash, 0, 60, 21, 20)
	putAll(t, s, blks)
	tip, height, _ := s.Tip()
	files := map[uint32]bool{}
	for _, blk := range blks {
		files[entryOf(t, s, blk.BlockHash()).file] = true
	}
	if len(files) < 5 {
		t.Fatalf("blocks in %d files, want several", len(files))
	}
	last := uint32(len(files) - 1)
	s.Close()

	// Damage from outside: file 2 loses its second half, file 3 goes.
	p2 := filepath.Join(dir, "blocks", blockFileName(2))
	os.Truncate(p2, fileSize(t, p2)/2)
	os.Remove(filepath.Join(dir, "blocks", blockFileName(3)))

	s = openTest(t, dir, regtest, opts)
	if tip2, h2, _ := s.Tip(); tip2 != tip || h2 != height {
		t.Fatal("tip changed")
	}
	checkBestChain(t, s) // headers stay in the index
	var lost []int
	for i, blk := range blks {
		hash := blk.BlockHash()
		info, err := s.Info(hash)
		if err != nil {
			t.Fatal(err)
		}
		_, rerr := s.Block(hash)
		if info.HasData != s.Has(hash) || info.HasData != (rerr == nil) {
			t.Fatalf("block %d: info %v, has %v, read %v", i, info.HasData, s.Has(hash), rerr)
		}
		if !info.HasData {
			if !errors.Is(rerr, ErrNotFound) {
				t.Fatalf("block %d without data: %v", i, rerr)
			}
			lost = append(lost, i)
		}
	}
	if len(lost) < 2 {
		t.Fatalf("%d blocks lost, want those of one and a half files", len(lost))
	}
	// Putting them again stores them again.
	for _, i := range lost {
		if added, err := s.Put(blks[i]); err != nil || !added {
			t.Fatalf("re-put block %d: %v, %v", i, added, err)
		}
	}
	s.Close()
	s = openTest(t, dir, regtest, opts)
	for i, blk := range blks {
		if _, err := s.Block(blk.BlockHash()); err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
	}

	// When the head file is damaged, writing moves on to a new file.
	s.Close()
	headNum := last
	for n := last; ; n++ {
		if _, err := os.Stat(filepath.Join(dir, "blocks", blockFileName(n+1))); err != nil {
			headNum = n
			break
		}
	}
	os.Truncate(filepath.Join(dir, "blocks", blockFileName(headNum)), 10)
	s = openTest(t, dir, regtest, opts)
	more := chain(t, tip, height, 1, 22, 1)
	putAll(t, s, more)
	if e := entryOf(t, s, more[0].BlockHash()); e.file != headNum+1 || e.offset != recordPrefix {
		t.Fatalf("new block went to file %d offset %d, want file %d offset 8", e.file, e.offset, headNum+1)
	}
}

func TestReadChecksRecord(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, regtest, Options{})
	blks := chain(t, *regtest.GenesisHash, 0, 3, 23, 2)
	putAll(t, s, blks)
	e := entryOf(t, s, blks[1].BlockHash())
	s.Close()
	p := filepath.Join(dir, "blocks", blockFileName(e.file))
	data, _ := os.ReadFile(p)
	data[e.offset+10] ^= 0xff // inside the header
	os.WriteFile(p, data, 0o644)
	s = openTest(t, dir, regtest, Options{})
	if _, err := s.Block(blks[1].BlockHash()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged record: %v", err)
	}
	if raw, err := s.RawBlock(blks[2].BlockHash()); err != nil || !bytes.Equal(raw, serialize(t, blks[2])) {
		t.Fatalf("undamaged record: %v", err)
	}
}
