package wire

import (
	"math/big"

	"github.com/btcsuite/btcd/chainhash/v2"
)

// ProtocolVersion is the VERSION this implementation speaks.
const ProtocolVersion = 1

// SERVICES bits of BTVERSION.
const (
	ServiceRelay   = 1 << 0 // relays jobs
	ServiceBlocks  = 1 << 1 // serves blocks (chain download)
	ServiceBridged = 1 << 2 // bridged to a Bitcoin node
)

// FEATURES bits of BTVERSION.
const (
	FeatureShortHashes = 1 << 0 // accepts short leaf hashes
	FeatureUnsolicited = 1 << 1 // accepts unsolicited pushes
	FeatureHeaderSync  = 1 << 2 // serves GET_HEADERS
)

// Limits of BTVERSION.
const (
	MaxTDLen        = 32
	MaxUserAgentLen = 256
)

// BTVersion is BTVERSION (0x01), the first message of each side of a TCP
// session (docs/protocol.md §5). Unknown SERVICES and FEATURES bits are kept,
// not rejected, so newer peers can advertise more.
//
// The decoder checks only the encoding: TD_LEN ≤ 32 (ErrLimit), no leading
// zero byte in TD (ErrMalformed), UA_LEN ≤ 256 (ErrLimit) and a UTF-8 user
// agent (ErrMalformed). The handshake checks VERSION, NETWORK_MAGIC,
// GENESIS_HASH, NONCE and the all-zero TOKEN.
type BTVersion struct {
	Version      uint32
	Services     uint64 `json:",string"`
	Features     uint64 `json:",string"`
	NetworkMagic uint32
	// TD is the total chain work of BestHash, unsigned big-endian without
	// leading zero bytes (zero work is the empty slice). See TDInt/SetTD.
	TD          []byte
	BestHash    chainhash.Hash
	BestHeight  uint32
	GenesisHash chainhash.Hash
	Token       Token
	UDPPort     uint16
	Nonce       uint64 `json:",string"`
	UserAgent   string
}

// Type returns TypeBTVersion.
func (*BTVersion) Type() MsgType { return TypeBTVersion }

// TDInt returns TD as an integer.
func (m *BTVersion) TDInt() *big.Int { return new(big.Int).SetBytes(m.TD) }

// SetTD sets TD from a non-negative integer of at most 256 bits (the caller
// keeps it in range; Append writes whatever TD holds).
func (m *BTVersion) SetTD(td *big.Int) {
	m.TD = td.Bytes()
	if len(m.TD) == 0 {
		m.TD = nil
	}
}

// Append appends the payload.
func (m *BTVersion) Append(b []byte) []byte {
	b = AppendUint32(b, m.Version)
	b = AppendUint64(b, m.Services)
	b = AppendUint64(b, m.Features)
	b = AppendUint32(b, m.NetworkMagic)
	b = AppendVarint(b, uint64(len(m.TD)))
	b = append(b, m.TD...)
	b = append(b, m.BestHash[:]...)
	b = AppendUint32(b, m.BestHeight)
	b = append(b, m.GenesisHash[:]...)
	b = append(b, m.Token[:]...)
	b = AppendUint16(b, m.UDPPort)
	b = AppendUint64(b, m.Nonce)
	b = AppendVarint(b, uint64(len(m.UserAgent)))
	return append(b, m.UserAgent...)
}

// DecodeBTVersion decodes a BTVERSION payload. TD is nil for zero work and
// otherwise aliases payload.
func DecodeBTVersion(payload []byte) (*BTVersion, error) {
	r := NewReader(payload)
	m := &BTVersion{
		Version:      r.Uint32(),
		Services:     r.Uint64(),
		Features:     r.Uint64(),
		NetworkMagic: r.Uint32(),
	}
	if n := readLen(r, MaxTDLen, "TD"); n > 0 {
		m.TD = r.Bytes(n)
		if r.Err() == nil && m.TD[0] == 0 {
			r.Fail(errorf(ErrMalformed, "TD has a leading zero byte"))
		}
	}
	m.BestHash = r.Hash()
	m.BestHeight = r.Uint32()
	m.GenesisHash = r.Hash()
	copy(m.Token[:], r.Bytes(len(m.Token)))
	m.UDPPort = r.Uint16()
	m.Nonce = r.Uint64()
	m.UserAgent = readUTF8(r, readLen(r, MaxUserAgentLen, "user agent"), "user agent")
	if err := r.Done(); err != nil {
		return nil, err
	}
	return m, nil
}
