package wire

import "github.com/btcsuite/btcd/chainhash/v2"

// MaxBlocksPerRequest is the largest COUNT of GET_BLOCKS and BLOCKS.
const MaxBlocksPerRequest = 128

// GetBlocks is GET_BLOCKS (0x19): the blocks with these hashes. The decoder
// rejects COUNT outside 1..128 (ErrLimit).
type GetBlocks struct {
	Hashes []chainhash.Hash
}

// Type returns TypeGetBlocks.
func (*GetBlocks) Type() MsgType { return TypeGetBlocks }

// Append appends the payload.
func (m *GetBlocks) Append(b []byte) []byte { return appendHashes(b, m.Hashes) }

// DecodeGetBlocks decodes a GET_BLOCKS payload.
func DecodeGetBlocks(payload []byte) (*GetBlocks, error) {
	r := NewReader(payload)
	m := &GetBlocks{Hashes: readHashes(r, 1, MaxBlocksPerRequest, "requested block")}
	if err := r.Done(); err != nil {
		return nil, err
	}
	return m, nil
}
