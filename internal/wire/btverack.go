package wire

// BTVerack is BTVERACK (0x02): an empty payload that completes the
// handshake.
type BTVerack struct{}

// Type returns TypeBTVerack.
func (*BTVerack) Type() MsgType { return TypeBTVerack }

// Append appends the (empty) payload.
func (*BTVerack) Append(b []byte) []byte { return b }

// DecodeBTVerack decodes a BTVERACK payload, which must be empty
// (ErrTrailing otherwise).
func DecodeBTVerack(payload []byte) (*BTVerack, error) {
	if err := NewReader(payload).Done(); err != nil {
		return nil, err
	}
	return &BTVerack{}, nil
}
