package wire

import "github.com/btcsuite/btcd/chainhash/v2"

// BlockHashes is BLOCK_HASHES (0x18), the seed's BlockHashes: ancestors of
// the requested hash starting at its parent, youngest first. The decoder
// rejects COUNT > 2,048 (ErrLimit).
type BlockHashes struct {
	Hashes []chainhash.Hash // nil when COUNT is 0
}

// Type returns TypeBlockHashes.
func (*BlockHashes) Type() MsgType { return TypeBlockHashes }

// Append appends the payload.
func (m *BlockHashes) Append(b []byte) []byte { return appendHashes(b, m.Hashes) }

// DecodeBlockHashes decodes a BLOCK_HASHES payload.
func DecodeBlockHashes(payload []byte) (*BlockHashes, error) {
	r := NewReader(payload)
	m := &BlockHashes{Hashes: readHashes(r, 0, MaxBlockHashes, "block hash")}
	if err := r.Done(); err != nil {
		return nil, err
	}
	return m, nil
}
