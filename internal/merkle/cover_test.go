package merkle

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
)

// testTree is a random tree with all its levels, for lap tests.
type testTree struct {
	shape  Shape
	levels [][]chainhash.Hash
}

func newTestTree(n int, seed uint64) testTree {
	return testTree{shape: MustShape(uint32(n)), levels: Levels(randomHashes(n, seed))}
}

// node returns the true node at level l, index i.
func (tr testTree) node(l uint8, i uint32) Node {
	return Node{Pos: Pos{Level: l, Index: i}, Hash: tr.levels[l][i]}
}

// hash returns the true hash at p.
func (tr testTree) hash(p Pos) chainhash.Hash { return tr.levels[p.Level][p.Index] }

// randomLap returns a random lap around anchor: each node is either taken
// or, with probability split, replaced by its children.
func (tr testTree) randomLap(rng *rand.Rand, anchor Pos, split float64) []Node {
	var lap []Node
	var walk func(p Pos)
	walk = func(p Pos) {
		if tr.shape.IsLeaf(p) || rng.Float64() >= split {
			lap = append(lap, Node{Pos: p, Hash: tr.hash(p)})
			return
		}
		walk(p.Left())
		if tr.shape.HasRight(p) {
			walk(p.Right())
		}
	}
	walk(anchor)
	rng.Shuffle(len(lap), func(i, j int) { lap[i], lap[j] = lap[j], lap[i] })
	return lap
}

func TestCoverFlatLevels(t *testing.T) {
	for n := 1; n <= 40; n++ {
		tr := newTestTree(n, uint64(n))
		for l := range tr.levels {
			var lap []Node
			for i := range tr.levels[l] {
				lap = append(lap, tr.node(uint8(l), uint32(i)))
			}
			if err := VerifyCover(tr.shape, Pos{}, tr.levels[0][0], lap); err != nil {
				t.Fatalf("n=%d: level %d around the root: %v", n, l, err)
			}
		}
	}
}

func TestCoverDraftExamples(t *testing.T) {
	tr := newTestTree(8, 21)
	tests := []struct {
		name   string
		anchor Pos
		nodes  []Node
	}{
		// The five X's of the draft: the four leaves under the left node
		// of level 1 and the right node of level 1, around the root.
		{"five X's around the root", Pos{}, []Node{
			tr.node(3, 0), tr.node(3, 1), tr.node(3, 2), tr.node(3, 3), tr.node(1, 1)}},
		// Two runs around the left node of level 1: its left child and the
		// two leaves under its right child.
		{"two runs around (1,0)", Pos{1, 0}, []Node{tr.node(2, 0), tr.node(3, 2), tr.node(3, 3)}},
		{"the anchor alone", Pos{1, 1}, []Node{tr.node(1, 1)}},
		{"a leaf anchor", Pos{3, 5}, []Node{tr.node(3, 5)}},
		{"mixed levels in any order", Pos{}, []Node{
			tr.node(3, 7), tr.node(2, 0), tr.node(3, 6), tr.node(2, 1), tr.node(2, 2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.nodes)
			got, err := ComputeCover(tr.shape, tt.anchor, in)
			if err != nil {
				t.Fatalf("ComputeCover: %v", err)
			}
			if want := tr.hash(tt.anchor); got != want {
				t.Fatalf("ComputeCover = %v, want %v", got, want)
			}
			if !slices.Equal(in, tt.nodes) {
				t.Fatal("ComputeCover reordered its input")
			}
		})
	}
}

func TestCoverOddTrees(t *testing.T) {
	// Five leaves: leaf 4 alone is the whole right half of the tree.
	tr := newTestTree(5, 22)
	laps := [][]Node{
		{tr.node(1, 0), tr.node(3, 4)},
		{tr.node(1, 0), tr.node(2, 2)},
		{tr.node(2, 0), tr.node(3, 2), tr.node(3, 3), tr.node(1, 1)},
	}
	for _, lap := range laps {
		if err := VerifyCover(tr.shape, Pos{}, tr.levels[0][0], lap); err != nil {
			t.Errorf("lap %s: %v", positions(lap), err)
		}
	}
	// Every random lap of every anchor of small trees.
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 1; n <= 37; n++ {
		tr := newTestTree(n, uint64(n))
		for l := range tr.levels {
			for i := range tr.levels[l] {
				anchor := Pos{Level: uint8(l), Index: uint32(i)}
				for range 4 {
					lap := tr.randomLap(rng, anchor, 0.7)
					if err := VerifyCover(tr.shape, anchor, tr.hash(anchor), lap); err != nil {
						t.Fatalf("n=%d anchor %v lap %s: %v", n, anchor, positions(lap), err)
					}
				}
			}
		}
	}
}

