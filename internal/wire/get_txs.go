package wire

// GetTxs is GET_TXS (UDP 0x47): a request for transaction bodies, answered
// with TXS. The decoder rejects runs that are not flat (ErrMalformed) and
// more than 4,096 leaves (ErrLimit); that the runs are at the leaf level is
// for the job engine.
type GetTxs struct {
	JobID  JobID
	ReqID  uint32
	Leaves Workout // hashless, flat runs at the leaf level
}

// Type returns TypeGetTxs.
func (*GetTxs) Type() MsgType { return TypeGetTxs }

// Append appends the payload; Leaves is written hashless.
func (m *GetTxs) Append(b []byte) []byte {
	b = append(b, m.JobID[:]...)
	b = AppendUint32(b, m.ReqID)
	return AppendWorkout(b, &m.Leaves, true)
}

// DecodeGetTxs decodes a GET_TXS payload.
func DecodeGetTxs(payload []byte) (*GetTxs, error) {
	r := NewReader(payload)
	m := &GetTxs{JobID: readJobID(r), ReqID: r.Uint32()}
	m.Leaves = readFlatWorkout(r, MaxRequestNodes, "GET_TXS")
	if err := r.Done(); err != nil {
		return nil, err
	}
	return m, nil
}
