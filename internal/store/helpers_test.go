package store

import (
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"math/big"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/blocktorrent/blocktorrent/internal/blockgen"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// regtest is the network most tests use.
var regtest = &chaincfg.RegressionNetParams

// quiet is a logger that drops everything.
var quiet = slog.New(slog.DiscardHandler)

// openTest opens a store in dir and closes it when the test ends.
func openTest(t testing.TB, dir string, params *chaincfg.Params, opts Options) *Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	s, err := OpenWith(dir, params, opts)
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// chain makes n valid regtest blocks on top of prev (at height prevHeight).
// seed makes different calls give different blocks; txs is the number of
// transactions per block (at least 1).
func chain(t testing.TB, prev chainhash.Hash, prevHeight int32, n int, seed uint64, txs int) []*btcwire.MsgBlock {
	t.Helper()
	out := make([]*btcwire.MsgBlock, 0, n)
	for i := range n {
		blk, err := blockgen.Block(blockgen.Config{
			Txs:    txs,
			Seed:   seed*1_000_003 + uint64(i),
			Prev:   prev,
			Height: prevHeight + 1 + int32(i),
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, blk)
		prev = blk.BlockHash()
	}
	return out
}

// putAll stores blks one Put each.
func putAll(t testing.TB, s *Store, blks []*btcwire.MsgBlock) {
	t.Helper()
	for i, blk := range blks {
		added, err := s.Put(blk)
		if err != nil {
			t.Fatalf("put block %d: %v", i, err)
		}
		if !added {
			t.Fatalf("put block %d: not added", i)
		}
	}
}

// serialize returns blk's bytes.
func serialize(t testing.TB, blk *btcwire.MsgBlock) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := blk.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeRecord writes one blk*.dat record.
func writeRecord(w io.Writer, magic uint32, raw []byte) {
	var prefix [8]byte
	binary.LittleEndian.PutUint32(prefix[0:], magic)
	binary.LittleEndian.PutUint32(prefix[4:], uint32(len(raw)))
	w.Write(prefix[:])
	w.Write(raw)
}

// mainnetFile returns the path of btcd's mainnet blocks 0 to 14131.
func mainnetFile(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/btcsuite/btcd").Output()
	if err != nil {
		t.Fatalf("locating github.com/btcsuite/btcd: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "blockchain", "testdata", "blk_0_to_14131.dat")
}

// checkLinked checks that hdrs start at hash and that each header's parent
// is the next one.
func checkLinked(t testing.TB, hash chainhash.Hash, hdrs []btcwire.BlockHeader) {
	t.Helper()
	for i := range hdrs {
		if got := hdrs[i].BlockHash(); got != hash {
			t.Fatalf("header %d hashes to %v, want %v", i, got, hash)
		}
		hash = hdrs[i].PrevBlock
	}
}

// checkBestChain checks that the height index and the tip agree: walking
// the tip's headers down to the genesis block visits HashAtHeight of every
// height.
func checkBestChain(t testing.TB, s *Store) {
	t.Helper()
	tip, height, _ := s.Tip()
	hdrs := s.Headers(tip, int(height)+1)
	if len(hdrs) != int(height)+1 {
		t.Fatalf("tip %v at height %d has %d headers down to genesis", tip, height, len(hdrs))
	}
	checkLinked(t, tip, hdrs)
	for i, h := range hdrs {
		want := h.BlockHash()
		got, err := s.HashAtHeight(height - int32(i))
		if err != nil || got != want {
			t.Fatalf("height %d: index has %v (%v), best chain has %v", height-int32(i), got, err, want)
		}
	}
	if _, err := s.HashAtHeight(height + 1); err == nil {
		t.Fatalf("height %d above the tip is indexed", height+1)
	}
	if hdrs[len(hdrs)-1].BlockHash() != *s.Params().GenesisHash {
		t.Fatalf("best chain does not end at the genesis block")
	}
}

func bigInt(v int64) *big.Int { return big.NewInt(v) }
