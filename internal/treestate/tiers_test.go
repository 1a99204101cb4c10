package treestate

import (
	"slices"
	"testing"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
)

func TestTiers(t *testing.T) {
	tests := []struct {
		n     uint32
		lap   uint8
		tiers []uint8
	}{
		{1, 0, []uint8{0}},
		{2, 1, []uint8{1}},
		{16, 4, []uint8{4}},
		{17, 4, []uint8{4, 5}},
		{32, 4, []uint8{4, 5}},
		{100, 4, []uint8{4, 7}},
		{1000, 4, []uint8{4, 5, 10}},
		{2000, 4, []uint8{4, 6, 11}},
		{10000, 4, []uint8{4, 9, 14}},
		{16384, 4, []uint8{4, 9, 14}},
		{16385, 4, []uint8{4, 5, 10, 15}},
		{131072, 4, []uint8{4, 7, 12, 17}},
		{1 << 24, 4, []uint8{4, 9, 14, 19, 24}},
	}
	for _, tc := range tests {
		shape := merkle.MustShape(tc.n)
		if got := LapLevel(shape); got != tc.lap {
			t.Errorf("n=%d: lap level %d, want %d", tc.n, got, tc.lap)
		}
		got := Tiers(shape)
		if !slices.Equal(got, tc.tiers) {
			t.Errorf("n=%d: tiers %v, want %v", tc.n, got, tc.tiers)
		}
		for l := range shape.Depth() + 1 {
			if IsTier(shape, l) != slices.Contains(tc.tiers, l) {
				t.Errorf("n=%d: IsTier(%d)", tc.n, l)
			}
			k := slices.Index(tc.tiers, l)
			nt, ok := NextTier(shape, l)
			if want := k >= 0 && k+1 < len(tc.tiers); ok != want || (ok && nt != tc.tiers[k+1]) {
				t.Errorf("n=%d: NextTier(%d) = %d %v", tc.n, l, nt, ok)
			}
			pt, ok := PrevTier(shape, l)
			if want := k > 0; ok != want || (ok && pt != tc.tiers[k-1]) {
				t.Errorf("n=%d: PrevTier(%d) = %d %v", tc.n, l, pt, ok)
			}
		}
	}
}

// TestGroups checks that the groups of each tier partition it, hold at most
// MaxGroup nodes under their parent, and that GroupOf finds them.
func TestGroups(t *testing.T) {
	for _, n := range append(sizes, 131072, 16385) {
		shape := merkle.MustShape(uint32(n))
		tiers := Tiers(shape)
		for k := 1; k < len(tiers); k++ {
			pt, tier := tiers[k-1], tiers[k]
			next := uint32(0)
			for j := range shape.Count(pt) {
				r, ok := GroupRange(shape, pt, j)
				if !ok || r.Level != tier || r.Start != next || r.Count == 0 || r.Count > MaxGroup {
					t.Fatalf("n=%d: group (%d,%d) = %v %v", n, pt, j, r, ok)
				}
				parent := merkle.Pos{Level: pt, Index: j}
				for _, i := range []uint32{r.Start, r.End() - 1} {
					p := merkle.Pos{Level: tier, Index: i}
					if p.Ancestor(pt) != parent {
						t.Fatalf("n=%d: %v not under %v", n, p, parent)
					}
					g, ok := GroupOf(shape, p)
					if !ok || g.Parent != parent || g.Nodes != r {
						t.Fatalf("n=%d: GroupOf(%v) = %v %v", n, p, g, ok)
					}
				}
				next = r.End()
			}
			if next != shape.Count(tier) {
				t.Fatalf("n=%d: groups of tier %d end at %d of %d", n, tier, next, shape.Count(tier))
			}
		}
		d := shape.Depth()
		if _, ok := GroupRange(shape, d, 0); ok {
			t.Fatalf("n=%d: group under a leaf", n)
		}
		if _, ok := GroupRange(shape, tiers[0], shape.Count(tiers[0])); ok {
			t.Fatalf("n=%d: group under a node outside the tree", n)
		}
		if _, ok := GroupOf(shape, merkle.Pos{Level: tiers[0]}); ok {
			t.Fatalf("n=%d: group of a lap node", n)
		}
		if _, ok := GroupOf(shape, merkle.Pos{Level: d, Index: shape.Leaves()}); ok {
			t.Fatalf("n=%d: group of a node outside the tree", n)
		}
	}
}

func TestOpenGroups(t *testing.T) {
	b := newBlock(t, 10000, 31)
	s := newState(t, b)
	tiers := Tiers(b.shape)
	collect := func(tier uint8) []Group {
		var out []Group
		for g := range s.OpenGroups(tier) {
			out = append(out, g)
		}
		return out
	}
	if len(collect(tiers[0])) != 0 || len(collect(tiers[0]+1)) != 0 {
		t.Fatal("groups of the lap level or of a level that is not a tier")
	}
	// Only the level-9 groups are open: their parents, the lap, are
	// verified; no leaf group's parent is verified except the one that
	// holds the lap's descending run.
	g9 := collect(tiers[1])
	if len(g9) != int(b.shape.Count(tiers[0])) {
		t.Fatalf("%d open level-9 groups", len(g9))
	}
	if g := collect(tiers[2]); len(g) != 1 || g[0].Parent != (merkle.Pos{Level: 9, Index: 312}) {
		t.Fatalf("open leaf groups %v", g)
	}
	if _, err := s.AddNodes(b.nodes(g9[3].Nodes)); err != nil {
		t.Fatal(err)
	}
	leafGroups := collect(tiers[2])
	if len(leafGroups) != 1+int(g9[3].Nodes.Count) || leafGroups[0].Parent.Index != g9[3].Nodes.Start {
		t.Fatalf("%d open leaf groups", len(leafGroups))
	}
	if _, err := s.AddNodes(b.nodes(leafGroups[0].Nodes)); err != nil {
		t.Fatal(err)
	}
	if after := collect(tiers[2]); len(after) != len(leafGroups)-1 || after[0] == leafGroups[0] {
		t.Fatalf("verified group still open")
	}
	// Stopping early works.
	n := 0
	for range s.OpenGroups(tiers[2]) {
		n++
		break
	}
	if n != 1 {
		t.Fatal("early stop")
	}
}
