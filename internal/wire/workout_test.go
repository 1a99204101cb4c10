package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// workoutEqual compares two workouts run by run (nil and empty are equal).
func workoutEqual(a, b *Workout) bool {
	if len(a.Runs) != len(b.Runs) {
		return false
	}
	for i := range a.Runs {
		if !runEqual(&a.Runs[i], &b.Runs[i]) {
			return false
		}
	}
	return true
}

// randWorkout draws a random workout of at most MaxWorkoutNodes nodes.
func randWorkout(rng *rand.Rand, hashless bool) Workout {
	n := rng.IntN(12)
	if rng.IntN(20) == 0 {
		n = 0
	}
	var w Workout
	total := 0
	for range n {
		run := randRun(rng, hashless)
		if total+run.Seq.Count > MaxWorkoutNodes {
			break
		}
		total += run.Seq.Count
		w.Runs = append(w.Runs, run)
	}
	return w
}

// hashlessRuns returns a hashless workout of n flat runs of count nodes.
func hashlessRuns(n, count int) Workout {
	w := Workout{Runs: make([]Run, n)}
	for i := range w.Runs {
		w.Runs[i] = Run{Dir: Flat, Level: 16, Start: uint32(i), Seq: HashSeq{Count: count}}
	}
	return w
}

func TestWorkoutEncoding(t *testing.T) {
	w := Workout{Runs: []Run{
		{Dir: Flat, Level: 4, Start: 0, Seq: HashSeq{Count: 9}},
		{Dir: Down, Level: 14, Start: 9999, Seq: HashSeq{Count: 7}},
	}}
	b := AppendWorkout(nil, &w, true)
	if got := hex.EncodeToString(b); got != "02"+"040009"+"4efd0f2707" {
		t.Fatalf("hashless workout = %s", got)
	}
	got, err := DecodeWorkout(b, true)
	if err != nil || !workoutEqual(&got, &w) {
		t.Fatalf("DecodeWorkout = %+v, %v", got, err)
	}
	if got.Nodes() != 16 {
		t.Fatalf("Nodes() = %d, want 16", got.Nodes())
	}
	empty, err := DecodeWorkout([]byte{0}, false)
	if err != nil || len(empty.Runs) != 0 || empty.Nodes() != 0 {
		t.Fatalf("empty workout: %+v, %v", empty, err)
	}
	if b := AppendWorkout(nil, &Workout{}, false); !bytes.Equal(b, []byte{0}) {
		t.Fatalf("empty workout encodes as %x", b)
	}
}

func TestWorkoutLimits(t *testing.T) {
	// MaxRuns runs are accepted, one more is not.
	w := hashlessRuns(MaxRuns, 1)
	b := AppendWorkout(nil, &w, true)
	if got, err := DecodeWorkout(b, true); err != nil || len(got.Runs) != MaxRuns {
		t.Fatalf("%d runs: %d, %v", MaxRuns, len(got.Runs), err)
	}
	w = hashlessRuns(MaxRuns+1, 1)
	b = AppendWorkout(nil, &w, true)
	if _, err := DecodeWorkout(b, true); !errors.Is(err, ErrLimit) {
		t.Fatalf("%d runs: %v, want ErrLimit", MaxRuns+1, err)
	}

	// MaxWorkoutNodes nodes are accepted, in one run or spread over many.
	for _, shape := range [][2]int{{1, MaxWorkoutNodes}, {2, MaxWorkoutNodes / 2}, {MaxRuns, MaxWorkoutNodes / MaxRuns}} {
		w = hashlessRuns(shape[0], shape[1])
		b = AppendWorkout(nil, &w, true)
		got, err := DecodeWorkout(b, true)
		if err != nil || got.Nodes() != MaxWorkoutNodes {
			t.Fatalf("%d runs of %d: %d nodes, %v", shape[0], shape[1], got.Nodes(), err)
		}
		// One node more anywhere is over the limit.
		w.Runs[len(w.Runs)-1].Seq.Count++
		b = AppendWorkout(nil, &w, true)
		if _, err := DecodeWorkout(b, true); !errors.Is(err, ErrLimit) {
			t.Fatalf("%d runs of %d plus one: %v, want ErrLimit", shape[0], shape[1], err)
		}
	}

	// The node limit applies to hashful workouts too.
	full := make([][32]byte, MaxWorkoutNodes/2+1)
	w = Workout{Runs: []Run{
		{Dir: Flat, Level: 17, Start: 0, Seq: FullHashes(full)},
		{Dir: Flat, Level: 17, Start: 1 << 16, Seq: FullHashes(full)},
	}}
	b = AppendWorkout(nil, &w, false)
	if _, err := DecodeWorkout(b, false); !errors.Is(err, ErrLimit) {
		t.Fatalf("hashful workout of %d nodes: %v", w.Nodes(), err)
	}
}

