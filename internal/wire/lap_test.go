package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
)

// lapLeaves returns n pseudo-random, distinct txids drawn from seed.
func lapLeaves(n int, seed uint64) []chainhash.Hash {
	rng := rand.New(rand.NewPCG(seed, seed^0x5bd1e995))
	out := make([]chainhash.Hash, n)
	for i := range out {
		for j := 0; j < 32; j += 8 {
			binary.LittleEndian.PutUint64(out[i][j:], rng.Uint64())
		}
	}
	return out
}

// hashAtLevels returns a hashAt function over the levels of a tree.
func hashAtLevels(levels [][]chainhash.Hash) func(merkle.Pos) chainhash.Hash {
	return func(p merkle.Pos) chainhash.Hash { return levels[p.Level][p.Index] }
}

func TestRunNodes(t *testing.T) {
	hashes := lapLeaves(7, 1)
	run := Run{Dir: Down, Level: 14, Start: 9999, Seq: fullSeq(hashes)}
	nodes, err := run.Nodes()
	if err != nil {
		t.Fatal(err)
	}
	want := ps(14, 9999, 14, 9998, 13, 4998, 12, 2498, 11, 1248, 6, 38, 5, 18)
	for i, n := range nodes {
		if n.Pos != want[i] || n.Hash != hashes[i] {
			t.Fatalf("node %d = %v, want %v:%v", i, n, want[i], hashes[i])
		}
	}
	// The hashes are copied, not aliased.
	run.Seq.Data[0] ^= 1
	if nodes[0].Hash != hashes[0] {
		t.Fatal("Nodes aliases the run's data")
	}

	empty := HashlessFlat(3, 0, 0)
	if nodes, err := empty.Nodes(); err != nil || nodes != nil {
		t.Fatalf("empty run: %v, %v", nodes, err)
	}

	bad := []struct {
		name string
		run  Run
	}{
		{"hashless", HashlessFlat(3, 0, 2)},
		{"short-default", Run{Level: 3, Seq: HashSeq{Count: 1, DefaultSize: 4, Data: make([]byte, 4)}}},
		{"short-exception", Run{Level: 3, Seq: HashSeq{Count: 2, DefaultSize: 32, Exceptions: []Exception{{1, 8}}, Data: make([]byte, 40)}}},
		{"data-too-short", Run{Level: 3, Seq: HashSeq{Count: 2, DefaultSize: 32, Data: make([]byte, 32)}}},
		{"data-too-long", Run{Level: 3, Seq: HashSeq{Count: 1, DefaultSize: 32, Data: make([]byte, 33)}}},
		{"walk-leaves-tree", Run{Dir: Up, Level: 1, Start: 1, Seq: fullSeq(hashes[:2])}},
		{"negative-count", Run{Level: 3, Seq: HashSeq{Count: -1, DefaultSize: 32}}},
	}
	for _, tc := range bad {
		if nodes, err := tc.run.Nodes(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Nodes = %v, %v; want ErrMalformed", tc.name, nodes, err)
		}
	}
}

func TestWorkoutMerkleNodes(t *testing.T) {
	hashes := lapLeaves(5, 2)
	w := Workout{Runs: []Run{FlatRun(2, 0, hashes[:3]), {Dir: Down, Level: 3, Start: 7, Seq: fullSeq(hashes[3:])}}}
	nodes, err := w.MerkleNodes()
	if err != nil {
		t.Fatal(err)
	}
	want := ps(2, 0, 2, 1, 2, 2, 3, 7, 3, 6)
	if len(nodes) != len(want) || w.Nodes() != len(want) {
		t.Fatalf("%d nodes, Nodes() = %d", len(nodes), w.Nodes())
	}
	for i := range nodes {
		if nodes[i].Pos != want[i] || nodes[i].Hash != hashes[i] {
			t.Fatalf("node %d = %v", i, nodes[i])
		}
	}
	w.Runs = append(w.Runs, HashlessFlat(1, 0, 1))
	if _, err := w.MerkleNodes(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("workout with a hashless run: %v", err)
	}
	if nodes, err := (&Workout{}).MerkleNodes(); nodes != nil || err != nil {
		t.Fatalf("empty workout: %v, %v", nodes, err)
	}
}

