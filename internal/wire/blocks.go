package wire

// Blocks is BLOCKS (0x1a): requested blocks in Bitcoin serialization, in
// request order. The decoder rejects COUNT > 128 and a LEN above 4,000,000
// (ErrLimit); whether each is a block is for the receiver.
type Blocks struct {
	Blocks [][]byte // each aliases the payload after decoding; nil if empty
}

// Type returns TypeBlocks.
func (*Blocks) Type() MsgType { return TypeBlocks }

// Append appends the payload.
func (m *Blocks) Append(b []byte) []byte {
	b = AppendVarint(b, uint64(len(m.Blocks)))
	for _, blk := range m.Blocks {
		b = AppendVarint(b, uint64(len(blk)))
		b = append(b, blk...)
	}
	return b
}

// DecodeBlocks decodes a BLOCKS payload. An empty block decodes as nil.
func DecodeBlocks(payload []byte) (*Blocks, error) {
	r := NewReader(payload)
	m := &Blocks{}
	n := r.Count(MaxBlocksPerRequest, 1, "block")
	if r.Err() == nil && n > 0 {
		m.Blocks = make([][]byte, n)
	}
	for i := range m.Blocks {
		if ln := readLen(r, MaxTxSize, "block"); ln > 0 {
			m.Blocks[i] = r.Bytes(ln)
		}
		if r.Err() != nil {
			break
		}
	}
	if err := r.Done(); err != nil {
		return nil, err
	}
	return m, nil
}
