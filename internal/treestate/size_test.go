package treestate

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
)

// rangeBytes returns the size of the hashless workout of flat runs that
// announces what s has verified and peer lacks at the given levels.
func rangeBytes(t *testing.T, s *State, peer *Set, levels []uint8) (int, []Range) {
	var rs []Range
	for _, l := range levels {
		rs = append(rs, s.Missing(peer, l)...)
	}
	out, used := AppendRangesBounded(nil, rs, 1<<30)
	if used != len(rs) {
		t.Fatalf("only %d of %d ranges encoded", used, len(rs))
	}
	return len(out), rs
}

// bitmapBytes returns the size of the alternative encoding: per level, a
// level byte and a bitmap of count(level) bits (the length follows from the
// shape).
func bitmapBytes(shape merkle.Shape, levels []uint8) int {
	n := 0
	for _, l := range levels {
		n += 1 + int(shape.Count(l)+7)/8
	}
	return n
}

// TestStateEncodingSize measures, for a 10,000-leaf block whose groups
// arrive in random order, the size of a job state encoded as flat hashless
// runs (what JOB_STATE uses) and as one bitmap per level:
//
//   - full: everything verified so far, at a few points of the download;
//   - delta: what one JOB_STATE carries, the data verified since the
//     previous one (batches of 1, 4 or 16 groups), where a bitmap must be
//     sent for every level that changed.
//
// Both are measured for the tier levels (4, 9, 14), which are what the job
// engine announces, and for all levels (the intermediate parents as well).
func TestStateEncodingSize(t *testing.T) {
	const n, seeds = 10000, 5
	b := newBlock(t, n, 77)
	all := make([]uint8, b.shape.Depth()+1)
	for l := range all {
		all[l] = uint8(l)
	}
	sets := []struct {
		name   string
		levels []uint8
	}{{"tiers", Tiers(b.shape)}, {"all levels", all}}

	var report strings.Builder
	fmt.Fprintf(&report, "block of %d leaves, depth %d, tiers %v, %d groups, mean of %d random arrival orders\n",
		n, b.shape.Depth(), Tiers(b.shape), len(b.groups()), seeds)

	// Full states.
	points := []float64{0.1, 0.25, 0.5, 0.75, 0.9, 1}
	type sums struct{ ranges, runs, bitmap float64 }
	full := make([][]sums, len(sets))
	for k := range full {
		full[k] = make([]sums, len(points))
	}
	for seed := range uint64(seeds) {
		rng := rand.New(rand.NewPCG(seed, 1))
		groups := b.groups()
		rng.Shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })
		s := newState(t, b)
		s.SetPendingLimit(1 << 30)
		next := 0
		for p, f := range points {
			for ; next < int(f*float64(len(groups))); next++ {
				if _, err := s.AddNodes(b.nodes(groups[next].Nodes)); err != nil {
					t.Fatal(err)
				}
			}
			for k, set := range sets {
				size, rs := rangeBytes(t, s, nil, set.levels)
				full[k][p].ranges += float64(size) / seeds
				full[k][p].runs += float64(len(rs)) / seeds
				full[k][p].bitmap += float64(bitmapBytes(b.shape, set.levels)) / seeds
			}
		}
	}
	for k, set := range sets {
		fmt.Fprintf(&report, "full state, %s:\n", set.name)
		for p, f := range points {
			x := full[k][p]
			fmt.Fprintf(&report, "  %3.0f%% of groups: runs %6.1f bytes (%5.1f runs), bitmaps %5.0f bytes\n",
				100*f, x.ranges, x.runs, x.bitmap)
		}
	}

	// Deltas: one JOB_STATE per batch of groups, each announcing what the
	// peer has not been told yet.
	for _, batch := range []int{1, 4, 16} {
		for _, set := range sets {
			var ranges, bitmap, states, maxRanges float64
			for seed := range uint64(seeds) {
				rng := rand.New(rand.NewPCG(seed, 2))
				groups := b.groups()
				rng.Shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })
				s := newState(t, b)
				s.SetPendingLimit(1 << 30)
				told := NewSet(b.shape)
				for _, l := range set.levels {
					for _, r := range s.Missing(nil, l) {
						if err := told.AddRange(r); err != nil {
							t.Fatal(err)
						}
					}
				}
				for i := 0; i < len(groups); i += batch {
					for _, g := range groups[i:min(i+batch, len(groups))] {
						if _, err := s.AddNodes(b.nodes(g.Nodes)); err != nil {
							t.Fatal(err)
						}
					}
					size, rs := rangeBytes(t, s, told, set.levels)
					if len(rs) == 0 {
						continue // all pending: no JOB_STATE
					}
					changed := map[uint8]bool{}
					for _, r := range rs {
						changed[r.Level] = true
						if err := told.AddRange(r); err != nil {
							t.Fatal(err)
						}
					}
					var levels []uint8
					for l := range changed {
						levels = append(levels, l)
					}
					ranges += float64(size)
					maxRanges = max(maxRanges, float64(size))
					bitmap += float64(bitmapBytes(b.shape, levels))
					states++
				}
			}
			fmt.Fprintf(&report, "delta per JOB_STATE, %2d groups per state, %s: runs %5.1f bytes (max %3.0f), bitmaps %6.1f bytes (%0.f states)\n",
				batch, set.name, ranges/states, maxRanges, bitmap/states, states/seeds)
			if ranges >= bitmap {
				t.Errorf("runs (%0.f) not smaller than bitmaps (%0.f)", ranges, bitmap)
			}
		}
	}
	t.Log("\n" + report.String())
}
