package wire

import "github.com/blocktorrent/blocktorrent/internal/merkle"

// Direction is how a run walks the tree (docs/protocol.md §3.3).
type Direction uint8

// The run directions, as encoded in the two high bits of the level byte.
const (
	Flat Direction = 0 // same level, rightwards
	Down Direction = 1 // descending: leftwards while climbing
	Up   Direction = 2 // ascending: rightwards while climbing
)

// String names the direction.
func (d Direction) String() string {
	switch d {
	case Flat:
		return "flat"
	case Down:
		return "down"
	case Up:
		return "up"
	}
	return "reserved"
}

// Limits of runs and workouts.
const (
	// MaxLevel is the largest level a run can name (six bits).
	MaxLevel = 63
	// MaxStart bounds a run's START index.
	MaxStart = merkle.MaxLeaves - 1
	// MaxRuns is the largest RUN_COUNT of a workout.
	MaxRuns = 4096
	// MaxWorkoutNodes is the largest number of nodes over all runs of a
	// workout.
	MaxWorkoutNodes = 65536
)

// Run is a straight walk of Seq.Count nodes from node(Level, Start).
type Run struct {
	Dir   Direction
	Level uint8
	Start uint32
	Seq   HashSeq
}

// AppendRun appends run (its sequence hashless when hashless is set).
func AppendRun(b []byte, run *Run, hashless bool) []byte {
	b = append(b, byte(run.Dir)<<6|run.Level)
	b = AppendVarint(b, uint64(run.Start))
	return AppendHashSeq(b, &run.Seq, hashless)
}

// ReadRun reads one run. Errors are recorded in r.
func ReadRun(r *Reader, hashless bool) Run {
	lv := r.Uint8()
	start := r.Varint()
	if r.Err() != nil {
		return Run{}
	}
	run := Run{Dir: Direction(lv >> 6), Level: lv & MaxLevel}
	if run.Dir > Up {
		r.Fail(errorf(ErrReserved, "run direction 3"))
		return Run{}
	}
	if start > MaxStart {
		r.Fail(errorf(ErrLimit, "run start %d above %d", start, MaxStart))
		return Run{}
	}
	run.Start = uint32(start)
	run.Seq = ReadHashSeq(r, hashless)
	if r.Err() != nil {
		return Run{}
	}
	return run
}

// Positions walks the run and returns the position of each of its nodes. It
// fails with ErrMalformed when the walk leaves any tree (passes the root or
// the left edge, or an index exceeds MaxStart); whether the positions exist
// in a particular block's tree is for merkle.Shape.Valid to say.
func (run *Run) Positions() ([]merkle.Pos, error) {
	if run.Seq.Count == 0 {
		return nil, nil
	}
	if int(run.Level) > merkle.MaxDepth {
		return nil, errorf(ErrMalformed, "run level %d deeper than any tree", run.Level)
	}
	out := make([]merkle.Pos, run.Seq.Count)
	p := merkle.Pos{Level: run.Level, Index: run.Start}
	for i := range out {
		if i > 0 {
			var ok bool
			p, ok = nextPos(run.Dir, p)
			if !ok {
				return nil, errorf(ErrMalformed, "%v run from (%d,%d) leaves the tree after %d nodes", run.Dir, run.Level, run.Start, i)
			}
		}
		out[i] = p
	}
	return out, nil
}