func TestCoverErrors(t *testing.T) {
	tr := newTestTree(8, 23)
	root := tr.levels[0][0]
	bad := tr.node(3, 2)
	bad.Hash[0] ^= 1
	five := []Node{tr.node(3, 0), tr.node(3, 1), tr.node(3, 2), tr.node(3, 3), tr.node(1, 1)}

	mutLeaves := randomHashes(6, 24)
	mutLeaves[5] = mutLeaves[4]
	mut := testTree{shape: MustShape(6), levels: Levels(mutLeaves)}

	many := make([]Node, 1_000_000)
	for i := range many {
		many[i] = tr.node(3, 0)
	}

	tests := []struct {
		name   string
		tree   testTree
		anchor Pos
		nodes  []Node
		want   error
	}{
		{"wrong hash", tr, Pos{}, []Node{tr.node(3, 0), tr.node(3, 1), bad, tr.node(3, 3), tr.node(1, 1)}, ErrMismatch},
		{"missing leaf", tr, Pos{}, []Node{tr.node(3, 0), tr.node(3, 1), tr.node(3, 3), tr.node(1, 1)}, ErrIncomplete},
		{"missing right half", tr, Pos{}, five[:4], ErrIncomplete},
		{"missing left end", tr, Pos{1, 0}, []Node{tr.node(3, 1), tr.node(2, 1)}, ErrIncomplete},
		{"empty", tr, Pos{}, nil, ErrIncomplete},
		{"duplicate", tr, Pos{}, append(slices.Clone(five), tr.node(3, 1)), ErrOverlap},
		{"node under another", tr, Pos{}, append(slices.Clone(five), tr.node(2, 3)), ErrOverlap},
		{"node over another", tr, Pos{}, append(slices.Clone(five[:4]), tr.node(1, 1), tr.node(1, 0)), ErrOverlap},
		{"the anchor and a child", tr, Pos{1, 0}, []Node{tr.node(1, 0), tr.node(2, 1)}, ErrOverlap},
		{"node outside the anchor", tr, Pos{1, 0}, []Node{tr.node(2, 0), tr.node(2, 1), tr.node(2, 2)}, ErrBadPos},
		{"node above the anchor", tr, Pos{1, 0}, []Node{tr.node(0, 0)}, ErrBadPos},
		{"index outside the level", tr, Pos{}, []Node{tr.node(1, 0), {Pos: Pos{1, 2}}}, ErrBadPos},
		{"level below the leaves", tr, Pos{}, []Node{tr.node(1, 0), tr.node(1, 1), {Pos: Pos{4, 0}}}, ErrBadPos},
		{"huge index", tr, Pos{}, []Node{tr.node(1, 0), {Pos: Pos{3, 1 << 31}}}, ErrBadPos},
		{"anchor outside the tree", tr, Pos{2, 4}, []Node{tr.node(3, 0)}, ErrBadPos},
		{"more nodes than leaves", tr, Pos{}, many, ErrOverlap},
		{"equal real siblings", mut, Pos{}, []Node{mut.node(1, 0), mut.node(3, 4), mut.node(3, 5)}, ErrMutated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want chainhash.Hash
			if tt.tree.shape.Valid(tt.anchor) {
				want = tt.tree.hash(tt.anchor)
			}
			err := VerifyCover(tt.tree.shape, tt.anchor, want, tt.nodes)
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyCover = %v, want %v", err, tt.want)
			}
		})
	}

	// A mismatch names the anchor and the nodes' positions.
	err := VerifyCover(tr.shape, Pos{}, root, []Node{tr.node(3, 0), tr.node(3, 1), bad, tr.node(3, 3), tr.node(1, 1)})
	if msg := err.Error(); !strings.Contains(msg, "(3,2)") || !strings.Contains(msg, "(0,0)") {
		t.Errorf("mismatch error %q does not name the positions", msg)
	}
	if err := VerifyCover(tr.shape, Pos{}, root, five); err != nil {
		t.Errorf("good lap: %v", err)
	}
}

func TestCoverAllocationBound(t *testing.T) {
	// Rejecting too many nodes must not allocate in proportion to them:
	// the check comes before the copy. Only the error value may be built.
	// testing.AllocsPerRun counts this goroutine's work over several runs
	// (MemStats deltas also caught other goroutines' allocations and
	// failed now and then).
	tr := newTestTree(4, 25)
	many := make([]Node, 1_000_000)
	if _, err := ComputeCover(tr.shape, Pos{}, many); !errors.Is(err, ErrOverlap) {
		t.Fatalf("ComputeCover = %v, want ErrOverlap", err)
	}
	allocs := testing.AllocsPerRun(20, func() { _, _ = ComputeCover(tr.shape, Pos{}, many) })
	if allocs > 8 {
		t.Fatalf("rejecting %d nodes made %v allocations per call, want a few for the error", len(many), allocs)
	}
}