func TestFlatRunHelpers(t *testing.T) {
	hashes := lapLeaves(3, 3)
	run := FlatRun(5, 10, hashes)
	b := AppendRun(nil, &run, false)
	if len(b) != 1+1+3+96 || b[0] != 5 || b[1] != 10 {
		t.Fatalf("FlatRun encodes as %x", b)
	}
	got, err := decodeOneRun(b, false)
	if err != nil || !runEqual(&got, &run) {
		t.Fatalf("FlatRun round trip: %v", err)
	}
	h := HashlessFlat(5, 10, 3)
	if b := AppendRun(nil, &h, true); string(b) != "\x05\x0a\x03" {
		t.Fatalf("HashlessFlat encodes as %x", b)
	}
	if p, err := h.Positions(); err != nil || !slices.Equal(p, ps(5, 10, 5, 11, 5, 12)) {
		t.Fatalf("HashlessFlat walks %v, %v", p, err)
	}
}

// randWalks returns positions made of k random walks of every direction
// and the number of walks.
func randWalks(rng *rand.Rand) ([]merkle.Pos, int) {
	var pos []merkle.Pos
	k := 1 + rng.IntN(6)
	for range k {
		depth := uint8(rng.IntN(merkle.MaxDepth + 1))
		run := Run{
			Dir:   Direction(rng.IntN(3)),
			Level: depth,
			Start: uint32(rng.Int64N(1 << depth)),
			Seq:   HashSeq{Count: 1 + rng.IntN(12)},
		}
		for run.Seq.Count > 0 {
			p, err := run.Positions()
			if err == nil {
				pos = append(pos, p...)
				break
			}
			run.Seq.Count--
		}
	}
	return pos, k
}

func TestRunsFromPositions(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 13))
	for range 3000 {
		pos, k := randWalks(rng)
		runs, err := RunsFromPositions(pos)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) > k {
			t.Fatalf("%d runs for positions made of %d walks", len(runs), k)
		}
		var got []merkle.Pos
		for i := range runs {
			p, err := runs[i].Positions()
			if err != nil {
				t.Fatalf("run %+v: %v", runs[i], err)
			}
			got = append(got, p...)
		}
		if !slices.Equal(got, pos) {
			t.Fatalf("runs walk %v, want %v", got, pos)
		}

		// With hashes: the runs encode, decode and give back the nodes.
		nodes := make([]merkle.Node, len(pos))
		for i := range nodes {
			nodes[i] = merkle.Node{Pos: pos[i], Hash: chainhash.Hash{byte(i), byte(i >> 8), 0xee}}
		}
		hruns, err := RunsFromNodes(nodes)
		if err != nil {
			t.Fatal(err)
		}
		w := Workout{Runs: hruns}
		dec, err := DecodeWorkout(AppendWorkout(nil, &w, false), false)
		if err != nil {
			t.Fatal(err)
		}
		back, err := dec.MerkleNodes()
		if err != nil || !slices.Equal(back, nodes) {
			t.Fatalf("nodes round trip: %v", err)
		}
	}
	// A long flat list splits at MaxSeqCount.
	long := make([]merkle.Pos, MaxSeqCount+5)
	for i := range long {
		long[i] = merkle.Pos{Level: 17, Index: uint32(i)}
	}
	runs, err := RunsFromPositions(long)
	if err != nil || len(runs) != 2 || runs[0].Seq.Count != MaxSeqCount || runs[1].Start != MaxSeqCount {
		t.Fatalf("long flat list: %d runs, %v", len(runs), err)
	}
	if runs, err := RunsFromPositions(nil); runs != nil || err != nil {
		t.Fatalf("no positions: %v, %v", runs, err)
	}
	for _, p := range []merkle.Pos{{Level: 25}, {Level: 3, Index: MaxStart + 1}} {
		if _, err := RunsFromPositions([]merkle.Pos{p}); !errors.Is(err, ErrLimit) {
			t.Fatalf("position %v: %v", p, err)
		}
	}
}

