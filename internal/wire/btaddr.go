package wire

import "net/netip"

// MaxBTAddrCount is the largest COUNT of a BTADDR.
const MaxBTAddrCount = 1000

// Address families of BTADDR entries.
const (
	FamilyIPv4 = 4
	FamilyIPv6 = 6
)

// BTAddrEntry is one peer of a BTADDR.
type BTAddrEntry struct {
	// Addr is the peer's IP and port. Append writes an IPv4 address (Is4)
	// as FAMILY 4 and any other address as FAMILY 6 with its 16 bytes
	// (IPv4-mapped addresses stay FAMILY 6; zones are dropped; the zero
	// Addr is written as ::). The port is big-endian on the wire.
	Addr     netip.AddrPort
	Services uint64 `json:",string"`
	LastSeen uint32 // unix seconds
}

// BTAddr is BTADDR (0x03): known Blocktorrent peers, in answer to GET_BTADDR
// or to announce a new one. The decoder rejects COUNT > 1,000 (ErrLimit) and
// a FAMILY other than 4 or 6 (ErrReserved).
type BTAddr struct {
	Entries []BTAddrEntry
}

// Type returns TypeBTAddr.
func (*BTAddr) Type() MsgType { return TypeBTAddr }

// Append appends the payload.
func (m *BTAddr) Append(b []byte) []byte {
	b = AppendVarint(b, uint64(len(m.Entries)))
	for i := range m.Entries {
		e := &m.Entries[i]
		ip := e.Addr.Addr()
		if ip.Is4() {
			a := ip.As4()
			b = append(append(b, FamilyIPv4), a[:]...)
		} else {
			a := ip.As16()
			b = append(append(b, FamilyIPv6), a[:]...)
		}
		b = AppendUint16BE(b, e.Addr.Port())
		b = AppendUint64(b, e.Services)
		b = AppendUint32(b, e.LastSeen)
	}
	return b
}

// DecodeBTAddr decodes a BTADDR payload.
func DecodeBTAddr(payload []byte) (*BTAddr, error) {
	r := NewReader(payload)
	// The smallest entry is IPv4: 1 + 4 + 2 + 8 + 4 bytes.
	n := r.Count(MaxBTAddrCount, 19, "address")
	m := &BTAddr{}
	if r.Err() == nil && n > 0 {
		m.Entries = make([]BTAddrEntry, n)
	}
	for i := range m.Entries {
		var ip netip.Addr
		fam := r.Uint8()
		switch {
		case r.Err() != nil:
		case fam == FamilyIPv4:
			if p := r.Bytes(4); p != nil {
				ip = netip.AddrFrom4([4]byte(p))
			}
		case fam == FamilyIPv6:
			if p := r.Bytes(16); p != nil {
				ip = netip.AddrFrom16([16]byte(p))
			}
		default:
			r.Fail(errorf(ErrReserved, "address family %d", fam))
		}
		port := r.Uint16BE()
		services := r.Uint64()
		lastSeen := r.Uint32()
		if r.Err() != nil {
			break
		}
		m.Entries[i] = BTAddrEntry{Addr: netip.AddrPortFrom(ip, port), Services: services, LastSeen: lastSeen}
	}
	if err := r.Done(); err != nil {
		return nil, err
	}
	return m, nil
}
