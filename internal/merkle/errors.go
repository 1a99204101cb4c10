package merkle

import "errors"

// Error kinds returned by this package. Callers test them with errors.Is;
// the returned errors wrap them with the detail of what was wrong.
var (
	// ErrBadShape means a leaf count outside 1..MaxLeaves.
	ErrBadShape = errors.New("merkle: bad tree shape")
	// ErrBadPos means a position that is not a node of the tree.
	ErrBadPos = errors.New("merkle: position outside the tree")
	// ErrMismatch means recomputed hashes did not match the expected hash.
	ErrMismatch = errors.New("merkle: hash mismatch")
	// ErrMutated means a tree whose root could also be produced by a
	// different leaf list (CVE-2012-2459): two real siblings are equal.
	ErrMutated = errors.New("merkle: mutated tree (CVE-2012-2459)")
	// ErrIncomplete means a set of nodes that does not cover the subtree it
	// was meant to recompute.
	ErrIncomplete = errors.New("merkle: nodes do not cover the subtree")
	// ErrOverlap means a set of nodes in which one node lies under another or
	// appears twice, or that holds nodes outside the subtree.
	ErrOverlap = errors.New("merkle: overlapping or stray nodes")
)
