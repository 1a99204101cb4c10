package wire

import "github.com/btcsuite/btcd/chainhash/v2"

// MaxHeaders is the largest MAX of GET_HEADERS and COUNT of HEADERS.
const MaxHeaders = 2000

// GetHeaders is GET_HEADERS (0x1b): the header of Hash and its ancestors,
// at most Max. The decoder rejects MAX outside 1..2,000 (ErrLimit).
type GetHeaders struct {
	Hash chainhash.Hash
	Max  uint32
}

// Type returns TypeGetHeaders.
func (*GetHeaders) Type() MsgType { return TypeGetHeaders }

// Append appends the payload.
func (m *GetHeaders) Append(b []byte) []byte {
	b = append(b, m.Hash[:]...)
	return AppendVarint(b, uint64(m.Max))
}

// DecodeGetHeaders decodes a GET_HEADERS payload.
func DecodeGetHeaders(payload []byte) (*GetHeaders, error) {
	hash, n, err := decodeHashAndMax(payload, MaxHeaders, "MAX")
	if err != nil {
		return nil, err
	}
	return &GetHeaders{Hash: hash, Max: n}, nil
}
