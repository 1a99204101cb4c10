package store

import "errors"

// Error kinds returned by this package. Callers test them with errors.Is;
// the returned errors wrap them with the detail of what was wrong.
var (
	// ErrNotFound means a block or height the store does not hold.
	ErrNotFound = errors.New("store: not found")
	// ErrOrphan means a block whose parent the store does not hold.
	ErrOrphan = errors.New("store: parent unknown")
	// ErrBadBlock means a block that does not hang together: its proof of
	// work, its merkle root, its size or its transactions are wrong.
	ErrBadBlock = errors.New("store: bad block")
	// ErrWrongNetwork means a store created for other chain parameters.
	ErrWrongNetwork = errors.New("store: wrong network")
	// ErrCorrupt means store files that disagree with the index.
	ErrCorrupt = errors.New("store: corrupt store")
	// ErrClosed means a store that was closed.
	ErrClosed = errors.New("store: closed")
	// ErrInUse means a store directory that another process has open.
	ErrInUse = errors.New("store: in use by another process")
	// ErrBadRecord means an import stream that is not in the blk*.dat
	// format: a wrong magic, an oversize or truncated record, or bytes that
	// do not decode as one block.
	ErrBadRecord = errors.New("store: bad block record")
	// ErrOrphanLimit means an import stream with more blocks waiting for
	// their parent than the import holds.
	ErrOrphanLimit = errors.New("store: too many blocks without a parent")
)
