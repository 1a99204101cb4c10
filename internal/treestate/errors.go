package treestate

import (
	"errors"
	"fmt"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
)

// Error kinds returned by this package. Callers test them with errors.Is.
// Errors that come from a merkle check wrap the merkle package's kind as
// well (for example both ErrMismatch and merkle.ErrMismatch), so either can
// be tested.
var (
	// ErrBadPos means a position, range or leaf that is not part of the
	// tree's shape (a protocol violation).
	ErrBadPos = errors.New("treestate: position outside the tree")
	// ErrMismatch means nodes that recompute a hash other than the
	// verified one (invalid-run).
	ErrMismatch = errors.New("treestate: nodes do not verify")
	// ErrMutated means nodes in which two real siblings are equal
	// (CVE-2012-2459).
	ErrMutated = errors.New("treestate: mutated tree")
	// ErrBadBody means a transaction body whose txid is not the verified
	// leaf hash (invalid-body).
	ErrBadBody = errors.New("treestate: body does not match its leaf")
	// ErrMalformed means a structure that is not allowed where it was
	// used: a run that is not flat in a job state, or one node sent twice
	// with different hashes.
	ErrMalformed = errors.New("treestate: malformed")
	// ErrLimit means more runs or nodes than a workout may hold.
	ErrLimit = errors.New("treestate: limit exceeded")
)

// errorf wraps kind with a formatted detail.
func errorf(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{kind}, args...)...)
}

// wrapMerkle gives an error from the merkle package the kind of this
// package that matches it, keeping the original in the chain.
func wrapMerkle(err error) error {
	kind := ErrMalformed
	switch {
	case errors.Is(err, merkle.ErrBadPos):
		kind = ErrBadPos
	case errors.Is(err, merkle.ErrMutated):
		kind = ErrMutated
	case errors.Is(err, merkle.ErrMismatch):
		kind = ErrMismatch
	}
	return fmt.Errorf("%w: %w", kind, err)
}
