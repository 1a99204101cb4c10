package wire

// MaxTxSize is the largest serialized transaction (TX's LEN, a TXS
// fragment's TOTAL, a block in BLOCKS).
const MaxTxSize = 4000000

// Tx is TX (0x20): a mempool transaction in Bitcoin serialization (with
// witness). The decoder checks only LEN ≤ 4,000,000 (ErrLimit); whether the
// bytes are a transaction is for the receiver to check.
type Tx struct {
	Tx []byte // aliases the payload after decoding
}

// Type returns TypeTx.
func (*Tx) Type() MsgType { return TypeTx }

// Append appends the payload.
func (m *Tx) Append(b []byte) []byte {
	b = AppendVarint(b, uint64(len(m.Tx)))
	return append(b, m.Tx...)
}

// DecodeTx decodes a TX payload. An empty transaction decodes as Tx nil.
func DecodeTx(payload []byte) (*Tx, error) {
	r := NewReader(payload)
	m := &Tx{}
	if n := readLen(r, MaxTxSize, "transaction"); n > 0 {
		m.Tx = r.Bytes(n)
	}
	if err := r.Done(); err != nil {
		return nil, err
	}
	return m, nil
}
