package wire

// JOB_STATE FLAGS bits.
const (
	// JobStateComplete: the sender has every node and body.
	JobStateComplete = 1 << 0
	// JobStateNoPush: do not push this job to the sender; it pulls what
	// it lacks (it already has enough pushers).
	JobStateNoPush = 1 << 1
	jobStateFlags  = JobStateComplete | JobStateNoPush
)

// JobState is JOB_STATE (UDP 0x43): what the sender has verified and not yet
// seen acknowledged. Nodes and Bodies are hashless workouts of flat runs
// (Bodies at the leaf level).
//
// The decoder rejects undefined FLAGS bits (ErrReserved), runs that are not
// flat (ErrMalformed) and the workout limits; positions against the tree
// shape are for the job engine.
type JobState struct {
	JobID    JobID
	StateSeq uint32
	Flags    uint8
	Nodes    Workout // hashless, flat runs
	Bodies   Workout // hashless, flat runs at the leaf level
}

// Type returns TypeJobState.
func (*JobState) Type() MsgType { return TypeJobState }

// Append appends the payload; the workouts are written hashless.
func (m *JobState) Append(b []byte) []byte {
	b = append(b, m.JobID[:]...)
	b = AppendUint32(b, m.StateSeq)
	b = append(b, m.Flags)
	b = AppendWorkout(b, &m.Nodes, true)
	return AppendWorkout(b, &m.Bodies, true)
}

// DecodeJobState decodes a JOB_STATE payload.
func DecodeJobState(payload []byte) (*JobState, error) {
	m := &JobState{}
	if err := m.decode(payload, "JOB_STATE"); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *JobState) decode(payload []byte, what string) error {
	r := NewReader(payload)
	m.JobID = readJobID(r)
	m.StateSeq = r.Uint32()
	m.Flags = r.Uint8()
	if r.Err() == nil && m.Flags&^jobStateFlags != 0 {
		r.Fail(errorf(ErrReserved, "%s flags %#02x", what, m.Flags))
	}
	m.Nodes = readFlatWorkout(r, MaxWorkoutNodes, what+" nodes")
	m.Bodies = readFlatWorkout(r, MaxWorkoutNodes, what+" bodies")
	return r.Done()
}

// readFlatWorkout reads a hashless workout of flat runs naming at most
// limit nodes.
func readFlatWorkout(r *Reader, limit int, what string) Workout {
	w := readHashlessWorkout(r, limit, what)
	for i := range w.Runs {
		if w.Runs[i].Dir != Flat {
			r.Fail(errorf(ErrMalformed, "%s: run %d is %v, not flat", what, i, w.Runs[i].Dir))
			return Workout{}
		}
	}
	return w
}

// readHashlessWorkout reads a hashless workout naming at most limit nodes.
func readHashlessWorkout(r *Reader, limit int, what string) Workout {
	if r.Err() != nil {
		return Workout{}
	}
	w := ReadWorkout(r, true)
	if r.Err() != nil {
		return Workout{}
	}
	if n := w.Nodes(); n > limit {
		r.Fail(errorf(ErrLimit, "%s: %d nodes above %d", what, n, limit))
		return Workout{}
	}
	return w
}
