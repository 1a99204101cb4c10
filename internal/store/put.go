package store

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
	"go.etcd.io/bbolt"
)

// errNothing rolls back a transaction that has nothing to write.
var errNothing = errors.New("store: nothing to write")

// Put checks blk and stores it; added is false when the store already
// held it. The parent must be stored already (ErrOrphan); blk must pass the
// checks doc.go lists (ErrBadBlock). When Put returns nil, blk is durable.
// If blk brings more work than the tip, it becomes the tip.
func (s *Store) Put(blk *btcwire.MsgBlock) (added bool, err error) {
	it, err := s.prepare(blk, nil)
	if err != nil {
		return false, err
	}
	n, err := s.commit([]pending{it})
	return n == 1, err
}

// PutBatch checks blks and stores them as one atomic, durable unit with
// one fsync and one index commit, which is much faster than a Put per
// block. Every block's parent must be stored already or come earlier in
// blks. If any block fails, nothing is stored and the error names it.
// added counts the blocks the store did not hold before.
func (s *Store) PutBatch(blks []*btcwire.MsgBlock) (added int, err error) {
	items := make([]pending, len(blks))
	for i, blk := range blks {
		if items[i], err = s.prepare(blk, nil); err != nil {
			return 0, fmt.Errorf("batch block %d: %w", i, err)
		}
	}
	return s.commit(items)
}

// commit stores checked blocks: it appends their records, syncs the block
// file, and commits their index entries, the new tip and the files'
// indexed lengths in one bbolt transaction. On any error the records are
// abandoned (see blockFiles.rollback) and nothing is indexed.
func (s *Store) commit(items []pending) (int, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	mark := s.files.mark()
	old := s.tip.Load()
	tip := *old
	added := 0
	var reorgs []reorg
	err := s.db.Update(func(tx *bbolt.Tx) error {
		ix, err := newIndex(tx)
		if err != nil {
			return err
		}
		for i := range items {
			it := &items[i]
			e, known, err := ix.get(&it.hash)
			if err != nil {
				return err
			}
			if known && e.hasData() {
				continue
			}
			if !known {
				prev := it.prev()
				parent, ok, err := ix.get(&prev)
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("%w: block %v, parent %v", ErrOrphan, it.hash, prev)
				}
				e = entry{
					height: parent.height + 1,
					header: it.header,
					work:   new(big.Int).Add(parent.work, workOf(it.bits)),
				}
			}
			if e.file, e.offset, err = s.files.write(it.raw); err != nil {
				return fmt.Errorf("store: writing block %v: %w", it.hash, err)
			}
			e.length = uint32(len(it.raw))
			if err := ix.put(&it.hash, &e); err != nil {
				return err
			}
			added++
			if !known && e.work.Cmp(tip.work) > 0 {
				r, err := setBest(ix, &tip, it.hash, &e)
				if err != nil {
					return err
				}
				if r.depth > 0 {
					reorgs = append(reorgs, r)
				}
				tip = tipState{hash: it.hash, height: e.height, work: e.work}
			}
		}
		if added == 0 {
			return errNothing
		}
		if tip.hash != old.hash {
			if err := ix.setTip(tip.hash); err != nil {
				return err
			}
		}
		if err := s.recordFileSizes(ix); err != nil {
			return err
		}
		// The records must be durable before the index that points at
		// them: bbolt syncs its file when this function returns nil.
		if err := s.files.sync(); err != nil {
			return fmt.Errorf("store: syncing block file: %w", err)
		}
		return nil
	})
	if errors.Is(err, errNothing) {
		s.files.committed()
		return 0, nil
	}
	if err != nil {
		if rerr := s.files.rollback(mark); rerr != nil {
			s.log.Error("undoing a failed write", "err", rerr)
		}
		return 0, err
	}
	s.files.committed()
	s.tip.Store(&tip)
	for _, r := range reorgs {
		s.log.Info("chain reorganization", "fork_height", r.fork, "disconnected", r.depth,
			"old_tip", r.oldTip, "new_tip", r.newTip)
	}
	return added, nil
}

// reorg describes a change of best chain that disconnected blocks.
type reorg struct {
	fork           int32
	depth          int32
	oldTip, newTip chainhash.Hash
}

// setBest makes hash, whose entry is e, the tip of the best chain in the
// height index: it writes the heights of hash's branch down to the fork
// point with the old best chain and deletes the heights above e's.
func setBest(ix index, old *tipState, hash chainhash.Hash, e *entry) (reorg, error) {
	h, cur, ce := e.height, hash, *e
	for {
		if at, ok := ix.atHeight(h); ok && at == cur {
			break
		}
		if err := ix.setHeight(h, cur); err != nil {
			return reorg{}, err
		}
		if h == 0 {
			return reorg{}, fmt.Errorf("%w: block %v descends from another genesis", ErrCorrupt, hash)
		}
		prev := ce.prev()
		pe, ok, err := ix.get(&prev)
		if err != nil {
			return reorg{}, err
		}
		if !ok {
			return reorg{}, fmt.Errorf("%w: ancestor %v of %v not indexed", ErrCorrupt, prev, hash)
		}
		h, cur, ce = h-1, prev, pe
	}
	for x := e.height + 1; x <= old.height; x++ {
		if err := ix.heights.Delete(heightKey(x)); err != nil {
			return reorg{}, err
		}
	}
	return reorg{fork: h, depth: old.height - h, oldTip: old.hash, newTip: hash}, nil
}
