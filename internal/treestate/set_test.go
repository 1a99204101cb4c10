package treestate

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
	"github.com/blocktorrent/blocktorrent/internal/wire"
)

// naiveRuns returns the maximal runs of indices in [0, n) where in(i) is
// true, cut at MaxRangeCount, one index at a time.
func naiveRuns(level uint8, n uint32, in func(uint32) bool) []Range {
	var out []Range
	for i := uint32(0); i < n; i++ {
		if !in(i) {
			continue
		}
		if k := len(out) - 1; k >= 0 && out[k].End() == i && out[k].Count < MaxRangeCount {
			out[k].Count++
		} else {
			out = append(out, Range{Level: level, Start: i, Count: 1})
		}
	}
	return out
}

// randomSet returns a peer set holding random ranges and single nodes.
func randomSet(rng *rand.Rand, shape merkle.Shape) *Set {
	set := NewSet(shape)
	for range rng.IntN(40) {
		l := uint8(rng.IntN(int(shape.Depth()) + 1))
		c := shape.Count(l)
		start := rng.Uint32N(c)
		r := Range{Level: l, Start: start, Count: 1 + rng.Uint32N(min(c-start, 70))}
		if err := set.AddRange(r); err != nil {
			panic(err)
		}
		if rng.IntN(2) == 0 {
			set.Add(merkle.Pos{Level: l, Index: rng.Uint32N(c)})
		}
		if rng.IntN(2) == 0 {
			r.Level = shape.Depth()
			r.Start = rng.Uint32N(shape.Leaves())
			r.Count = 1 + rng.Uint32N(min(shape.Leaves()-r.Start, 50))
			if err := set.AddBodies(r); err != nil {
				panic(err)
			}
		}
	}
	return set
}

// randomState returns a State that verified the lap and a random half of
// the groups, and holds random bodies.
func randomState(t *testing.T, rng *rand.Rand, b *testBlock) *State {
	s := newState(t, b)
	for _, g := range b.groups() {
		if rng.IntN(2) == 0 {
			if _, err := s.AddNodes(b.nodes(g.Nodes)); err != nil {
				t.Fatal(err)
			}
		}
	}
	d := b.shape.Depth()
	for i := range b.shape.Leaves() {
		if rng.IntN(3) == 0 {
			if _, err := s.AddBody(i, b.levels[d][i], nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	return s
}

func TestDiffsAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, n := range sizes {
		for seed := range uint64(4) {
			b := newBlock(t, n, seed)
			s := randomState(t, rng, b)
			peer := randomSet(rng, b.shape)
			for l := range b.shape.Depth() + 1 {
				has := func(i uint32) bool { _, ok := s.Verified(merkle.Pos{Level: l, Index: i}); return ok }
				peerHas := func(i uint32) bool { return peer.Has(merkle.Pos{Level: l, Index: i}) }
				c := b.shape.Count(l)
				check(t, fmt.Sprintf("n=%d missing level %d", n, l), s.Missing(peer, l),
					naiveRuns(l, c, func(i uint32) bool { return has(i) && !peerHas(i) }))
				check(t, fmt.Sprintf("n=%d wanted level %d", n, l), s.Wanted(peer, l),
					naiveRuns(l, c, func(i uint32) bool { return !has(i) && peerHas(i) }))
				check(t, fmt.Sprintf("n=%d missing level %d nil peer", n, l), s.Missing(nil, l), naiveRuns(l, c, has))
				if peer.Count(l) != len(slices.DeleteFunc(seq(c), func(i uint32) bool { return !peerHas(i) })) {
					t.Fatalf("n=%d level %d: Count", n, l)
				}
			}
			d, nl := b.shape.Depth(), b.shape.Leaves()
			check(t, "missing bodies", s.MissingBodies(peer),
				naiveRuns(d, nl, func(i uint32) bool { return s.HasBody(i) && !peer.HasBody(i) }))
			check(t, "wanted bodies", s.WantedBodies(peer),
				naiveRuns(d, nl, func(i uint32) bool { return !s.HasBody(i) && peer.HasBody(i) }))
			if s.Wanted(nil, 0) != nil || s.WantedBodies(nil) != nil || s.Missing(peer, d+1) != nil {
				t.Fatal("diff with nothing is not empty")
			}
		}
	}
}

// seq returns 0..n-1.
func seq(n uint32) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(i)
	}
	return out
}

func check(t *testing.T, what string, got, want []Range) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got %v\nwant %v", what, got, want)
	}
}

