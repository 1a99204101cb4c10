package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"slices"
	"testing"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
)

// The fuzz targets of the §3 encodings. Each decodes arbitrary bytes and,
// when they decode, requires the encoder to reproduce exactly the bytes the
// decoder consumed: every encoding is canonical, so two different byte
// strings never decode to the same value. For sequences, runs and workouts
// the first input byte is a flag (bit 0: hashless) and the rest is the
// encoding. The seeds are the golden vectors of testdata/vectors.

// addVectorSeeds adds the hex of every vector of the given types, prefixed
// with flag when flagged is set.
func addVectorSeeds(f *testing.F, file string, flagged bool, types map[string]byte) {
	for _, rec := range readVectors(f, file) {
		flag, ok := types[rec.Type]
		if !ok {
			continue
		}
		b, err := hex.DecodeString(rec.Hex)
		if err != nil {
			f.Fatalf("%s %s: %v", file, rec.Name, err)
		}
		if flagged {
			b = append([]byte{flag}, b...)
		}
		f.Add(b)
	}
}

// splitFlag returns the hashless flag and the encoding of a flagged input.
func splitFlag(data []byte) (hashless bool, rest []byte) {
	if len(data) == 0 {
		return false, nil
	}
	return data[0]&1 == 1, data[1:]
}

// kindOf fails t unless err wraps exactly one of the wire error kinds.
func kindOf(t *testing.T, err error) {
	t.Helper()
	n := 0
	for _, k := range []error{ErrShort, ErrLimit, ErrNonCanonical, ErrReserved, ErrMalformed, ErrTrailing, ErrUnknownType} {
		if errors.Is(err, k) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("error %v wraps %d error kinds", err, n)
	}
}

func FuzzVarint(f *testing.F) {
	addVectorSeeds(f, "varint.json", false, map[string]byte{"varint": 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(data)
		v := r.Varint()
		if err := r.Err(); err != nil {
			kindOf(t, err)
			if v != 0 {
				t.Fatalf("failed varint returned %d", v)
			}
			return
		}
		enc := AppendVarint(nil, v)
		if !bytes.Equal(enc, data[:r.Offset()]) {
			t.Fatalf("%x decodes to %d, which encodes as %x", data[:r.Offset()], v, enc)
		}
		if VarintLen(v) != len(enc) {
			t.Fatalf("VarintLen(%d) = %d, encoded %d bytes", v, VarintLen(v), len(enc))
		}
	})
}

// checkSeq checks the invariants of a decoded sequence.
func checkSeq(t *testing.T, s *HashSeq, hashless bool) {
	t.Helper()
	if s.Count < 0 || s.Count > MaxSeqCount {
		t.Fatalf("count %d", s.Count)
	}
	if hashless {
		if s.DefaultSize != 0 || s.Exceptions != nil || s.Data != nil || s.Hashes() != nil {
			t.Fatalf("hashless sequence with hashes: %+v", s)
		}
		return
	}
	if s.DefaultSize < MinHashSize || s.DefaultSize > MaxHashSize {
		t.Fatalf("default size %d", s.DefaultSize)
	}
	prev := -1
	for _, e := range s.Exceptions {
		if e.Index <= prev || e.Index >= s.Count || e.Size == s.DefaultSize || e.Size < MinHashSize || e.Size > MaxHashSize {
			t.Fatalf("bad exception %+v after index %d (count %d, default %d)", e, prev, s.Count, s.DefaultSize)
		}
		prev = e.Index
	}
	if len(s.Data) != s.dataLen() {
		t.Fatalf("%d bytes of data, want %d", len(s.Data), s.dataLen())
	}
	hs := s.Hashes()
	if len(hs) != s.Count {
		t.Fatalf("%d hashes for count %d", len(hs), s.Count)
	}
	for i, h := range hs {
		if len(h) != int(s.Size(i)) {
			t.Fatalf("hash %d: %d bytes, size %d", i, len(h), s.Size(i))
		}
	}
}

func FuzzHashSeq(f *testing.F) {
	addVectorSeeds(f, "hashseq.json", true, map[string]byte{"hashseq": 0, "hashseq_hashless": 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		hashless, in := splitFlag(data)
		r := NewReader(in)
		s := ReadHashSeq(r, hashless)
		if err := r.Err(); err != nil {
			kindOf(t, err)
			return
		}
		checkSeq(t, &s, hashless)
		if enc := AppendHashSeq(nil, &s, hashless); !bytes.Equal(enc, in[:r.Offset()]) {
			t.Fatalf("%x decodes to %+v, which encodes as %x", in[:r.Offset()], s, enc)
		}
	})
}

