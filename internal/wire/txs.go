package wire

// MaxTxFragments is the largest COUNT of a TXS.
const MaxTxFragments = 1024

// TxFragment is one transaction, or a fragment of one, in a TXS.
type TxFragment struct {
	Leaf   uint32 // leaf index, < MaxTxCount
	Total  uint32 // size of the full serialization, 1..MaxTxSize
	Offset uint32 // offset of Data, < Total
	Data   []byte // 1..Total-Offset bytes; aliases the payload after decoding
}

// Txs is TXS (UDP 0x48): transaction bodies, requested (ReqID of the
// GET_TXS) or pushed (ReqID 0).
//
// The decoder rejects COUNT > 1,024, a LEAF ≥ 131,072 and a TOTAL outside
// 1..4,000,000 (ErrLimit), and OFFSET ≥ TOTAL or LEN outside
// 1..TOTAL-OFFSET (ErrMalformed).
type Txs struct {
	JobID     JobID
	ReqID     uint32
	Fragments []TxFragment
}

// Type returns TypeTxs.
func (*Txs) Type() MsgType { return TypeTxs }

// Append appends the payload.
func (m *Txs) Append(b []byte) []byte {
	b = append(b, m.JobID[:]...)
	b = AppendUint32(b, m.ReqID)
	b = AppendVarint(b, uint64(len(m.Fragments)))
	for i := range m.Fragments {
		f := &m.Fragments[i]
		b = AppendVarint(b, uint64(f.Leaf))
		b = AppendVarint(b, uint64(f.Total))
		b = AppendVarint(b, uint64(f.Offset))
		b = AppendVarint(b, uint64(len(f.Data)))
		b = append(b, f.Data...)
	}
	return b
}

// DecodeTxs decodes a TXS payload.
func DecodeTxs(payload []byte) (*Txs, error) {
	r := NewReader(payload)
	m := &Txs{JobID: readJobID(r), ReqID: r.Uint32()}
	// A fragment takes at least five bytes: four one-byte varints and one
	// byte of data.
	n := r.Count(MaxTxFragments, 5, "fragment")
	if r.Err() == nil && n > 0 {
		m.Fragments = make([]TxFragment, n)
	}
	for i := range m.Fragments {
		leaf, total, offset, ln := r.Varint(), r.Varint(), r.Varint(), r.Varint()
		if r.Err() != nil {
			break
		}
		switch {
		case leaf >= MaxTxCount:
			r.Fail(errorf(ErrLimit, "fragment %d: leaf %d above %d", i, leaf, MaxTxCount-1))
		case total < 1 || total > MaxTxSize:
			r.Fail(errorf(ErrLimit, "fragment %d: total %d outside 1..%d", i, total, MaxTxSize))
		case offset >= total:
			r.Fail(errorf(ErrMalformed, "fragment %d: offset %d not below total %d", i, offset, total))
		case ln < 1 || ln > total-offset:
			r.Fail(errorf(ErrMalformed, "fragment %d: length %d outside 1..%d", i, ln, total-offset))
		}
		data := r.Bytes(int(ln))
		if r.Err() != nil {
			break
		}
		m.Fragments[i] = TxFragment{Leaf: uint32(leaf), Total: uint32(total), Offset: uint32(offset), Data: data}
	}
	if err := r.Done(); err != nil {
		return nil, err
	}
	return m, nil
}
