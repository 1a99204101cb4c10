package wire

import "github.com/btcsuite/btcd/chainhash/v2"

// MaxBlockHashes is the largest MAX_BLOCKS of GET_BLOCK_HASHES and COUNT of
// BLOCK_HASHES.
const MaxBlockHashes = 2048

// GetBlockHashes is GET_BLOCK_HASHES (0x17), the seed's GetBlockHashes: the
// ancestors of Hash, at most MaxBlocks. The decoder rejects MAX_BLOCKS
// outside 1..2,048 (ErrLimit).
type GetBlockHashes struct {
	Hash      chainhash.Hash
	MaxBlocks uint32
}

// Type returns TypeGetBlockHashes.
func (*GetBlockHashes) Type() MsgType { return TypeGetBlockHashes }

// Append appends the payload.
func (m *GetBlockHashes) Append(b []byte) []byte {
	b = append(b, m.Hash[:]...)
	return AppendVarint(b, uint64(m.MaxBlocks))
}

// DecodeGetBlockHashes decodes a GET_BLOCK_HASHES payload.
func DecodeGetBlockHashes(payload []byte) (*GetBlockHashes, error) {
	hash, n, err := decodeHashAndMax(payload, MaxBlockHashes, "MAX_BLOCKS")
	if err != nil {
		return nil, err
	}
	return &GetBlockHashes{Hash: hash, MaxBlocks: n}, nil
}

// decodeHashAndMax decodes [32] HASH | varint MAX with MAX in 1..limit.
func decodeHashAndMax(payload []byte, limit uint64, what string) (chainhash.Hash, uint32, error) {
	r := NewReader(payload)
	hash := r.Hash()
	n := r.Varint()
	if err := r.Done(); err != nil {
		return chainhash.Hash{}, 0, err
	}
	if n < 1 || n > limit {
		return chainhash.Hash{}, 0, errorf(ErrLimit, "%s %d outside 1..%d", what, n, limit)
	}
	return hash, uint32(n), nil
}

// readHashes reads varint COUNT (minCount..limit) and COUNT hashes.
func readHashes(r *Reader, minCount int, limit uint64, what string) []chainhash.Hash {
	n := r.Count(limit, chainhash.HashSize, what)
	if r.Err() != nil {
		return nil
	}
	if n < minCount {
		r.Fail(errorf(ErrLimit, "%s count %d below %d", what, n, minCount))
		return nil
	}
	if n == 0 {
		return nil
	}
	hashes := make([]chainhash.Hash, n)
	for i := range hashes {
		hashes[i] = r.Hash()
	}
	return hashes
}

func appendHashes(b []byte, hashes []chainhash.Hash) []byte {
	b = AppendVarint(b, uint64(len(hashes)))
	for i := range hashes {
		b = append(b, hashes[i][:]...)
	}
	return b
}