func TestLapLevel(t *testing.T) {
	cases := map[uint32]uint8{
		1: 0, 2: 1, 3: 2, 4: 2, 5: 3, 9: 4, 16: 4, 17: 4, 32: 4, 33: 4, 34: 4, 64: 4, 65: 4,
		10000: 4, 65536: 4, 131072: 4, 131071: 4, 100000: 4,
	}
	for n, want := range cases {
		shape := merkle.MustShape(n)
		l := LapLevel(shape)
		if l != want {
			t.Errorf("LapLevel(%d) = %d, want %d", n, l, want)
		}
		if shape.Count(l) > MaxLapLevelNodes || (l < shape.Depth() && shape.Count(l+1) <= MaxLapLevelNodes) {
			t.Errorf("LapLevel(%d) = %d is not the deepest level with at most 16 nodes", n, l)
		}
	}
}

// TestBuildRootLapSpecExample checks the §1 example: 10,000 transactions
// give 9 level-4 nodes and the 7-node descending run, 16 hashes.
func TestBuildRootLapSpecExample(t *testing.T) {
	shape := merkle.MustShape(10000)
	zero := func(merkle.Pos) chainhash.Hash { return chainhash.Hash{} }
	w, err := BuildRootLap(shape, zero)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Runs) != 2 || w.Nodes() != 16 {
		t.Fatalf("lap of %d runs, %d nodes", len(w.Runs), w.Nodes())
	}
	if r := w.Runs[0]; r.Dir != Flat || r.Level != 4 || r.Start != 0 || r.Seq.Count != 9 {
		t.Fatalf("first run %v (%d,%d) x%d", r.Dir, r.Level, r.Start, r.Seq.Count)
	}
	if r := w.Runs[1]; r.Dir != Down || r.Level != 14 || r.Start != 9999 || r.Seq.Count != 7 {
		t.Fatalf("second run %v (%d,%d) x%d", r.Dir, r.Level, r.Start, r.Seq.Count)
	}
	pos := RootLapPositions(shape)
	want := append(ps(4, 0, 4, 1, 4, 2, 4, 3, 4, 4, 4, 5, 4, 6, 4, 7, 4, 8),
		ps(14, 9999, 14, 9998, 13, 4998, 12, 2498, 11, 1248, 6, 38, 5, 18)...)
	if !slices.Equal(pos, want) {
		t.Fatalf("RootLapPositions = %v", pos)
	}
	// 16 hashes: 512 bytes, plus 13 bytes of RUN_COUNT and run headers.
	if b := AppendWorkout(nil, &w, false); len(b) != 512+13 {
		t.Fatalf("lap is %d bytes", len(b))
	}
}

func TestBuildRootLapSmall(t *testing.T) {
	leaves := lapLeaves(17, 4)
	for _, tc := range []struct {
		n    int
		runs string // direction, level, start, count of each run
	}{
		{1, "flat 0 0 1"},
		{2, "flat 1 0 2"},
		{16, "flat 4 0 16"},
		{17, "flat 4 0 8;down 5 16 1"},
	} {
		levels := merkle.Levels(leaves[:tc.n])
		w, err := BuildRootLap(merkle.MustShape(uint32(tc.n)), hashAtLevels(levels))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range w.Runs {
			got = append(got, fmt.Sprintf("%v %d %d %d", r.Dir, r.Level, r.Start, r.Seq.Count))
		}
		if s := strings.Join(got, ";"); s != tc.runs {
			t.Errorf("n=%d: lap %q, want %q", tc.n, s, tc.runs)
		}
	}
	if _, err := BuildRootLap(merkle.Shape{}, nil); err == nil {
		t.Fatal("lap of the zero shape")
	}
}

