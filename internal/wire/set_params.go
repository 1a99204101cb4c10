package wire

import "fmt"

// Role is SET_PARAMS's ROLE.
type Role uint8

// The roles.
const (
	RoleNode    Role = 0
	RoleLimited Role = 1 // home user with little bandwidth
	RoleRelay   Role = 2 // plenty to share
	RoleMiner   Role = 3
)

var roleNames = [...]string{"node", "limited", "relay", "miner"}

// String returns the spec's name of the role.
func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// NoLimit is the MAX_UNSOLICITED value that accepts any amount.
const NoLimit = 0xffffffff

// SetParams is SET_PARAMS (0x05); the latest one received is in force. The
// decoder rejects a ROLE above 3 (ErrReserved) and MAX_DATAGRAM below 1,200
// (ErrLimit). A MAX_DATAGRAM above MaxDatagramSize is accepted; senders use
// at most MaxDatagramSize anyway.
type SetParams struct {
	Role           Role
	Priority       uint8
	MaxUnsolicited uint32 // bytes per job; 0 none, NoLimit no limit
	MaxRate        uint64 `json:",string"` // bits/s; 0 no cap
	MaxDatagram    uint16
	MaxJobs        uint16
}

// DefaultSetParams returns the parameters in force before any SET_PARAMS.
func DefaultSetParams() SetParams {
	return SetParams{Role: RoleNode, MaxUnsolicited: 262144, MaxDatagram: DefaultDatagramSize, MaxJobs: 8}
}

// SetParamsSize is the size of a SET_PARAMS payload.
const SetParamsSize = 18

// Type returns TypeSetParams.
func (*SetParams) Type() MsgType { return TypeSetParams }

// Append appends the payload.
func (m *SetParams) Append(b []byte) []byte {
	b = append(b, byte(m.Role), m.Priority)
	b = AppendUint32(b, m.MaxUnsolicited)
	b = AppendUint64(b, m.MaxRate)
	b = AppendUint16(b, m.MaxDatagram)
	return AppendUint16(b, m.MaxJobs)
}

// DecodeSetParams decodes a SET_PARAMS payload.
func DecodeSetParams(payload []byte) (*SetParams, error) {
	r := NewReader(payload)
	m := &SetParams{
		Role:           Role(r.Uint8()),
		Priority:       r.Uint8(),
		MaxUnsolicited: r.Uint32(),
		MaxRate:        r.Uint64(),
		MaxDatagram:    r.Uint16(),
		MaxJobs:        r.Uint16(),
	}
	if err := r.Done(); err != nil {
		return nil, err
	}
	if m.Role > RoleMiner {
		return nil, errorf(ErrReserved, "role %d", m.Role)
	}
	if m.MaxDatagram < DefaultDatagramSize {
		return nil, errorf(ErrLimit, "MAX_DATAGRAM %d below %d", m.MaxDatagram, DefaultDatagramSize)
	}
	return m, nil
}
