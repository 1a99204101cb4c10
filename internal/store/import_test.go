package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// lastRecordHash returns the hash of the header of the last record of a
// blk*.dat file, read without the store's code.
func lastRecordHash(t *testing.T, data []byte) (chainhash.Hash, int) {
	t.Helper()
	var last []byte
	n := 0
	for off := 0; off+8 <= len(data); {
		if data[off] == 0 {
			off++
			continue
		}
		size := int(data[off+4]) | int(data[off+5])<<8 | int(data[off+6])<<16 | int(data[off+7])<<24
		last = data[off+8 : off+8+80]
		off += 8 + size
		n++
	}
	var hdr btcwire.BlockHeader
	if err := hdr.Deserialize(bytes.NewReader(last)); err != nil {
		t.Fatal(err)
	}
	return hdr.BlockHash(), n
}

func TestImportMainnet(t *testing.T) {
	path := mainnetFile(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("btcd's mainnet test blocks: %v", err)
	}
	wantTip, records := lastRecordHash(t, data)
	if records != 14132 {
		t.Fatalf("%s has %d records, want 14132", path, records)
	}
	params := &chaincfg.MainNetParams
	dir := t.TempDir()
	s := openTest(t, dir, params, Options{})
	start := time.Now()
	var calls []int
	n, err := Import(context.Background(), s, bytes.NewReader(data), uint32(params.Net), func(n int) { calls = append(calls, n) })
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	t.Logf("imported %d blocks (%.1f MB) in %v: %.0f blocks/s", n, float64(len(data))/1e6, elapsed, float64(n)/elapsed.Seconds())
	if n != 14131 { // all but the genesis block, which Open stored
		t.Fatalf("imported %d blocks, want 14131", n)
	}
	if len(calls) == 0 || calls[len(calls)-1] != n {
		t.Fatalf("progress calls %v", calls)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i] <= calls[i-1] {
			t.Fatalf("progress not increasing: %v", calls)
		}
	}
	check := func(s *Store) {
		t.Helper()
		tip, height, work := s.Tip()
		if tip != wantTip || height != 14131 {
			t.Fatalf("tip %v at %d, want %v at 14131", tip, height, wantTip)
		}
		// Every block until 32,256 has the minimum difficulty: 2^32+2^16+1
		// hashes each.
		if want := workOf(0x1d00ffff); work.Cmp(want.Mul(want, bigInt(14132))) != 0 {
			t.Fatalf("work %v", work)
		}
		hdrs := s.Headers(tip, 2000)
		if len(hdrs) != 2000 {
			t.Fatalf("%d headers", len(hdrs))
		}
		checkLinked(t, tip, hdrs)
		anc := s.Ancestors(tip, 2048)
		if len(anc) != 2048 {
			t.Fatalf("%d ancestors", len(anc))
		}
		for i, h := range anc {
			if at, err := s.HashAtHeight(14130 - int32(i)); err != nil || at != h {
				t.Fatalf("ancestor %d is %v, height index has %v (%v)", i, h, at, err)
			}
		}
		if anc[0] != hdrs[0].PrevBlock || anc[1998] != hdrs[1999].BlockHash() {
			t.Fatal("ancestors and headers disagree")
		}
		// Headers and ancestors run down to the genesis block.
		low, _ := s.HashAtHeight(5)
		if a := s.Ancestors(low, 100); len(a) != 5 || a[4] != *params.GenesisHash {
			t.Fatalf("ancestors of height 5: %v", a)
		}
		checkLinked(t, low, s.Headers(low, 100))
		for _, h := range []int32{0, 1, 170, 9999, 14131} {
			hash, err := s.HashAtHeight(h)
			if err != nil {
				t.Fatal(err)
			}
			blk, err := s.Block(hash)
			if err != nil || blk.BlockHash() != hash {
				t.Fatalf("block at %d: %v", h, err)
			}
		}
	}
	check(s)
	s.Close()
	s = openTest(t, dir, params, Options{})
	check(s)
	// Importing again adds nothing.
	if n, err := ImportFile(context.Background(), s, path, uint32(params.Net)); err != nil || n != 0 {
		t.Fatalf("second import: %d, %v", n, err)
	}
}

// records returns blks as a blk*.dat stream.
func records(t *testing.T, blks []*btcwire.MsgBlock) [][]byte {
	out := make([][]byte, len(blks))
	for i, blk := range blks {
		var buf bytes.Buffer
		writeRecord(&buf, uint32(regtest.Net), serialize(t, blk))
		out[i] = buf.Bytes()
	}
	return out
}

