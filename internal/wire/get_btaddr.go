package wire

// GetBTAddr is GET_BTADDR (0x0a): an empty request for known Blocktorrent
// peers, answered by BTADDR.
type GetBTAddr struct{}

// Type returns TypeGetBTAddr.
func (*GetBTAddr) Type() MsgType { return TypeGetBTAddr }

// Append appends the (empty) payload.
func (*GetBTAddr) Append(b []byte) []byte { return b }

// DecodeGetBTAddr decodes a GET_BTADDR payload, which must be empty
// (ErrTrailing otherwise).
func DecodeGetBTAddr(payload []byte) (*GetBTAddr, error) {
	if err := NewReader(payload).Done(); err != nil {
		return nil, err
	}
	return &GetBTAddr{}, nil
}
