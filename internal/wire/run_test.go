package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
)

// decodeOneRun decodes b as exactly one run.
func decodeOneRun(b []byte, hashless bool) (Run, error) {
	r := NewReader(b)
	run := ReadRun(r, hashless)
	if err := r.Done(); err != nil {
		return Run{}, err
	}
	return run, nil
}

// runEqual compares two runs field by field.
func runEqual(a, b *Run) bool {
	return a.Dir == b.Dir && a.Level == b.Level && a.Start == b.Start && seqEqual(&a.Seq, &b.Seq)
}

// randRun draws a random run that encodes and decodes (its walk need not
// stay in the tree).
func randRun(rng *rand.Rand, hashless bool) Run {
	run := Run{
		Dir:   Direction(rng.IntN(3)),
		Level: uint8(rng.IntN(MaxLevel + 1)),
		Start: uint32(rng.IntN(MaxStart + 1)),
		Seq:   randSeq(rng, hashless),
	}
	switch rng.IntN(4) {
	case 0:
		run.Start = uint32(rng.IntN(0xfd))
	case 1:
		run.Start = MaxStart
	}
	return run
}

// ps turns (level, index) pairs into positions.
func ps(pairs ...uint32) []merkle.Pos {
	out := make([]merkle.Pos, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, merkle.Pos{Level: uint8(pairs[i]), Index: pairs[i+1]})
	}
	return out
}

// runCases are runs with their encodings.
var runCases = []struct {
	name     string
	run      Run
	hashless bool
	hex      string
}{
	{"flat-hashless", Run{Dir: Flat, Level: 14, Start: 0, Seq: HashSeq{Count: 9}}, true, "0e0009"},
	{"down-hashless", Run{Dir: Down, Level: 14, Start: 9999, Seq: HashSeq{Count: 7}}, true, "4efd0f2707"},
	{"up-hashless", Run{Dir: Up, Level: 3, Start: 0, Seq: HashSeq{Count: 4}}, true, "830004"},
	{"level-63", Run{Dir: Flat, Level: 63, Start: 0, Seq: HashSeq{Count: 0}}, true, "3f0000"},
	{"max-start", Run{Dir: Up, Level: 24, Start: MaxStart, Seq: HashSeq{Count: 1}}, true, "98feffffff0001"},
	{"flat-one-byte", Run{Dir: Flat, Level: 2, Start: 1, Seq: HashSeq{Count: 2, DefaultSize: 1, Data: []byte{0xaa, 0xbb}}}, false, "0201020100aabb"},
	{"down-with-exception", Run{Dir: Down, Level: 1, Start: 1, Seq: HashSeq{Count: 1, DefaultSize: 2, Exceptions: []Exception{{0, 1}}, Data: []byte{0xcc}}}, false, "41010102010101cc"},
}

func TestRunEncoding(t *testing.T) {
	for _, tc := range runCases {
		b := AppendRun(nil, &tc.run, tc.hashless)
		if got := hex.EncodeToString(b); got != tc.hex {
			t.Errorf("%s: encoded %s, want %s", tc.name, got, tc.hex)
			continue
		}
		got, err := decodeOneRun(b, tc.hashless)
		if err != nil || !runEqual(&got, &tc.run) {
			t.Errorf("%s: decoded %+v, %v; want %+v", tc.name, got, err, tc.run)
		}
	}
}

// runRejects are runs the decoder refuses (hashless flag, hex, kind).
var runRejects = []struct {
	name     string
	hashless bool
	hex      string
	kind     error
}{
	{"empty", true, "", ErrShort},
	{"no-start", true, "0e", ErrShort},
	{"no-count", true, "0e00", ErrShort},
	{"direction-3", true, "c00001", ErrReserved},
	{"direction-3-level-14", false, "ce0001200000" + strings.Repeat("00", 32), ErrReserved},
	{"start-2^24", true, "0efe0000000101", ErrLimit},
	{"start-max-uint64", true, "0effffffffffffffffff01", ErrLimit},
	{"start-noncanonical", true, "0efd010001", ErrNonCanonical},
	{"count-above-limit", true, "0e00fe01000100", ErrLimit},
	{"hash-size-0", false, "0e0001" + "00" + "00", ErrReserved},
	{"hashes-truncated", false, "0e0002" + "20" + "00" + strings.Repeat("11", 40), ErrShort},
	{"trailing", true, "0e000100", ErrTrailing},
}