// TestDiffLongRuns checks that runs longer than MaxRangeCount are cut.
func TestDiffLongRuns(t *testing.T) {
	shape := merkle.MustShape(200000)
	set := NewSet(shape)
	d := shape.Depth()
	if err := set.AddRange(Range{Level: d, Start: 3, Count: 199990}); err != nil {
		t.Fatal(err)
	}
	s := New(shape, [32]byte{1})
	got := s.Wanted(set, d)
	want := naiveRuns(d, shape.Leaves(), func(i uint32) bool { return i >= 3 && i < 199993 })
	check(t, "long wanted", got, want)
	if len(got) != 4 || got[0].Count != MaxRangeCount {
		t.Fatalf("%v", got)
	}
}

func TestSet(t *testing.T) {
	shape := merkle.MustShape(1000)
	set := NewSet(shape)
	d := shape.Depth()
	if err := set.AddRange(Range{Level: d, Start: 990, Count: 11}); !errors.Is(err, ErrBadPos) {
		t.Fatalf("range past the end: %v", err)
	}
	if err := set.AddRange(Range{Level: d + 1, Start: 0, Count: 1}); !errors.Is(err, ErrBadPos) {
		t.Fatalf("range below the leaves: %v", err)
	}
	if err := set.AddRange(Range{Level: d, Start: ^uint32(0), Count: 2}); !errors.Is(err, ErrBadPos) {
		t.Fatalf("overflowing range: %v", err)
	}
	if err := set.AddBodies(Range{Level: d - 1, Start: 0, Count: 1}); !errors.Is(err, ErrBadPos) {
		t.Fatalf("bodies above the leaves: %v", err)
	}
	if set.Count(d) != 0 || set.BodyCount() != 0 {
		t.Fatal("bad ranges added something")
	}
	if !set.Add(merkle.Pos{Level: 3, Index: 4}) || set.Add(merkle.Pos{Level: 3, Index: 4}) || set.Add(merkle.Pos{Level: 3, Index: 9}) {
		t.Fatal("Add results")
	}
	// An ascending run from leaf 4: (10,4) (10,5) (9,3) (8,2)... as far as
	// it stays in the tree.
	up := wire.Run{Dir: wire.Up, Level: d, Start: 4, Seq: wire.HashSeq{Count: 4}}
	if err := set.AddRun(&up); err != nil {
		t.Fatal(err)
	}
	for _, p := range []merkle.Pos{{Level: d, Index: 4}, {Level: d, Index: 5}, {Level: d - 1, Index: 3}, {Level: d - 3, Index: 1}} {
		if !set.Has(p) {
			t.Fatalf("ascending run: %v missing", p)
		}
	}
	flat := wire.Run{Level: d, Start: 100, Seq: wire.HashSeq{Count: 50}}
	if err := set.AddRun(&flat); err != nil || !set.HasRange(Range{Level: d, Start: 100, Count: 50}) || set.HasRange(Range{Level: d, Start: 99, Count: 2}) {
		t.Fatalf("flat run: %v", err)
	}
	bad := wire.Run{Dir: wire.Down, Level: d, Start: 0, Seq: wire.HashSeq{Count: 2}}
	if err := set.AddRun(&bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("run off the left edge: %v", err)
	}
	outside := wire.Run{Dir: wire.Down, Level: d, Start: 1200, Seq: wire.HashSeq{Count: 2}}
	if err := set.AddRun(&outside); !errors.Is(err, ErrBadPos) {
		t.Fatalf("run outside the tree: %v", err)
	}
	set.AddBody(7)
	set.AddBody(5000)
	if !set.HasBody(7) || set.HasBody(5000) || set.BodyCount() != 1 {
		t.Fatal("bodies")
	}
	if err := set.AddBodies(Range{Level: d, Start: 990, Count: 10}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		r    Range
		want bool
	}{
		{Range{Level: d, Start: 7, Count: 1}, true},
		{Range{Level: d, Start: 990, Count: 10}, true},
		{Range{Level: d, Start: 6, Count: 2}, false},
		{Range{Level: d, Start: 989, Count: 2}, false},
		{Range{Level: d, Start: 995, Count: 6}, false},   // leaves the tree
		{Range{Level: d, Start: 7, Count: 0}, false},     // empty
		{Range{Level: d - 1, Start: 3, Count: 1}, false}, // not leaves
	} {
		if got := set.HasBodies(c.r); got != c.want {
			t.Errorf("HasBodies(%v) = %v, want %v", c.r, got, c.want)
		}
	}
	if set.Has(merkle.Pos{Level: 30}) {
		t.Fatal("Has outside the tree")
	}
}
