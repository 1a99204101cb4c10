package mempool

import (
	"errors"
	"fmt"
)

// Error kinds returned by this package. Callers test them with errors.Is;
// the returned errors wrap them with the detail of what was wrong, and an
// error that comes from a merkle check wraps the merkle package's kind too.
var (
	// ErrBadTx means bytes or a MsgTx that are not a transaction this pool
	// can store: they do not decode, leave trailing bytes, or do not
	// serialize back to the same bytes.
	ErrBadTx = errors.New("mempool: not a transaction")
	// ErrTooLarge means a transaction above wire.MaxTxSize (4,000,000
	// bytes) or one that alone exceeds the pool's byte bound.
	ErrTooLarge = errors.New("mempool: transaction too large")
	// ErrBadInput means arguments that do not fit together: a hash
	// sequence whose count is not the number of leaves under the parent,
	// a run that starts elsewhere, leaves outside the block, an invalid
	// sequence. It names a caller's mistake or a malformed message, never a
	// short-hash collision.
	ErrBadInput = errors.New("mempool: bad input")
	// ErrInvalidRun means a group made only of full 32-byte leaf hashes
	// that does not recompute its verified parent (or contains equal real
	// siblings). No collision can explain it, so it is the sender's fault
	// (invalid-run, docs/protocol.md §8 and §10).
	ErrInvalidRun = errors.New("mempool: full leaf hashes do not verify")
)

// errorf wraps kind with a formatted detail.
func errorf(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{kind}, args...)...)
}
