package treestate

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
	"github.com/blocktorrent/blocktorrent/internal/wire"
)

// randomRanges returns up to k random valid ranges of shape.
func randomRanges(rng *rand.Rand, shape merkle.Shape, k int) []Range {
	var out []Range
	for range rng.IntN(k + 1) {
		l := uint8(rng.IntN(int(shape.Depth()) + 1))
		c := shape.Count(l)
		start := rng.Uint32N(c)
		out = append(out, Range{Level: l, Start: start, Count: 1 + rng.Uint32N(c-start)})
	}
	return out
}

func TestWorkoutRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 3))
	for _, n := range append(sizes, 131072) {
		shape := merkle.MustShape(uint32(n))
		for range 50 {
			ranges := randomRanges(rng, shape, 20)
			w := RangesToWorkout(ranges)
			if w.Nodes() > wire.MaxWorkoutNodes {
				if _, err := RangesFromWorkout(shape, w); !errors.Is(err, ErrLimit) {
					t.Fatalf("n=%d: %d nodes accepted", n, w.Nodes())
				}
				continue
			}
			enc := wire.AppendWorkout(nil, &w, true)
			dec, err := wire.DecodeWorkout(enc, true)
			if err != nil {
				t.Fatalf("n=%d decode: %v", n, err)
			}
			got, err := RangesFromWorkout(shape, dec)
			if err != nil {
				t.Fatalf("n=%d from workout: %v", n, err)
			}
			if !slices.Equal(got, ranges) {
				t.Fatalf("n=%d round trip:\n got %v\nwant %v", n, got, ranges)
			}
		}
	}
}

func TestRangesFromWorkoutErrors(t *testing.T) {
	shape := merkle.MustShape(1000)
	flat := func(l uint8, start uint32, count int) wire.Run {
		return wire.Run{Level: l, Start: start, Seq: wire.HashSeq{Count: count}}
	}
	many := make([]wire.Run, wire.MaxRuns+1)
	for i := range many {
		many[i] = flat(10, uint32(i%1000), 1)
	}
	tests := []struct {
		name string
		runs []wire.Run
		kind error
	}{
		{"ascending", []wire.Run{{Dir: wire.Up, Level: 10, Start: 0, Seq: wire.HashSeq{Count: 2}}}, ErrMalformed},
		{"descending", []wire.Run{flat(10, 0, 1), {Dir: wire.Down, Level: 10, Start: 5, Seq: wire.HashSeq{Count: 2}}}, ErrMalformed},
		{"past the level", []wire.Run{flat(10, 999, 2)}, ErrBadPos},
		{"below the leaves", []wire.Run{flat(11, 0, 1)}, ErrBadPos},
		{"root level", []wire.Run{flat(0, 0, 2)}, ErrBadPos},
		{"too many runs", many, ErrLimit},
		{"too many nodes", []wire.Run{flat(10, 0, 1000), flat(10, 0, 65000)}, ErrLimit},
		{"negative count", []wire.Run{flat(10, 0, -1)}, ErrLimit},
	}
	for _, tc := range tests {
		got, err := RangesFromWorkout(shape, wire.Workout{Runs: tc.runs})
		if !errors.Is(err, tc.kind) || got != nil {
			t.Errorf("%s: %v %v, want %v", tc.name, got, err, tc.kind)
		}
	}
	got, err := RangesFromWorkout(shape, wire.Workout{Runs: []wire.Run{flat(10, 5, 0), flat(10, 998, 2), flat(0, 0, 1)}})
	if err != nil || !slices.Equal(got, []Range{{10, 998, 2}, {0, 0, 1}}) {
		t.Fatalf("valid: %v %v", got, err)
	}
}

func TestAppendRangesBounded(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 5))
	shape := merkle.MustShape(100000)
	prefix := []byte{0xaa, 0xbb}
	for range 500 {
		ranges := randomRanges(rng, shape, 300)
		if rng.IntN(4) == 0 && len(ranges) > 0 {
			ranges[rng.IntN(len(ranges))].Count = 0
		}
		// Most ranges are cut as Missing cuts them; some are left too
		// long to fit any workout.
		for i := range ranges {
			if ranges[i].Count > MaxRangeCount && rng.IntN(4) != 0 {
				ranges[i].Count = MaxRangeCount
			}
		}
		maxBytes := rng.IntN(1300)
		out, used := AppendRangesBounded(slices.Clone(prefix), ranges, maxBytes)
		if !slices.Equal(out[:2], prefix) {
			t.Fatal("prefix changed")
		}
		body := out[2:]
		if maxBytes < 1 {
			if len(body) != 0 || used != 0 {
				t.Fatalf("maxBytes %d: wrote %d", maxBytes, len(body))
			}
			continue
		}
		if len(body) > maxBytes {
			t.Fatalf("%d bytes for a bound of %d", len(body), maxBytes)
		}
		w, err := wire.DecodeWorkout(body, true)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		got, err := RangesFromWorkout(shape, w)
		if err != nil {
			t.Fatal(err)
		}
		want := slices.DeleteFunc(slices.Clone(ranges[:used]), func(r Range) bool { return r.Count == 0 })
		if len(got) != len(want) || (len(got) > 0 && !slices.Equal(got, want)) {
			t.Fatalf("encoded %v, want %v", got, want)
		}
		// The next range would not have fit.
		if used < len(ranges) {
			next := append(slices.Clone(ranges[:used]), ranges[used])
			w2 := RangesToWorkout(next)
			enc := wire.AppendWorkout(nil, &w2, true)
			if len(enc) <= maxBytes && w2.Nodes() <= wire.MaxWorkoutNodes && len(w2.Runs) <= wire.MaxRuns {
				t.Fatalf("stopped at range %d of %d although %d bytes fit in %d", used, len(ranges), len(enc), maxBytes)
			}
		}
	}
	// A range longer than a workout may hold never fits.
	if _, used := AppendRangesBounded(nil, []Range{{Level: 16, Count: MaxRangeCount + 1}}, 1000); used != 0 {
		t.Fatal("oversized range used")
	}
	// Empty input: an empty workout.
	if out, used := AppendRangesBounded(nil, nil, 1); used != 0 || !slices.Equal(out, []byte{0}) {
		t.Fatalf("empty: %x %d", out, used)
	}
}
