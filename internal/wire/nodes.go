package wire

// Nodes is NODES (UDP 0x46): node hashes, requested (ReqID of the GET_NODES)
// or pushed (ReqID 0). The decoder checks the workout's encoding; whether
// the positions exist, internal nodes carry full hashes and the groups
// verify is for the job engine.
type Nodes struct {
	JobID JobID
	ReqID uint32
	Runs  Workout
}

// Type returns TypeNodes.
func (*Nodes) Type() MsgType { return TypeNodes }

// Append appends the payload.
func (m *Nodes) Append(b []byte) []byte {
	b = append(b, m.JobID[:]...)
	b = AppendUint32(b, m.ReqID)
	return AppendWorkout(b, &m.Runs, false)
}

// DecodeNodes decodes a NODES payload. The hashes alias payload.
func DecodeNodes(payload []byte) (*Nodes, error) {
	r := NewReader(payload)
	m := &Nodes{JobID: readJobID(r), ReqID: r.Uint32()}
	if r.Err() == nil {
		m.Runs = ReadWorkout(r, false)
	}
	if err := r.Done(); err != nil {
		return nil, err
	}
	return m, nil
}