func TestRunRejects(t *testing.T) {
	for _, tc := range runRejects {
		b, err := hex.DecodeString(tc.hex)
		if err != nil {
			t.Fatalf("%s: bad hex", tc.name)
		}
		run, err := decodeOneRun(b, tc.hashless)
		if !errors.Is(err, tc.kind) {
			t.Errorf("%s: decode %s = %+v, %v; want %v", tc.name, tc.hex, run, err, tc.kind)
		}
	}
}

// runWalks lists runs with the positions they walk (nil want: the walk
// leaves the tree and Positions fails with ErrMalformed).
var runWalks = []struct {
	name  string
	dir   Direction
	level uint8
	start uint32
	count int
	want  []merkle.Pos
}{
	{"empty", Flat, 5, 3, 0, []merkle.Pos{}},
	{"flat-one", Flat, 0, 0, 1, ps(0, 0)},
	{"flat", Flat, 4, 0, 9, ps(4, 0, 4, 1, 4, 2, 4, 3, 4, 4, 4, 5, 4, 6, 4, 7, 4, 8)},
	{"flat-mid", Flat, 14, 253, 3, ps(14, 253, 14, 254, 14, 255)},
	{"flat-to-max", Flat, 24, MaxStart - 1, 2, ps(24, MaxStart-1, 24, MaxStart)},
	{"flat-past-max", Flat, 24, MaxStart, 2, nil},
	// §1 worked example: the descending run of the 10,000-leaf lap.
	{"down-spec-example", Down, 14, 9999, 7, ps(14, 9999, 14, 9998, 13, 4998, 12, 2498, 11, 1248, 6, 38, 5, 18)},
	// §3.3: ascending from (3,0) in a depth-3 tree.
	{"up-spec-example", Up, 3, 0, 4, ps(3, 0, 3, 1, 2, 1, 1, 1)},
	{"up-past-root", Up, 3, 0, 5, nil},
	{"up-from-root", Up, 0, 0, 2, nil},
	{"up-right-edge", Up, 3, 7, 2, nil},
	{"up-one-at-right-edge", Up, 3, 7, 1, ps(3, 7)},
	{"up-mid", Up, 4, 5, 3, ps(4, 5, 3, 3, 1, 1)},
	{"down-to-left-edge", Down, 3, 5, 3, ps(3, 5, 3, 4, 1, 0)},
	{"down-to-zero", Down, 3, 1, 2, ps(3, 1, 3, 0)},
	{"down-past-left", Down, 3, 1, 3, nil},
	{"down-from-zero", Down, 2, 0, 2, nil},
	{"down-from-root", Down, 0, 0, 2, nil},
	{"down-power-of-two", Down, 3, 4, 3, nil},
	{"down-power-of-two-ok", Down, 3, 4, 2, ps(3, 4, 1, 0)},
	{"level-25", Flat, 25, 0, 1, nil},
	{"level-63", Up, 63, 0, 1, nil},
	{"level-24-ok", Down, 24, 1 << 23, 2, ps(24, 1<<23, 1, 0)},
}

