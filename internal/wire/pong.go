package wire

// PongSize is the size of a PONG payload.
const PongSize = 8 + 2 + 8

// Pong is PONG (UDP 0x41), the answer to a PING with PingReply.
type Pong struct {
	Nonce        uint64 `json:",string"` // the PING's
	ReceivedSize uint16 // UDP payload size of the PING as received
	RecvMicros   uint64 `json:",string"` // receiver's clock when the PING arrived, µs
}

// Type returns TypePong.
func (*Pong) Type() MsgType { return TypePong }

// Append appends the payload.
func (m *Pong) Append(b []byte) []byte {
	b = AppendUint64(b, m.Nonce)
	b = AppendUint16(b, m.ReceivedSize)
	return AppendUint64(b, m.RecvMicros)
}

// DecodePong decodes a PONG payload.
func DecodePong(payload []byte) (*Pong, error) {
	r := NewReader(payload)
	m := &Pong{Nonce: r.Uint64(), ReceivedSize: r.Uint16(), RecvMicros: r.Uint64()}
	if err := r.Done(); err != nil {
		return nil, err
	}
	return m, nil
}
