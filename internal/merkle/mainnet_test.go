package merkle

import (
	"bytes"
	"compress/bzip2"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// btcdDir caches the directory of the btcd module, whose blockchain/testdata
// holds real main-network blocks.
var btcdDir struct {
	once sync.Once
	dir  string
	err  error
}

// btcdTestdata returns the path of a file in btcd's blockchain/testdata. It
// skips the test only when the go command is missing; a module or file that
// cannot be found fails it.
func btcdTestdata(t *testing.T, name string) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("go command not found: %v", err)
	}
	btcdDir.once.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/btcsuite/btcd").Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				err = fmt.Errorf("%w: %s", err, ee.Stderr)
			}
			btcdDir.err = err
			return
		}
		btcdDir.dir = strings.TrimSpace(string(out))
	})
	if btcdDir.err != nil || btcdDir.dir == "" {
		t.Fatalf("cannot locate the btcd module: %v", btcdDir.err)
	}
	return filepath.Join(btcdDir.dir, "blockchain", "testdata", name)
}

// readBlocks decodes a file of main-network blocks in the format btcd's
// tests use: each block is preceded by the network magic and its length,
// both 4-byte little-endian, and zeros may pad the end of the file. Files
// ending in .bz2 are decompressed.
func readBlocks(t *testing.T, path string) []*wire.MsgBlock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open block file: %v", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".bz2") {
		r = bzip2.NewReader(f)
	}
	var blocks []*wire.MsgBlock
	var head [8]byte
	for {
		if _, err := io.ReadFull(r, head[:]); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("%s: block %d header: %v", path, len(blocks), err)
		}
		if head == [8]byte{} {
			// Bitcoin Core preallocates its block files, so the file
			// ends in zeros; nothing but zeros may follow.
			rest, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("%s: padding: %v", path, err)
			}
			if i := slices.IndexFunc(rest, func(c byte) bool { return c != 0 }); i >= 0 {
				t.Fatalf("%s: data after the zero padding that follows block %d", path, len(blocks))
			}
			break
		}
		if magic := binary.LittleEndian.Uint32(head[:4]); magic != uint32(wire.MainNet) {
			t.Fatalf("%s: block %d: magic %#x, want %#x", path, len(blocks), magic, uint32(wire.MainNet))
		}
		raw := make([]byte, binary.LittleEndian.Uint32(head[4:]))
		if _, err := io.ReadFull(r, raw); err != nil {
			t.Fatalf("%s: block %d body: %v", path, len(blocks), err)
		}
		var b wire.MsgBlock
		if err := b.Deserialize(bytes.NewReader(raw)); err != nil {
			t.Fatalf("%s: block %d: %v", path, len(blocks), err)
		}
		blocks = append(blocks, &b)
	}
	if len(blocks) == 0 {
		t.Fatalf("%s holds no blocks", path)
	}
	return blocks
}

// blockTxids returns the txids of a block's transactions.
func blockTxids(b *wire.MsgBlock) []chainhash.Hash {
	ids := make([]chainhash.Hash, len(b.Transactions))
	for i, tx := range b.Transactions {
		ids[i] = tx.TxHash()
	}
	return ids
}

// checkMainnetBlock checks Root, RootParallel, Levels, Branch and a root
// lap of one real block, and that repeating its tail (CVE-2012-2459) keeps
// the root but is reported as mutated.
func checkMainnetBlock(t *testing.T, b *wire.MsgBlock) {
	t.Helper()
	ids := blockTxids(b)
	want := b.Header.MerkleRoot
	hash := b.BlockHash()
	if got, mut := Root(ids); got != want || mut {
		t.Fatalf("block %v: Root = %v, %v; header has %v", hash, got, mut, want)
	}
	if got, mut := rootParallel(ids, 2, 1); got != want || mut {
		t.Fatalf("block %v: rootParallel = %v, %v; header has %v", hash, got, mut, want)
	}
	levels := Levels(ids)
	if levels[0][0] != want {
		t.Fatalf("block %v: Levels root %v; header has %v", hash, levels[0][0], want)
	}
	shape := MustShape(uint32(len(ids)))
	for i := range ids {
		br := Branch(levels, uint32(i))
		if err := VerifyBranch(shape, uint32(i), ids[i], br, want); err != nil {
			t.Fatalf("block %v leaf %d: %v", hash, i, err)
		}
	}
	lap := make([]Node, len(ids))
	for i, id := range ids {
		lap[i] = Node{Pos: shape.Leaf(uint32(i)), Hash: id}
	}
	if err := VerifyCover(shape, Pos{}, want, lap); err != nil {
		t.Fatalf("block %v: leaf lap: %v", hash, err)
	}

	n := len(ids)
	if n == 1 {
		return
	}
	dup := 1
	for c := n; c%2 == 0; c /= 2 {
		dup *= 2
	}
	if dup == n {
		return
	}
	mutated := append(slices.Clone(ids), ids[n-dup:]...)
	if got, mut := Root(mutated); got != want || !mut {
		t.Fatalf("block %v with %d txs repeated: Root = %v, %v; want %v, true", hash, dup, got, mut, want)
	}
}

// TestMainnetBlocks checks the merkle roots of the first 14,132 main-network
// blocks against their headers.
func TestMainnetBlocks(t *testing.T) {
	blocks := readBlocks(t, btcdTestdata(t, "blk_0_to_14131.dat"))
	if len(blocks) != 14132 {
		t.Errorf("read %d blocks, want 14132", len(blocks))
	}
	multi := 0
	for _, b := range blocks {
		checkMainnetBlock(t, b)
		if len(b.Transactions) > 1 {
			multi++
		}
	}
	if multi == 0 {
		t.Error("no block with more than one transaction")
	}
}

// TestMainnetBlock277647 checks a block of 2013 with hundreds of
// transactions, and a lap of mixed levels around its root.
func TestMainnetBlock277647(t *testing.T) {
	blocks := readBlocks(t, btcdTestdata(t, "277647.dat.bz2"))
	if len(blocks) != 1 {
		t.Fatalf("read %d blocks, want 1", len(blocks))
	}
	b := blocks[0]
	if len(b.Transactions) < 100 {
		t.Fatalf("block has %d transactions, want a big block", len(b.Transactions))
	}
	checkMainnetBlock(t, b)

	// Leaves in the first half of the tree, level-2 nodes in the second.
	ids := blockTxids(b)
	levels := Levels(ids)
	shape := MustShape(uint32(len(ids)))
	half := Pos{Level: 1, Index: 0}
	first, end := shape.LeafRange(half)
	var lap []Node
	for i := first; i < end; i++ {
		lap = append(lap, Node{Pos: shape.Leaf(i), Hash: ids[i]})
	}
	for i := range levels[2] {
		if p := (Pos{Level: 2, Index: uint32(i)}); p.Ancestor(1) != half {
			lap = append(lap, Node{Pos: p, Hash: levels[2][i]})
		}
	}
	if err := VerifyCover(shape, Pos{}, b.Header.MerkleRoot, lap); err != nil {
		t.Fatalf("mixed lap: %v", err)
	}
}
