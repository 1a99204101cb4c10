package wire

import "fmt"

// DisconnectReason is DISCONNECT's REASON.
type DisconnectReason uint8

// The DISCONNECT reasons.
const (
	ReasonNormal       DisconnectReason = 0
	ReasonProtocol     DisconnectReason = 1
	ReasonWrongGenesis DisconnectReason = 2
	ReasonBanned       DisconnectReason = 3
	ReasonTooManyPeers DisconnectReason = 4
	ReasonVersion      DisconnectReason = 5
	ReasonShuttingDown DisconnectReason = 6
)

var disconnectReasons = [...]string{"normal", "protocol", "wrong-genesis", "banned", "too-many-peers", "version", "shutting-down"}

// String returns the spec's name of the reason.
func (r DisconnectReason) String() string {
	if int(r) < len(disconnectReasons) {
		return disconnectReasons[r]
	}
	return fmt.Sprintf("DisconnectReason(%d)", uint8(r))
}

// MaxDisconnectMessageLen is the largest LEN of a DISCONNECT.
const MaxDisconnectMessageLen = 256

// Disconnect is DISCONNECT (0x04), sent just before closing the connection.
// The decoder rejects a REASON above 6 (ErrReserved), LEN > 256 (ErrLimit)
// and a MESSAGE that is not UTF-8 (ErrMalformed).
type Disconnect struct {
	Reason  DisconnectReason
	Message string // for logs
}

// Type returns TypeDisconnect.
func (*Disconnect) Type() MsgType { return TypeDisconnect }

// Append appends the payload.
func (m *Disconnect) Append(b []byte) []byte {
	b = append(b, byte(m.Reason))
	b = AppendVarint(b, uint64(len(m.Message)))
	return append(b, m.Message...)
}

// DecodeDisconnect decodes a DISCONNECT payload.
func DecodeDisconnect(payload []byte) (*Disconnect, error) {
	r := NewReader(payload)
	m := &Disconnect{Reason: DisconnectReason(r.Uint8())}
	if r.Err() == nil && m.Reason > ReasonShuttingDown {
		r.Fail(errorf(ErrReserved, "disconnect reason %d", m.Reason))
	}
	m.Message = readUTF8(r, readLen(r, MaxDisconnectMessageLen, "disconnect message"), "disconnect message")
	if err := r.Done(); err != nil {
		return nil, err
	}
	return m, nil
}