// checkRootLap builds the lap of n random leaves and checks it against the
// tree's root, through an encode/decode round trip, and against the shapes
// of n-1 and n+1 leaves.
func checkRootLap(t *testing.T, n int, seed uint64) {
	t.Helper()
	leaves := lapLeaves(n, seed)
	levels := merkle.Levels(leaves)
	root, mutated := merkle.Root(leaves)
	if mutated || levels[0][0] != root {
		t.Fatalf("n=%d: bad test tree", n)
	}
	shape := merkle.MustShape(uint32(n))
	w, err := BuildRootLap(shape, hashAtLevels(levels))
	if err != nil {
		t.Fatalf("n=%d: %v", n, err)
	}
	b := AppendWorkout(nil, &w, false)
	dec, err := DecodeWorkout(b, false)
	if err != nil {
		t.Fatalf("n=%d: decode lap: %v", n, err)
	}
	nodes, err := VerifyRootLap(shape, root, &dec)
	if err != nil {
		t.Fatalf("n=%d: lap does not verify: %v", n, err)
	}
	if err := merkle.VerifyCover(shape, shape.Root(), root, nodes); err != nil {
		t.Fatalf("n=%d: VerifyCover: %v", n, err)
	}
	last := shape.Leaf(uint32(n - 1))
	if !slices.ContainsFunc(nodes, func(x merkle.Node) bool { return x.Pos == last }) {
		t.Fatalf("n=%d: lap lacks the last leaf", n)
	}
	d, l := shape.Depth(), LapLevel(shape)
	if max := int(shape.Count(l)) - 1 + int(d-l) + 1; l < d && len(nodes) > max {
		t.Fatalf("n=%d: %d lap nodes, more than %d", n, len(nodes), max)
	}
	for _, x := range nodes {
		if x.Hash != levels[x.Pos.Level][x.Pos.Index] {
			t.Fatalf("n=%d: node %v has the wrong hash", n, x.Pos)
		}
	}
	// A wrong TX_COUNT: the positions fail the shape, the last leaf is
	// missing, or the cover fails.
	for _, m := range []int{n - 1, n + 1} {
		if m < 1 {
			continue
		}
		other := merkle.MustShape(uint32(m))
		if _, err := VerifyRootLap(other, root, &dec); err == nil {
			t.Fatalf("n=%d: lap verifies with TX_COUNT %d", n, m)
		}
	}
}

func TestBuildRootLapAll(t *testing.T) {
	for n := 1; n <= 600; n++ {
		checkRootLap(t, n, uint64(n))
	}
	sizes := []int{1023, 1024, 1025, 4097, 10000, 65537, 131071, 131072}
	if testing.Short() {
		sizes = []int{10000, 131072}
	}
	for _, n := range sizes {
		checkRootLap(t, n, uint64(n))
	}
}

// TestRootLapLastLeafPinsCount shows why the lap must hold the last leaf:
// the two leaves of a 2-transaction block are also a cover of the root of a
// 3-transaction tree (positions (1,0) and (1,1)) with the same hash, so only
// the last-leaf rule rejects TX_COUNT 3.
func TestRootLapLastLeafPinsCount(t *testing.T) {
	leaves := lapLeaves(2, 5)
	root, _ := merkle.Root(leaves)
	w, err := BuildRootLap(merkle.MustShape(2), hashAtLevels(merkle.Levels(leaves)))
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := w.MerkleNodes()
	if err != nil {
		t.Fatal(err)
	}
	three := merkle.MustShape(3)
	if err := merkle.VerifyCover(three, three.Root(), root, nodes); err != nil {
		t.Fatalf("the cover itself fails for 3 leaves (%v); the example is moot", err)
	}
	if _, err := VerifyRootLap(three, root, &w); !errors.Is(err, ErrMalformed) || !errors.Is(err, merkle.ErrIncomplete) {
		t.Fatalf("VerifyRootLap with TX_COUNT 3: %v", err)
	}
}

