package store

import (
	"bytes"
	"fmt"
	"math/big"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
	"github.com/blocktorrent/blocktorrent/internal/pow"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// pending is a checked block on its way into the store.
type pending struct {
	hash   chainhash.Hash
	header [headerSize]byte
	bits   uint32
	raw    []byte
}

// prev returns the parent's hash.
func (p *pending) prev() chainhash.Hash { return chainhash.Hash(p.header[4:36]) }

// prepare checks blk and returns it ready to store. raw is blk serialized,
// or nil to have prepare serialize it. The checks are those doc.go lists:
// size, proof of work against the network's limit, and the merkle root
// with the CVE-2012-2459 mutation check.
func (s *Store) prepare(blk *btcwire.MsgBlock, raw []byte) (pending, error) {
	if blk == nil {
		return pending{}, fmt.Errorf("%w: nil block", ErrBadBlock)
	}
	hash := blk.BlockHash()
	if raw == nil {
		var buf bytes.Buffer
		buf.Grow(blk.SerializeSize())
		if err := blk.Serialize(&buf); err != nil {
			return pending{}, fmt.Errorf("%w: block %v: %v", ErrBadBlock, hash, err)
		}
		raw = buf.Bytes()
	}
	if len(raw) > MaxBlockBytes {
		return pending{}, fmt.Errorf("%w: block %v has %d bytes, more than %d", ErrBadBlock, hash, len(raw), MaxBlockBytes)
	}
	if err := pow.CheckHash(hash, blk.Header.Bits, s.params.PowLimit); err != nil {
		return pending{}, fmt.Errorf("%w: %w", ErrBadBlock, err)
	}
	if len(blk.Transactions) == 0 {
		return pending{}, fmt.Errorf("%w: block %v has no transactions", ErrBadBlock, hash)
	}
	root, mutated := merkle.Root(txids(blk, raw))
	if mutated {
		return pending{}, fmt.Errorf("%w: block %v: %w", ErrBadBlock, hash, merkle.ErrMutated)
	}
	if root != blk.Header.MerkleRoot {
		return pending{}, fmt.Errorf("%w: block %v: merkle root %v, header says %v", ErrBadBlock, hash, root, blk.Header.MerkleRoot)
	}
	return pending{hash: hash, header: [headerSize]byte(raw[:headerSize]), bits: blk.Header.Bits, raw: raw}, nil
}

// txids returns the transaction ids of blk. raw is blk serialized: a
// transaction without witness data is hashed straight from its bytes
// there, which saves serializing it again; one with witness data is
// serialized without it, as its id requires.
func txids(blk *btcwire.MsgBlock, raw []byte) []chainhash.Hash {
	ids := make([]chainhash.Hash, len(blk.Transactions))
	off := headerSize + btcwire.VarIntSerializeSize(uint64(len(blk.Transactions)))
	for i, tx := range blk.Transactions {
		size := tx.SerializeSize()
		if !tx.HasWitness() && off+size <= len(raw) {
			ids[i] = chainhash.DoubleHashH(raw[off : off+size])
		} else {
			ids[i] = tx.TxHash()
		}
		off += size
	}
	return ids
}

// workOf returns the work of one block with these bits.
func workOf(bits uint32) *big.Int { return pow.Work(bits) }
