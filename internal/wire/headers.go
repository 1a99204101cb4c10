package wire

import btcwire "github.com/btcsuite/btcd/wire/v2"

// Headers is HEADERS (0x1c): the requested hash's own header and then its
// ancestors, youngest first. The decoder rejects COUNT > 2,000 (ErrLimit);
// links and proof of work are for the requester.
type Headers struct {
	Headers []btcwire.BlockHeader // nil when COUNT is 0; timestamps in UTC
}

// Type returns TypeHeaders.
func (*Headers) Type() MsgType { return TypeHeaders }

// Append appends the payload.
func (m *Headers) Append(b []byte) []byte {
	b = AppendVarint(b, uint64(len(m.Headers)))
	for i := range m.Headers {
		b = AppendHeader(b, &m.Headers[i])
	}
	return b
}

// DecodeHeaders decodes a HEADERS payload.
func DecodeHeaders(payload []byte) (*Headers, error) {
	r := NewReader(payload)
	m := &Headers{}
	n := r.Count(MaxHeaders, HeaderSize, "header")
	if r.Err() == nil && n > 0 {
		m.Headers = make([]btcwire.BlockHeader, n)
		for i := range m.Headers {
			m.Headers[i] = ReadHeader(r)
		}
	}
	if err := r.Done(); err != nil {
		return nil, err
	}
	return m, nil
}
