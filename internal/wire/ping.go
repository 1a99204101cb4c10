package wire

// PING FLAGS bits.
const (
	// PingReply asks for a PONG.
	PingReply = 1 << 0
	pingFlags = PingReply
)

// PingSize is the size of a PING payload without padding.
const PingSize = 9

// Ping is PING (UDP 0x40). Padding counts the zero bytes that follow FLAGS
// (PINGs of TEST_MTU and ESTIMATE_BANDWIDTH are padded to a size). The
// decoder rejects undefined FLAGS bits and non-zero padding (ErrReserved).
//
// A PONG (PongSize bytes) is larger than an unpadded PING: a node answers a
// PING with PingReply only if the PING is at least as large as the PONG
// (Padding ≥ PongSize-PingSize), so a PONG never amplifies.
type Ping struct {
	Nonce   uint64 `json:",string"`
	Flags   uint8
	Padding int
}

// NewPing returns a PING whose datagram (header included) is datagramSize
// bytes, or as small as possible if datagramSize is smaller than that.
func NewPing(nonce uint64, flags uint8, datagramSize int) *Ping {
	return &Ping{Nonce: nonce, Flags: flags, Padding: max(0, datagramSize-DatagramHeaderSize-PingSize)}
}

// Type returns TypePing.
func (*Ping) Type() MsgType { return TypePing }

// Append appends the payload.
func (m *Ping) Append(b []byte) []byte {
	b = AppendUint64(b, m.Nonce)
	b = append(b, m.Flags)
	if m.Padding > 0 {
		b = append(b, make([]byte, m.Padding)...)
	}
	return b
}

// DecodePing decodes a PING payload.
func DecodePing(payload []byte) (*Ping, error) {
	r := NewReader(payload)
	m := &Ping{Nonce: r.Uint64(), Flags: r.Uint8()}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if m.Flags&^pingFlags != 0 {
		return nil, errorf(ErrReserved, "PING flags %#02x", m.Flags)
	}
	pad := r.Bytes(r.Len())
	for i, c := range pad {
		if c != 0 {
			return nil, errorf(ErrReserved, "PING padding byte %d is %#02x", i, c)
		}
	}
	m.Padding = len(pad)
	return m, nil
}
