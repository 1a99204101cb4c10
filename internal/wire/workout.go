package wire

// Workout is a set of runs (docs/protocol.md §3.4). A lap and a hashless
// workout are workouts too: a lap is a workout with a cover property that
// only a tree shape can check (see merkle.ComputeCover), and a hashless
// workout is one encoded without its hashes.
type Workout struct {
	Runs []Run
}

// Nodes returns the total number of nodes over all runs.
func (w *Workout) Nodes() int {
	n := 0
	for i := range w.Runs {
		n += w.Runs[i].Seq.Count
	}
	return n
}

// AppendWorkout appends w, without hashes when hashless is set.
func AppendWorkout(b []byte, w *Workout, hashless bool) []byte {
	b = AppendVarint(b, uint64(len(w.Runs)))
	for i := range w.Runs {
		b = AppendRun(b, &w.Runs[i], hashless)
	}
	return b
}

// ReadWorkout reads a workout. Errors are recorded in r.
func ReadWorkout(r *Reader, hashless bool) Workout {
	// A run takes at least three bytes (level, start, count).
	n := r.Count(MaxRuns, 3, "run")
	if r.Err() != nil || n == 0 {
		return Workout{}
	}
	w := Workout{Runs: make([]Run, n)}
	total := 0
	for i := range w.Runs {
		w.Runs[i] = ReadRun(r, hashless)
		if r.Err() != nil {
			return Workout{}
		}
		total += w.Runs[i].Seq.Count
		if total > MaxWorkoutNodes {
			r.Fail(errorf(ErrLimit, "workout of more than %d nodes", MaxWorkoutNodes))
			return Workout{}
		}
	}
	return w
}

// DecodeWorkout decodes a whole byte slice as one workout.
func DecodeWorkout(b []byte, hashless bool) (Workout, error) {
	r := NewReader(b)
	w := ReadWorkout(r, hashless)
	if err := r.Done(); err != nil {
		return Workout{}, err
	}
	return w, nil
}
