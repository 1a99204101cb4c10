package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// Import limits.
const (
	// MaxImportOrphans is how many blocks an import holds while their
	// parent has not arrived.
	MaxImportOrphans = 1024
	// importBatchBlocks and importBatchBytes bound one PutBatch of an
	// import: its records are synced and indexed together.
	importBatchBlocks = 2000
	importBatchBytes  = 32 << 20
)

// Import reads blocks in the blk*.dat format (magic, length, block; see
// doc.go) from r and stores the ones s does not hold, returning how many
// it stored. magic is the network's (uint32(params.Net)); its first byte
// in the stream (its low byte) must not be zero, since runs of zero bytes
// are skipped as padding.
//
// Blocks may come in any order within a window of MaxImportOrphans: a
// block whose parent is neither stored nor read yet waits until its parent
// arrives, and more waiting blocks than that fail the import with
// ErrOrphanLimit. Blocks still waiting at the end of r are left out, not an
// error (a single Core file may end with blocks whose parent is in the
// next one; concatenate the files with io.MultiReader to import them
// together).
//
// Blocks are stored in batches (see PutBatch), so the durability contract
// holds per batch: when progress is called with n, or Import returns, the
// first n stored blocks are durable. Import stops at the first bad record
// (ErrBadRecord) or bad block (ErrBadBlock), or when ctx is done, after
// storing the blocks read before it.
func Import(ctx context.Context, s *Store, r io.Reader, magic uint32, progress func(n int)) (imported int, err error) {
	if magic&0xff == 0 {
		return 0, fmt.Errorf("store: import magic %08x starts with a zero byte", magic)
	}
	im := &importer{
		s:        s,
		progress: progress,
		inBatch:  make(map[chainhash.Hash]struct{}),
		orphans:  newOrphanPool(MaxImportOrphans),
	}
	start := time.Now()
	rr := newRecordReader(r, magic)
	err = im.run(ctx, rr)
	if ferr := im.flush(); ferr != nil {
		err = errors.Join(err, ferr)
	}
	if err == nil && im.orphans.len() > 0 {
		s.log.Warn("import left blocks whose parent never came", "count", im.orphans.len())
	}
	s.log.Info("import done", "imported", im.imported, "read", im.read, "bytes", rr.off,
		"elapsed", time.Since(start).Round(time.Millisecond), "err", err)
	return im.imported, err
}

// ImportFile imports the blk*.dat or bootstrap.dat file at path; see Import.
func ImportFile(ctx context.Context, s *Store, path string, magic uint32) (imported int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("store: import: %w", err)
	}
	defer f.Close()
	n, err := Import(ctx, s, f, magic, nil)
	if err != nil {
		err = fmt.Errorf("%s: %w", path, err)
	}
	return n, err
}

// importer is the state of one Import.
type importer struct {
	s        *Store
	progress func(n int)

	batch      []pending
	batchBytes int
	inBatch    map[chainhash.Hash]struct{}
	orphans    *orphanPool

	read     int
	imported int
}

// run reads and queues every record of rr.
func (im *importer) run(ctx context.Context, rr *recordReader) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		raw, off, err := rr.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		im.read++
		blk := new(btcwire.MsgBlock)
		br := bytes.NewReader(raw)
		if err := blk.Deserialize(br); err != nil {
			return fmt.Errorf("%w: record at offset %d: %v", ErrBadRecord, off, err)
		}
		if br.Len() != 0 {
			return fmt.Errorf("%w: record at offset %d: %d bytes after the block", ErrBadRecord, off, br.Len())
		}
		it, err := im.s.prepare(blk, raw)
		if err != nil {
			return fmt.Errorf("record at offset %d: %w", off, err)
		}
		if err := im.add(it); err != nil {
			return fmt.Errorf("record at offset %d: %w", off, err)
		}
	}
}

// add queues it if its parent is stored or queued, and then every waiting
// descendant; otherwise it waits in the orphan pool.
func (im *importer) add(it pending) error {
	prev := it.prev()
	if _, ok := im.inBatch[prev]; !ok && !im.s.knows(prev) {
		return im.orphans.add(it)
	}
	queue := []pending{it}
	for len(queue) > 0 {
		next := queue[0]
		queue = queue[1:]
		if err := im.queue(next); err != nil {
			return err
		}
		queue = append(queue, im.orphans.take(next.hash)...)
	}
	return nil
}

// queue adds it to the batch and flushes a full batch.
func (im *importer) queue(it pending) error {
	if _, dup := im.inBatch[it.hash]; dup {
		return nil
	}
	im.batch = append(im.batch, it)
	im.batchBytes += len(it.raw)
	im.inBatch[it.hash] = struct{}{}
	if len(im.batch) >= importBatchBlocks || im.batchBytes >= importBatchBytes {
		return im.flush()
	}
	return nil
}

// flush stores the batch. The hashes of a flushed batch are forgotten:
// from then on the store knows them.
func (im *importer) flush() error {
	if len(im.batch) == 0 {
		return nil
	}
	n, err := im.s.commit(im.batch)
	im.imported += n
	// A failed batch is dropped, not retried.
	clear(im.batch)
	im.batch = im.batch[:0]
	im.batchBytes = 0
	clear(im.inBatch)
	if err != nil {
		return err
	}
	if im.progress != nil {
		im.progress(im.imported)
	}
	return nil
}

// orphanPool holds blocks waiting for their parent, by parent hash.
type orphanPool struct {
	byPrev map[chainhash.Hash][]pending
	hashes map[chainhash.Hash]struct{}
	max    int
}

func newOrphanPool(max int) *orphanPool {
	return &orphanPool{
		byPrev: make(map[chainhash.Hash][]pending),
		hashes: make(map[chainhash.Hash]struct{}),
		max:    max,
	}
}

func (p *orphanPool) len() int { return len(p.hashes) }

// add holds it until its parent arrives.
func (p *orphanPool) add(it pending) error {
	if _, dup := p.hashes[it.hash]; dup {
		return nil
	}
	if len(p.hashes) >= p.max {
		return fmt.Errorf("%w: more than %d (block %v waits for %v)", ErrOrphanLimit, p.max, it.hash, it.prev())
	}
	p.hashes[it.hash] = struct{}{}
	prev := it.prev()
	p.byPrev[prev] = append(p.byPrev[prev], it)
	return nil
}

// take removes and returns the blocks waiting for parent.
func (p *orphanPool) take(parent chainhash.Hash) []pending {
	kids := p.byPrev[parent]
	delete(p.byPrev, parent)
	for _, k := range kids {
		delete(p.hashes, k.hash)
	}
	return kids
}
