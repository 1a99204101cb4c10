package store

import (
	"bytes"
	"fmt"
	"math/big"

	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
	"go.etcd.io/bbolt"
)

// BlockInfo is what the index knows about one block.
type BlockInfo struct {
	Hash   chainhash.Hash
	Height int32
	Header btcwire.BlockHeader
	// Work is the cumulative chain work up to and including the block.
	Work *big.Int
	// MainChain reports whether the block is on the best chain.
	MainChain bool
	// HasData reports whether the store holds the block itself, not
	// only its header (see doc.go on recovery).
	HasData bool
}

// view runs fn in a read-only index transaction unless the store is
// closed. The close lock stays held until view returns, so fn may read
// block files too.
func (s *Store) view(fn func(ix index) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return s.db.View(func(tx *bbolt.Tx) error {
		ix, err := newIndex(tx)
		if err != nil {
			return err
		}
		return fn(ix)
	})
}

// lookup returns the entry of hash, or ErrNotFound.
func lookup(ix index, hash *chainhash.Hash) (entry, error) {
	e, ok, err := ix.get(hash)
	if err != nil {
		return e, err
	}
	if !ok {
		return e, fmt.Errorf("%w: block %v", ErrNotFound, hash)
	}
	return e, nil
}

// Has reports whether the store holds the block hash.
func (s *Store) Has(hash chainhash.Hash) bool {
	has := false
	s.view(func(ix index) error {
		e, ok, err := ix.get(&hash)
		has = err == nil && ok && e.hasData()
		return nil
	})
	return has
}

// knows reports whether the index has an entry for hash, with or without
// the block's data; such a block can be a parent.
func (s *Store) knows(hash chainhash.Hash) bool {
	known := false
	s.view(func(ix index) error {
		_, known, _ = ix.get(&hash)
		return nil
	})
	return known
}

// Info returns what the index knows about the block hash.
func (s *Store) Info(hash chainhash.Hash) (BlockInfo, error) {
	var info BlockInfo
	err := s.view(func(ix index) error {
		e, err := lookup(ix, &hash)
		if err != nil {
			return err
		}
		hdr, err := e.blockHeader()
		if err != nil {
			return err
		}
		at, ok := ix.atHeight(e.height)
		info = BlockInfo{
			Hash:      hash,
			Height:    e.height,
			Header:    hdr,
			Work:      e.work,
			MainChain: ok && at == hash,
			HasData:   e.hasData(),
		}
		return nil
	})
	return info, err
}

// Header returns the header of the block hash.
func (s *Store) Header(hash chainhash.Hash) (btcwire.BlockHeader, error) {
	info, err := s.Info(hash)
	return info.Header, err
}

// Height returns the height of the block hash, on whichever branch it is.
func (s *Store) Height(hash chainhash.Hash) (int32, error) {
	info, err := s.Info(hash)
	return info.Height, err
}

// InMainChain reports whether the block hash is on the best chain.
func (s *Store) InMainChain(hash chainhash.Hash) bool {
	info, err := s.Info(hash)
	return err == nil && info.MainChain
}

// RawBlock returns the serialized block hash as it is stored.
func (s *Store) RawBlock(hash chainhash.Hash) ([]byte, error) {
	var raw []byte
	err := s.view(func(ix index) error {
		e, err := lookup(ix, &hash)
		if err != nil {
			return err
		}
		if !e.hasData() {
			return fmt.Errorf("%w: data of block %v", ErrNotFound, hash)
		}
		raw, err = s.files.read(&e)
		if err != nil {
			return fmt.Errorf("block %v: %w", hash, err)
		}
		return nil
	})
	return raw, err
}

// Block returns the block hash.
func (s *Store) Block(hash chainhash.Hash) (*btcwire.MsgBlock, error) {
	raw, err := s.RawBlock(hash)
	if err != nil {
		return nil, err
	}
	blk := new(btcwire.MsgBlock)
	if err := blk.Deserialize(bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("%w: block %v: %v", ErrCorrupt, hash, err)
	}
	return blk, nil
}

// Tip returns the tip of the best chain, its height and the chain's
// cumulative work. It takes no lock.
func (s *Store) Tip() (hash chainhash.Hash, height int32, work *big.Int) {
	t := s.tip.Load()
	return t.hash, t.height, new(big.Int).Set(t.work)
}

// HashAtHeight returns the hash of the best chain's block at height h.
func (s *Store) HashAtHeight(h int32) (chainhash.Hash, error) {
	var hash chainhash.Hash
	err := s.view(func(ix index) error {
		var ok bool
		if hash, ok = ix.atHeight(h); !ok {
			return fmt.Errorf("%w: height %d", ErrNotFound, h)
		}
		return nil
	})
	return hash, err
}

// Ancestors returns up to max ancestors of the block hash, its parent
// first, youngest to oldest: what BLOCK_HASHES answers to GET_BLOCK_HASHES
// (docs/protocol.md §9). It returns nil when the store does not know hash,
// and an empty list for the genesis block.
func (s *Store) Ancestors(hash chainhash.Hash, max int) []chainhash.Hash {
	var out []chainhash.Hash
	s.view(func(ix index) error {
		e, ok, err := ix.get(&hash)
		if err != nil || !ok || max < 0 {
			return err
		}
		out = make([]chainhash.Hash, 0, min(max, int(e.height)))
		for len(out) < max && e.height > 0 {
			prev := e.prev()
			if e, ok, err = ix.get(&prev); err != nil || !ok {
				break
			}
			out = append(out, prev)
		}
		return nil
	})
	return out
}

// Headers returns up to max headers: that of the block hash and then its
// ancestors', youngest to oldest: what HEADERS answers to GET_HEADERS
// (docs/protocol.md §9). It returns nil when the store does not know hash.
func (s *Store) Headers(hash chainhash.Hash, max int) []btcwire.BlockHeader {
	var out []btcwire.BlockHeader
	s.view(func(ix index) error {
		e, ok, err := ix.get(&hash)
		if err != nil || !ok || max <= 0 {
			return err
		}
		out = make([]btcwire.BlockHeader, 0, min(max, int(e.height)+1))
		for {
			hdr, err := e.blockHeader()
			if err != nil {
				return err
			}
			out = append(out, hdr)
			if len(out) == max || e.height == 0 {
				return nil
			}
			prev := e.prev()
			if e, ok, err = ix.get(&prev); err != nil || !ok {
				return err
			}
		}
	})
	return out
}
