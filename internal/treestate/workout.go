package treestate

import (
	"github.com/blocktorrent/blocktorrent/internal/merkle"
	"github.com/blocktorrent/blocktorrent/internal/wire"
)

// Job state travels as hashless workouts of flat runs (docs/protocol.md §6,
// JOB_STATE): each Range is one run, a level byte, a varint start and a
// varint count (3 to 11 bytes). The protocol prefers this to a level number
// plus a bitmap of the level:
//
//   - A flat run is the run-length encoding of the level's bitmap. It costs
//     a few bytes per contiguous stretch of verified nodes, whatever its
//     length, where a bitmap costs count(level)/8 bytes for every level it
//     mentions, however little of it changed.
//   - Verified data lands in contiguous groups (§7.2: the nodes of a tier
//     under one verified node), and a JOB_STATE carries only what is new
//     since the previous one: typically one run per group. The bitmap of
//     the leaf level of a 10,000-leaf block alone is 1,250 bytes, more than
//     a 1,200-byte datagram, to announce 32 new leaves.
//
// TestStateEncodingSize measures both for a 10,000-leaf block (tiers 4, 9
// and 14, 323 groups) whose groups arrive in random order, as the mean of
// five orders. A JOB_STATE that announces the tier nodes verified since the
// previous one costs 7.5 bytes of runs (59 at most) against 1,250 bytes of
// bitmaps when it follows every group, and 51 bytes against 1,256 when it
// batches 16 groups. Even the whole state of the tier levels is at most
// about 250 bytes of runs (half the groups in, 51 runs) against 1,295
// bytes of bitmaps, and 14 bytes once the tree is complete. Runs would lose
// only for a level in which isolated nodes alternate with gaps, which whole
// groups do not produce.

// RangesToWorkout returns the hashless workout of flat runs naming ranges,
// one run per range (ranges longer than MaxRangeCount are cut; empty ones
// are left out). It does not bound the total: a workout for the wire holds
// at most wire.MaxRuns runs and wire.MaxWorkoutNodes nodes, and
// AppendRangesBounded encodes what fits.
func RangesToWorkout(ranges []Range) wire.Workout {
	var w wire.Workout
	for _, r := range ranges {
		for s := uint64(r.Start); s < uint64(r.Start)+uint64(r.Count); s += MaxRangeCount {
			c := min(uint64(r.Start)+uint64(r.Count)-s, MaxRangeCount)
			w.Runs = append(w.Runs, wire.Run{
				Dir:   wire.Flat,
				Level: r.Level,
				Start: uint32(s),
				Seq:   wire.HashSeq{Count: int(c)},
			})
		}
	}
	return w
}

// RangesFromWorkout returns the ranges a received hashless workout names,
// one per non-empty run, in the workout's order. Every run must be flat
// (ErrMalformed otherwise: job states, GET_TXS and the ranges of this
// package use flat runs only) and lie in the tree of shape (ErrBadPos); the
// workout may hold at most wire.MaxRuns runs and wire.MaxWorkoutNodes nodes
// (ErrLimit), as the decoder already enforces for received ones.
func RangesFromWorkout(shape merkle.Shape, w wire.Workout) ([]Range, error) {
	if len(w.Runs) > wire.MaxRuns {
		return nil, errorf(ErrLimit, "%d runs, at most %d", len(w.Runs), wire.MaxRuns)
	}
	total := 0
	out := make([]Range, 0, len(w.Runs))
	for i := range w.Runs {
		run := &w.Runs[i]
		if run.Dir != wire.Flat {
			return nil, errorf(ErrMalformed, "run %d is %v, job state runs are flat", i, run.Dir)
		}
		if run.Seq.Count < 0 || run.Seq.Count > wire.MaxWorkoutNodes-total {
			return nil, errorf(ErrLimit, "workout of more than %d nodes", wire.MaxWorkoutNodes)
		}
		total += run.Seq.Count
		r := Range{Level: run.Level, Start: run.Start, Count: uint32(run.Seq.Count)}
		if err := r.check(shape); err != nil {
			return nil, err
		}
		if r.Count > 0 {
			out = append(out, r)
		}
	}
	return out, nil
}

// runLen returns the encoded size of a range as a hashless flat run.
func runLen(r Range) int {
	return 1 + wire.VarintLen(uint64(r.Start)) + wire.VarintLen(uint64(r.Count))
}

// AppendRangesBounded appends to b a hashless workout of flat runs naming
// the longest prefix of ranges that fits in maxBytes bytes (RUN_COUNT
// included), wire.MaxRuns runs and wire.MaxWorkoutNodes nodes, one run per
// range, and returns the extended slice and the number of ranges it used
// (empty ranges are used without a run). The caller sends ranges[used:] in a
// later message. A range longer than MaxRangeCount never fits, so used stops
// before it; the ranges of Missing and Wanted are never that long. With
// maxBytes < 1 nothing is appended and used is 0; otherwise the workout is
// always appended, if need be empty (one byte).
func AppendRangesBounded(b []byte, ranges []Range, maxBytes int) (out []byte, used int) {
	if maxBytes < 1 {
		return b, 0
	}
	nruns, size, nodes := 0, 0, 0
	for _, r := range ranges {
		if r.Count == 0 {
			used++
			continue
		}
		c := runLen(r)
		if nruns+1 > wire.MaxRuns || int(r.Count) > wire.MaxWorkoutNodes-nodes ||
			wire.VarintLen(uint64(nruns+1))+size+c > maxBytes {
			break
		}
		nruns++
		size += c
		nodes += int(r.Count)
		used++
	}
	b = wire.AppendVarint(b, uint64(nruns))
	for _, r := range ranges[:used] {
		if r.Count == 0 {
			continue
		}
		run := wire.Run{Dir: wire.Flat, Level: r.Level, Start: r.Start, Seq: wire.HashSeq{Count: int(r.Count)}}
		b = wire.AppendRun(b, &run, true)
	}
	return b, used
}
