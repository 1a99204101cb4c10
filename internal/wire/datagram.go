package wire

import "fmt"

// Datagram sizes (docs/protocol.md §4.2), counted as UDP payload bytes.
const (
	// DefaultDatagramSize is the datagram size until TEST_MTU shows a
	// larger one works.
	DefaultDatagramSize = 1200
	// MaxDatagramSize is the largest datagram ever sent or accepted.
	MaxDatagramSize = 1472
	// DatagramHeaderSize is the size of TYPE, TOKEN and SEQ.
	DatagramHeaderSize = 13
)

// DatagramHeader is the header of a UDP datagram.
type DatagramHeader struct {
	Type  MsgType
	Token Token  // the token the receiver handed out in its BTVERSION
	Seq   uint32 // the sender's datagram number in the session, from 1
}

// AppendDatagram appends a datagram carrying m: the header and m's payload.
// TYPE is the UDP number of m's type (OPEN_JOB is written as 0x42 and
// CLOSE_JOB as 0x4a); h.Type may be left zero. It panics if m has no UDP
// form or h.Type names another type, both programming errors. The caller
// checks the result against the session's datagram size.
func AppendDatagram(b []byte, h DatagramHeader, m Message) []byte {
	t, ok := m.Type().UDPType()
	if !ok {
		panic(fmt.Sprintf("wire: %v cannot travel in a datagram", m.Type()))
	}
	if h.Type != 0 && h.Type != t {
		panic(fmt.Sprintf("wire: datagram header type %v for a %v message", h.Type, t))
	}
	b = append(b, byte(t))
	b = append(b, h.Token[:]...)
	b = AppendUint32(b, h.Seq)
	return m.Append(b)
}

// ParseDatagram splits a datagram into its header and payload (which
// aliases b). It fails with ErrShort below DatagramHeaderSize bytes, with
// ErrLimit above MaxDatagramSize, and with ErrUnknownType when TYPE is not a
// UDP type of this version. It does not check the token, the SEQ (see
// ReplayWindow) or the payload (see DecodeMessage).
func ParseDatagram(b []byte) (DatagramHeader, []byte, error) {
	if len(b) < DatagramHeaderSize {
		return DatagramHeader{}, nil, errorf(ErrShort, "datagram of %d bytes", len(b))
	}
	if len(b) > MaxDatagramSize {
		return DatagramHeader{}, nil, errorf(ErrLimit, "datagram of %d bytes above %d", len(b), MaxDatagramSize)
	}
	r := NewReader(b)
	var h DatagramHeader
	h.Type = MsgType(r.Uint8())
	copy(h.Token[:], r.Bytes(len(h.Token)))
	h.Seq = r.Uint32()
	if !h.Type.IsUDP() {
		return DatagramHeader{}, nil, errorf(ErrUnknownType, "datagram type %#02x", uint8(h.Type))
	}
	return h, b[DatagramHeaderSize:], nil
}

// Replay window parameters (docs/protocol.md §4.2).
const (
	// ReplayMaxAge is how far behind the highest SEQ seen a datagram may
	// be and still be accepted.
	ReplayMaxAge = 65536
	// ReplayWindowSize is how many SEQ numbers, counting back from the
	// highest seen, are remembered so that a repeat is dropped.
	ReplayWindowSize = 1024
)

// ReplayWindow applies the replay rule of one session's incoming datagrams.
// SEQ starts at 1 and a session ends before it wraps, so SEQ numbers compare
// as plain integers. The zero value is ready to use. It is not safe for
// concurrent use.
type ReplayWindow struct {
	highest uint32                        // highest SEQ accepted; 0 if none
	seen    [ReplayWindowSize / 64]uint64 // bit s%1024 set: s seen, for s in (highest-1024, highest]
}

// Check reports whether a datagram with this SEQ is accepted, and if so
// marks it as seen. It rejects SEQ 0, a SEQ more than ReplayMaxAge behind
// the highest SEQ accepted, and a SEQ among the last ReplayWindowSize
// numbers (up to the highest) that was already accepted. A SEQ between
// ReplayWindowSize and ReplayMaxAge behind the highest is accepted without
// a duplicate check: the window no longer remembers it. The caller
// should call Check only for datagrams whose token is right (and, to keep
// forged payloads from advancing the window, ideally once they decode).
func (w *ReplayWindow) Check(seq uint32) bool {
	if seq == 0 {
		return false
	}
	if seq > w.highest {
		if d := seq - w.highest; d >= ReplayWindowSize {
			w.seen = [ReplayWindowSize / 64]uint64{}
		} else {
			for s := w.highest + 1; s != seq; s++ {
				w.clear(s)
			}
		}
		w.highest = seq
		w.set(seq)
		return true
	}
	d := w.highest - seq
	switch {
	case d > ReplayMaxAge:
		return false
	case d >= ReplayWindowSize:
		return true
	case w.has(seq):
		return false
	}
	w.set(seq)
	return true
}

// Highest returns the highest SEQ accepted so far (0 if none).
func (w *ReplayWindow) Highest() uint32 { return w.highest }

func (w *ReplayWindow) set(s uint32) { w.seen[s%ReplayWindowSize/64] |= 1 << (s % 64) }

func (w *ReplayWindow) clear(s uint32) { w.seen[s%ReplayWindowSize/64] &^= 1 << (s % 64) }

func (w *ReplayWindow) has(s uint32) bool {
	return w.seen[s%ReplayWindowSize/64]&(1<<(s%64)) != 0
}