func TestRunPositions(t *testing.T) {
	for _, tc := range runWalks {
		run := Run{Dir: tc.dir, Level: tc.level, Start: tc.start, Seq: HashSeq{Count: tc.count}}
		got, err := run.Positions()
		if tc.want == nil {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: Positions = %v, %v; want ErrMalformed", tc.name, got, err)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) || (len(got) > 0 && !slices.Equal(got, tc.want)) {
			t.Errorf("%s: Positions = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

// TestRunBranchHalves checks §3.3's characterisation: an ascending run from a
// left-child leaf is the right half of the leaf's merkle branch (the
// siblings of its left-child ancestors, deepest first), and a descending run
// from a right-child leaf is the left half.
func TestRunBranchHalves(t *testing.T) {
	for depth := uint8(1); depth <= 10; depth++ {
		for i := uint32(0); i < 1<<depth; i++ {
			dir, parity := Up, uint32(0)
			if i&1 == 1 {
				dir, parity = Down, 1
			}
			var want []merkle.Pos
			want = append(want, merkle.Pos{Level: depth, Index: i})
			for l := depth; l >= 1; l-- {
				a := merkle.Pos{Level: l, Index: i >> (depth - l)}
				if a.Index&1 == parity {
					want = append(want, a.Sibling())
				}
			}
			run := Run{Dir: dir, Level: depth, Start: i, Seq: HashSeq{Count: len(want)}}
			got, err := run.Positions()
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("%v run from (%d,%d): %v, %v; want %v", dir, depth, i, got, err, want)
			}
			// One more node leaves the tree.
			run.Seq.Count++
			if _, err := run.Positions(); !errors.Is(err, ErrMalformed) {
				t.Fatalf("%v run from (%d,%d) with %d nodes: %v", dir, depth, i, run.Seq.Count, err)
			}
		}
	}
}

// TestRunWalkProperties checks, for random runs, that every step is the one
// §3.3 defines with the trailing-bit formulas, and that the nodes of an
// up or down walk cover adjacent, disjoint leaf ranges in a perfect tree.
func TestRunWalkProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		depth := uint8(rng.IntN(merkle.MaxDepth + 1))
		dir := Direction(rng.IntN(3))
		start := uint32(rng.Int64N(1 << depth))
		run := Run{Dir: dir, Level: depth, Start: start, Seq: HashSeq{Count: 1 + rng.IntN(30)}}
		got, err := run.Positions()
		if err != nil {
			continue
		}
		for k := 1; k < len(got); k++ {
			p, q := got[k-1], got[k]
			lo0, hi0 := leafSpan(depth, p)
			lo1, hi1 := leafSpan(depth, q)
			switch dir {
			case Flat:
				if q != (merkle.Pos{Level: p.Level, Index: p.Index + 1}) {
					t.Fatalf("flat step %v -> %v", p, q)
				}
			case Up:
				if lo1 != hi0 || q.Level > p.Level {
					t.Fatalf("up step %v -> %v does not continue rightwards", p, q)
				}
			case Down:
				if hi1 != lo0 || q.Level > p.Level {
					t.Fatalf("down step %v -> %v does not continue leftwards", p, q)
				}
			}
		}
	}
}

// leafSpan returns the leaves [lo, hi) under p in a perfect tree of depth.
func leafSpan(depth uint8, p merkle.Pos) (lo, hi uint64) {
	return uint64(p.Index) << (depth - p.Level), uint64(p.Index+1) << (depth - p.Level)
}

func TestRunRoundTrip(t *testing.T) {
	for _, hashless := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(5, 6))
		for range 3000 {
			run := randRun(rng, hashless)
			b := AppendRun(nil, &run, hashless)
			got, err := decodeOneRun(b, hashless)
			if err != nil {
				t.Fatalf("hashless=%v: decode(encode(%+v)): %v", hashless, run, err)
			}
			if !runEqual(&got, &run) {
				t.Fatalf("hashless=%v: round trip %+v -> %+v", hashless, run, got)
			}
			if again := AppendRun(nil, &got, hashless); !bytes.Equal(again, b) {
				t.Fatalf("re-encoding differs")
			}
		}
	}
}

func TestDirectionString(t *testing.T) {
	for d, want := range map[Direction]string{Flat: "flat", Down: "down", Up: "up", 3: "reserved"} {
		if d.String() != want {
			t.Errorf("Direction(%d).String() = %q", d, d.String())
		}
	}
}
