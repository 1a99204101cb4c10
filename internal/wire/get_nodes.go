package wire

// MaxRequestNodes is the most nodes a GET_NODES may want and the most leaves
// a GET_TXS may ask for.
const MaxRequestNodes = 4096

// GetNodes is GET_NODES (UDP 0x45): a request for node hashes, answered with
// NODES. The decoder rejects LEAF_HASH_SIZE above 32 (ErrReserved) and a
// WANT of more than 4,096 nodes (ErrLimit).
type GetNodes struct {
	JobID        JobID
	ReqID        uint32
	LeafHashSize uint8   // 0 responder's choice, or 1..32
	Want         Workout // hashless
}

// Type returns TypeGetNodes.
func (*GetNodes) Type() MsgType { return TypeGetNodes }

// Append appends the payload; Want is written hashless.
func (m *GetNodes) Append(b []byte) []byte {
	b = append(b, m.JobID[:]...)
	b = AppendUint32(b, m.ReqID)
	b = append(b, m.LeafHashSize)
	return AppendWorkout(b, &m.Want, true)
}

// DecodeGetNodes decodes a GET_NODES payload.
func DecodeGetNodes(payload []byte) (*GetNodes, error) {
	r := NewReader(payload)
	m := &GetNodes{JobID: readJobID(r), ReqID: r.Uint32(), LeafHashSize: r.Uint8()}
	if r.Err() == nil && m.LeafHashSize > MaxHashSize {
		r.Fail(errorf(ErrReserved, "leaf hash size %d", m.LeafHashSize))
	}
	m.Want = readHashlessWorkout(r, MaxRequestNodes, "GET_NODES")
	if err := r.Done(); err != nil {
		return nil, err
	}
	return m, nil
}
