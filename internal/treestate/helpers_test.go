package treestate

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
	"github.com/btcsuite/btcd/chainhash/v2"
)

// testBlock is a random block's tree as a sender knows it.
type testBlock struct {
	shape  merkle.Shape
	levels [][]chainhash.Hash
}

// newBlock returns the tree of n random leaves drawn from seed.
func newBlock(tb testing.TB, n int, seed uint64) *testBlock {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	leaves := make([]chainhash.Hash, n)
	for i := range leaves {
		leaves[i] = randHash(rng)
	}
	return blockOf(tb, leaves)
}

// blockOf returns the tree of the given leaves.
func blockOf(tb testing.TB, leaves []chainhash.Hash) *testBlock {
	tb.Helper()
	shape, err := merkle.NewShape(uint32(len(leaves)))
	if err != nil {
		tb.Fatal(err)
	}
	return &testBlock{shape: shape, levels: merkle.Levels(leaves)}
}

// randHash returns a random hash.
func randHash(rng *rand.Rand) chainhash.Hash {
	var h chainhash.Hash
	for j := 0; j < chainhash.HashSize; j += 8 {
		binary.LittleEndian.PutUint64(h[j:], rng.Uint64())
	}
	return h
}

func (b *testBlock) root() chainhash.Hash { return b.levels[0][0] }

// node returns the true node at p.
func (b *testBlock) node(p merkle.Pos) merkle.Node {
	return merkle.Node{Pos: p, Hash: b.levels[p.Level][p.Index]}
}

// nodes returns the true nodes of r.
func (b *testBlock) nodes(r Range) []merkle.Node {
	out := make([]merkle.Node, 0, r.Count)
	for i := r.Start; i < r.End(); i++ {
		out = append(out, b.node(merkle.Pos{Level: r.Level, Index: i}))
	}
	return out
}

// lap returns the OPEN_JOB lap: the lap level without its last node, and
// the descending run from the last leaf up to the subtree of that node.
func (b *testBlock) lap() []merkle.Node {
	l, d := LapLevel(b.shape), b.shape.Depth()
	var out []merkle.Node
	for i := uint32(0); i+1 < b.shape.Count(l); i++ {
		out = append(out, b.node(merkle.Pos{Level: l, Index: i}))
	}
	p := merkle.Pos{Level: d, Index: b.shape.Leaves() - 1}
	for {
		out = append(out, b.node(p))
		next, ok := merkle.NextDescending(p)
		if !ok || next.Level <= l {
			break
		}
		p = next
	}
	return out
}

// groups returns every group of every tier below the lap, in tree order.
func (b *testBlock) groups() []Group {
	var out []Group
	tiers := Tiers(b.shape)
	for k := 1; k < len(tiers); k++ {
		pt := tiers[k-1]
		for j := range b.shape.Count(pt) {
			r, ok := GroupRange(b.shape, pt, j)
			if !ok {
				panic("no group")
			}
			out = append(out, Group{Parent: merkle.Pos{Level: pt, Index: j}, Nodes: r})
		}
	}
	return out
}

// newState returns a State for b that has verified the lap.
func newState(tb testing.TB, b *testBlock) *State {
	tb.Helper()
	s := New(b.shape, b.root())
	if _, err := s.AddNodes(b.lap()); err != nil {
		tb.Fatalf("lap: %v", err)
	}
	if got := s.VerifiedCount(LapLevel(b.shape)); got != int(b.shape.Count(LapLevel(b.shape))) {
		tb.Fatalf("lap level: %d verified, want all %d", got, b.shape.Count(LapLevel(b.shape)))
	}
	return s
}

// checkTrue fails when a verified node of s differs from the true tree or
// the verified set is not closed upwards, and returns the number of
// verified nodes.
func checkTrue(tb testing.TB, s *State, b *testBlock) int {
	tb.Helper()
	total := 0
	for l := range b.shape.Depth() + 1 {
		for i := range b.shape.Count(l) {
			p := merkle.Pos{Level: l, Index: i}
			h, ok := s.Verified(p)
			if !ok {
				continue
			}
			total++
			if h != b.levels[l][i] {
				tb.Fatalf("node %v verified as %v, true hash %v", p, h, b.levels[l][i])
			}
			if _, ok := s.Verified(p.Parent()); !ok {
				tb.Fatalf("node %v verified but its parent is not", p)
			}
		}
	}
	if total != s.Stats().VerifiedNodes {
		tb.Fatalf("%d nodes verified, Stats says %d", total, s.Stats().VerifiedNodes)
	}
	return total
}

// totalNodes returns the number of nodes of a tree.
func totalNodes(shape merkle.Shape) int {
	n := 0
	for l := range shape.Depth() + 1 {
		n += int(shape.Count(l))
	}
	return n
}

// bodyOf returns a fake body for leaf i (the State never parses bodies).
func bodyOf(i uint32) []byte { return binary.LittleEndian.AppendUint32([]byte("tx"), i) }

// sizes are the block sizes the property tests use.
var sizes = []int{1, 2, 3, 5, 16, 17, 100, 1000, 10000}