// checkRun checks a decoded run's walk and node conversion.
func checkRun(t *testing.T, run *Run, hashless bool) {
	t.Helper()
	checkSeq(t, &run.Seq, hashless)
	if run.Dir > Up || run.Level > MaxLevel || run.Start > MaxStart {
		t.Fatalf("run %v (%d,%d)", run.Dir, run.Level, run.Start)
	}
	pos, err := run.Positions()
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("Positions: %v", err)
		}
	} else {
		if len(pos) != run.Seq.Count {
			t.Fatalf("%d positions for %d nodes", len(pos), run.Seq.Count)
		}
		for _, p := range pos {
			if p.Level > merkle.MaxDepth || p.Index > MaxStart {
				t.Fatalf("position %v", p)
			}
		}
		// The positions rebuild into runs that walk them again.
		runs, err := RunsFromPositions(pos)
		if err != nil {
			t.Fatalf("RunsFromPositions: %v", err)
		}
		var again []merkle.Pos
		for i := range runs {
			p, err := runs[i].Positions()
			if err != nil {
				t.Fatalf("rebuilt run: %v", err)
			}
			again = append(again, p...)
		}
		if !slices.Equal(again, pos) {
			t.Fatalf("rebuilt runs walk other positions")
		}
	}
	nodes, nerr := run.Nodes()
	switch {
	case nerr == nil && len(nodes) != run.Seq.Count:
		t.Fatalf("%d nodes for count %d", len(nodes), run.Seq.Count)
	case nerr != nil && !errors.Is(nerr, ErrMalformed):
		t.Fatalf("Nodes: %v", nerr)
	case nerr == nil && run.Seq.Count > 0 && (hashless || err != nil):
		t.Fatalf("Nodes of a hashless or unwalkable run succeeded")
	}
}

func FuzzRun(f *testing.F) {
	addVectorSeeds(f, "runs.json", true, map[string]byte{"run": 0, "run_hashless": 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		hashless, in := splitFlag(data)
		r := NewReader(in)
		run := ReadRun(r, hashless)
		if err := r.Err(); err != nil {
			kindOf(t, err)
			return
		}
		checkRun(t, &run, hashless)
		if enc := AppendRun(nil, &run, hashless); !bytes.Equal(enc, in[:r.Offset()]) {
			t.Fatalf("%x decodes to %+v, which encodes as %x", in[:r.Offset()], run, enc)
		}
	})
}

func FuzzWorkout(f *testing.F) {
	addVectorSeeds(f, "workouts.json", true, map[string]byte{"workout": 0, "workout_hashless": 1})
	addVectorSeeds(f, "laps.json", true, map[string]byte{"lap": 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		hashless, in := splitFlag(data)
		r := NewReader(in)
		w := ReadWorkout(r, hashless)
		err := r.Err()
		whole, werr := DecodeWorkout(in, hashless)
		if err != nil {
			kindOf(t, err)
			if werr == nil {
				t.Fatal("DecodeWorkout accepts what ReadWorkout rejects")
			}
			return
		}
		if (werr == nil) != (r.Len() == 0) {
			t.Fatalf("DecodeWorkout: %v with %d bytes left", werr, r.Len())
		}
		if werr == nil && !workoutEqual(&whole, &w) {
			t.Fatal("DecodeWorkout and ReadWorkout differ")
		}
		if len(w.Runs) > MaxRuns || w.Nodes() > MaxWorkoutNodes {
			t.Fatalf("%d runs, %d nodes", len(w.Runs), w.Nodes())
		}
		for i := range w.Runs {
			checkRun(t, &w.Runs[i], hashless)
		}
		if enc := AppendWorkout(nil, &w, hashless); !bytes.Equal(enc, in[:r.Offset()]) {
			t.Fatalf("%x decodes to a workout that encodes as %x", in[:r.Offset()], enc)
		}
		// As a root lap of some tree: must not panic, and must not accept
		// a lap without the last leaf.
		if hashless || len(w.Runs) == 0 {
			return
		}
		n := 1 + w.Runs[0].Start%(1<<17)
		shape := merkle.MustShape(n)
		var root [32]byte
		if h := w.Runs[0].Seq.Hashes(); len(h) > 0 {
			copy(root[:], h[0])
		}
		nodes, verr := VerifyRootLap(shape, root, &w)
		if verr == nil {
			found := false
			for _, x := range nodes {
				found = found || x.Pos == shape.Leaf(n-1)
			}
			if !found {
				t.Fatal("root lap without the last leaf verified")
			}
		}
	})
}