var workoutRejects = []struct {
	name     string
	hashless bool
	hex      string
	kind     error
}{
	{"empty", true, "", ErrShort},
	{"run-count-4097", true, "fd0110", ErrLimit},
	{"run-count-huge", false, "ffffffffffffffffff", ErrLimit},
	{"run-count-noncanonical", true, "fd0100" + "000001", ErrNonCanonical},
	{"run-count-above-bytes", true, "02" + "000001", ErrShort},
	{"run-truncated", true, "02" + "000001" + "0001", ErrShort},
	{"nodes-65537", true, "02" + "0000fe00000100" + "000101", ErrLimit},
	{"nodes-2x65536", true, "02" + "0000fe00000100" + "0000fe00000100", ErrLimit},
	{"direction-3", true, "01" + "c00001", ErrReserved},
	{"bad-sequence", false, "01" + "000001" + "2100" + strings.Repeat("00", 33), ErrReserved},
	{"trailing", true, "01" + "000001" + "00", ErrTrailing},
}

func TestWorkoutRejects(t *testing.T) {
	for _, tc := range workoutRejects {
		b, err := hex.DecodeString(tc.hex)
		if err != nil {
			t.Fatalf("%s: bad hex", tc.name)
		}
		w, err := DecodeWorkout(b, tc.hashless)
		if !errors.Is(err, tc.kind) {
			t.Errorf("%s: DecodeWorkout(%s) = %+v, %v; want %v", tc.name, tc.hex, w, err, tc.kind)
		}
	}
}

// TestWorkoutHugeCountNoAlloc checks that a RUN_COUNT the input cannot hold
// fails before the runs are allocated.
func TestWorkoutHugeCountNoAlloc(t *testing.T) {
	b, _ := hex.DecodeString("fd0010" + "000001")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const runs = 200
	var err error
	for range runs {
		_, err = DecodeWorkout(b, true)
	}
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrShort) {
		t.Fatalf("err = %v, want ErrShort", err)
	}
	if perRun := (after.TotalAlloc - before.TotalAlloc) / runs; perRun > 1024 {
		t.Fatalf("%d bytes allocated per failed decode", perRun)
	}
}

func TestWorkoutRoundTrip(t *testing.T) {
	for _, hashless := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(8, 9))
		for range 1000 {
			w := randWorkout(rng, hashless)
			b := AppendWorkout(nil, &w, hashless)
			got, err := DecodeWorkout(b, hashless)
			if err != nil {
				t.Fatalf("hashless=%v: decode(encode(%d runs)): %v", hashless, len(w.Runs), err)
			}
			if !workoutEqual(&got, &w) {
				t.Fatalf("hashless=%v: round trip differs", hashless)
			}
			if again := AppendWorkout(nil, &got, hashless); !bytes.Equal(again, b) {
				t.Fatalf("re-encoding differs")
			}
			// Encoding a hashful workout hashless keeps the shape only.
			if !hashless {
				hb := AppendWorkout(nil, &w, true)
				hw, err := DecodeWorkout(hb, true)
				if err != nil || len(hw.Runs) != len(w.Runs) || hw.Nodes() != w.Nodes() {
					t.Fatalf("hashless view: %v", err)
				}
			}
		}
	}
}