func TestImportOutOfOrder(t *testing.T) {
	blks := chain(t, *regtest.GenesisHash, 0, 600, 30, 3)
	recs := records(t, blks)
	// Shuffle within windows of 200 and put zero padding between some
	// records and at the end, as in Core's files.
	rng := rand.New(rand.NewPCG(1, 2))
	for w := 0; w < len(recs); w += 200 {
		win := recs[w:min(w+200, len(recs))]
		rng.Shuffle(len(win), func(i, j int) { win[i], win[j] = win[j], win[i] })
	}
	var stream bytes.Buffer
	for i, r := range recs {
		stream.Write(r)
		if i%97 == 0 {
			stream.Write(make([]byte, 1+i%13))
		}
	}
	stream.Write(make([]byte, 12345))

	s := openTest(t, t.TempDir(), regtest, Options{})
	n, err := Import(context.Background(), s, &stream, uint32(regtest.Net), nil)
	if err != nil || n != 600 {
		t.Fatalf("imported %d, %v", n, err)
	}
	if tip, h, _ := s.Tip(); tip != blks[599].BlockHash() || h != 600 {
		t.Fatalf("tip %v at %d", tip, h)
	}
	checkBestChain(t, s)

	// Two files concatenated, each with its own padding, import as one.
	more := chain(t, blks[599].BlockHash(), 600, 20, 31, 2)
	mrecs := records(t, more)
	var f1, f2 bytes.Buffer
	for _, r := range mrecs[10:] {
		f1.Write(r)
	}
	f1.Write(make([]byte, 1000))
	for _, r := range mrecs[:10] {
		f2.Write(r)
	}
	f2.Write(make([]byte, 3))
	n, err = Import(context.Background(), s, io.MultiReader(&f1, &f2), uint32(regtest.Net), nil)
	if err != nil || n != 20 {
		t.Fatalf("multi-file import: %d, %v", n, err)
	}
	if tip, _, _ := s.Tip(); tip != more[19].BlockHash() {
		t.Fatal("multi-file import did not reach the end")
	}

	// Blocks whose parent never comes are left out without an error.
	lone := chain(t, chainhash.Hash{9}, 100, 3, 32, 1)
	var orphans bytes.Buffer
	for _, r := range records(t, lone) {
		orphans.Write(r)
	}
	if n, err := Import(context.Background(), s, &orphans, uint32(regtest.Net), nil); err != nil || n != 0 {
		t.Fatalf("orphans only: %d, %v", n, err)
	}
}

func TestImportOrphanLimit(t *testing.T) {
	blks := chain(t, *regtest.GenesisHash, 0, MaxImportOrphans+2, 33, 1)
	recs := records(t, blks)
	var stream bytes.Buffer
	for i := len(recs) - 1; i >= 0; i-- {
		stream.Write(recs[i])
	}
	s := openTest(t, t.TempDir(), regtest, Options{})
	if _, err := Import(context.Background(), s, &stream, uint32(regtest.Net), nil); !errors.Is(err, ErrOrphanLimit) {
		t.Fatalf("reversed chain: %v", err)
	}
	// One fewer fits.
	stream.Reset()
	for i := MaxImportOrphans; i >= 0; i-- {
		stream.Write(recs[i])
	}
	if n, err := Import(context.Background(), s, &stream, uint32(regtest.Net), nil); err != nil || n != MaxImportOrphans+1 {
		t.Fatalf("reversed chain within the limit: %d, %v", n, err)
	}
}

func TestImportBadStreams(t *testing.T) {
	blks := chain(t, *regtest.GenesisHash, 0, 4, 34, 2)
	recs := records(t, blks)
	good := bytes.Join(recs[:3], nil)
	magic := uint32(regtest.Net)
	withTail := func(tail []byte) []byte { return append(append([]byte{}, good...), tail...) }

	wrongMagic := bytes.Clone(recs[3])
	wrongMagic[0] ^= 1
	oversize := bytes.Clone(recs[3])
	oversize[4], oversize[5], oversize[6], oversize[7] = 0x01, 0x09, 0x3d, 0x00 // 4,000,001
	short := bytes.Clone(recs[3])
	short[4], short[5], short[6], short[7] = 79, 0, 0, 0
	extra := bytes.Clone(recs[3])
	extra[4]++ // one byte more than the block, taken from the next record
	badBlock := bytes.Clone(recs[3])
	badBlock[8+80+1+4+1+36+1+2] ^= 1 // in the coinbase script

	trailing := append(bytes.Clone(recs[3]), 0, 0, 0xf0, 1, 2, 3, 4, 5, 6, 7)

	tests := []struct {
		name    string
		stream  []byte
		want    error
		message string
	}{
		{"wrong magic", withTail(wrongMagic), ErrBadRecord, "magic"},
		{"oversize", withTail(oversize), ErrBadRecord, "more than 4000000"},
		{"too short", withTail(short), ErrBadRecord, "less than a header"},
		{"truncated", withTail(recs[3][:100]), ErrBadRecord, "unexpected EOF"},
		{"truncated prefix", withTail(recs[3][:5]), ErrBadRecord, "unexpected EOF"},
		{"length past the block", withTail(append(extra, recs[0]...)), ErrBadRecord, "after the block"},
		{"bad block", withTail(badBlock), ErrBadBlock, "merkle root"},
		{"garbage after padding", withTail(trailing), ErrBadRecord, "magic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, t.TempDir(), regtest, Options{})
			n, err := Import(context.Background(), s, bytes.NewReader(tt.stream), magic, nil)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("got %v, want %v (%q)", err, tt.want, tt.message)
			}
			// The blocks before the bad record are stored.
			if want := 3 + strings.Count(tt.name, "garbage"); n != want {
				t.Fatalf("imported %d before the bad record, want %d", n, want)
			}
		})
	}

	s := openTest(t, t.TempDir(), regtest, Options{})
	if _, err := Import(context.Background(), s, bytes.NewReader(good), 0x12345600, nil); err == nil {
		t.Fatal("magic with a zero first byte accepted")
	}
	if _, err := ImportFile(context.Background(), s, "/nonexistent/blk00000.dat", magic); err == nil {
		t.Fatal("missing file imported")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Import(ctx, s, bytes.NewReader(good), magic, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled import: %v", err)
	}
}
