package treestate

import (
	"math/rand/v2"
	"testing"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
)

// BenchmarkAddNodes10k verifies a whole 10,000-leaf block fed group by
// group (the lap, then the 10 level-9 groups, then the 313 leaf groups), in
// tree order and in random order (children often before their parents,
// exercising the pending buffer). One op is one whole block.
func BenchmarkAddNodes10k(b *testing.B) {
	blk := newBlock(b, 10000, 1)
	groups := blk.groups()
	lap := blk.lap()
	payloads := make([][]merkle.Node, len(groups))
	for i, g := range groups {
		payloads[i] = blk.nodes(g.Nodes)
	}
	shuffled := make([][]merkle.Node, len(payloads))
	copy(shuffled, payloads)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })

	run := func(b *testing.B, order [][]merkle.Node) {
		b.ReportAllocs()
		for b.Loop() {
			s := New(blk.shape, blk.root())
			s.SetPendingLimit(1 << 30)
			if _, err := s.AddNodes(lap); err != nil {
				b.Fatal(err)
			}
			for _, p := range order {
				if _, err := s.AddNodes(p); err != nil {
					b.Fatal(err)
				}
			}
			if s.LeavesVerified() != 10000 {
				b.Fatal("incomplete")
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(order)+1)/1e3, "µs/group")
	}
	b.Run("tree-order", func(b *testing.B) { run(b, payloads) })
	b.Run("random-order", func(b *testing.B) { run(b, shuffled) })
	b.Run("hash-only", func(b *testing.B) {
		// The floor: the hashing of the 9,999 internal nodes alone.
		leaves := blk.levels[blk.shape.Depth()]
		b.ReportAllocs()
		for b.Loop() {
			merkle.Levels(leaves)
		}
	})
}