func TestVerifyRootLapRejects(t *testing.T) {
	const n = 300
	leaves := lapLeaves(n, 6)
	levels := merkle.Levels(leaves)
	root, _ := merkle.Root(leaves)
	shape := merkle.MustShape(n)
	build := func() Workout {
		w, err := BuildRootLap(shape, hashAtLevels(levels))
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	cases := []struct {
		name   string
		mutate func(w *Workout)
		kinds  []error
	}{
		{"wrong-hash", func(w *Workout) { w.Runs[0].Seq.Data[40] ^= 1 }, []error{merkle.ErrMismatch}},
		{"wrong-last-leaf-hash", func(w *Workout) { w.Runs[1].Seq.Data[0] ^= 1 }, []error{merkle.ErrMismatch}},
		{"missing-node", func(w *Workout) {
			s := &w.Runs[0].Seq
			s.Count--
			s.Data = s.Data[:len(s.Data)-32]
		}, []error{merkle.ErrIncomplete}},
		{"missing-last-leaf", func(w *Workout) { w.Runs = w.Runs[:1] }, []error{ErrMalformed, merkle.ErrIncomplete}},
		{"duplicate-node", func(w *Workout) { w.Runs = append(w.Runs, FlatRun(LapLevel(shape), 0, levels[LapLevel(shape)][:1])) }, []error{merkle.ErrOverlap}},
		{"node-under-node", func(w *Workout) {
			w.Runs = append(w.Runs, FlatRun(LapLevel(shape)+1, 0, levels[LapLevel(shape)+1][:1]))
		}, []error{merkle.ErrOverlap}},
		{"outside-shape", func(w *Workout) { w.Runs[0].Start = uint32(shape.Count(LapLevel(shape))) }, []error{ErrMalformed, merkle.ErrBadPos}},
		{"short-hash", func(w *Workout) {
			s := &w.Runs[0].Seq
			s.Exceptions = []Exception{{Index: 0, Size: 4}}
			s.Data = s.Data[28:]
		}, []error{ErrMalformed}},
		{"hashless", func(w *Workout) { w.Runs[0].Seq = HashSeq{Count: w.Runs[0].Seq.Count} }, []error{ErrMalformed}},
	}
	for _, tc := range cases {
		w := build()
		tc.mutate(&w)
		// Through the wire, so that the mutation is one a peer can send.
		b := AppendWorkout(nil, &w, false)
		if tc.name != "hashless" {
			var err error
			if w, err = DecodeWorkout(b, false); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
		}
		_, err := VerifyRootLap(shape, root, &w)
		if err == nil {
			t.Errorf("%s: lap verifies", tc.name)
			continue
		}
		for _, k := range tc.kinds {
			if !errors.Is(err, k) {
				t.Errorf("%s: %v, want %v", tc.name, err, k)
			}
		}
	}

	// Mutation (CVE-2012-2459): leaves a,b,c,c have the root of a,b,c.
	abc := lapLeaves(3, 7)
	mutRoot, _ := merkle.Root(abc)
	abcc := append(slices.Clone(abc), abc[2])
	if r, m := merkle.Root(abcc); r != mutRoot || !m {
		t.Fatal("bad mutation example")
	}
	w, err := BuildRootLap(merkle.MustShape(4), hashAtLevels(merkle.Levels(abcc)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyRootLap(merkle.MustShape(4), mutRoot, &w); !errors.Is(err, merkle.ErrMutated) {
		t.Fatalf("mutated lap: %v", err)
	}
	if _, err := VerifyRootLap(merkle.Shape{}, mutRoot, &w); err == nil {
		t.Fatal("zero shape accepted")
	}
}
