package merkle

import (
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"
)

// Branch returns the merkle branch (the proof) of a leaf in the tree whose
// levels are given as Levels returns them: the sibling of the leaf first,
// then the sibling of its parent, and so on up to the child of the root, so
// that branch[i] sits at level Depth-i. Where a node has no sibling (it ends
// an odd-sized level) the node itself is used, because Bitcoin's odd rule
// hashes it with itself. A one-leaf tree has an empty branch. Branch returns
// nil when levels is empty or malformed or leaf is not one of its leaves.
func Branch(levels [][]chainhash.Hash, leaf uint32) []chainhash.Hash {
	if len(levels) == 0 {
		return nil
	}
	depth := len(levels) - 1
	branch := make([]chainhash.Hash, 0, depth)
	idx := uint64(leaf)
	for l := depth; l > 0; l-- {
		level := levels[l]
		if idx >= uint64(len(level)) {
			return nil
		}
		sib := idx ^ 1
		if sib >= uint64(len(level)) {
			sib = idx
		}
		branch = append(branch, level[sib])
		idx >>= 1
	}
	if idx != 0 || len(levels[0]) != 1 {
		return nil
	}
	return branch
}

// VerifyBranch checks that branch (as Branch builds it) proves that the leaf
// with the given index and hash is in the tree of the given shape with the
// given root. It returns an error wrapping ErrBadPos when leaf is not a leaf
// of shape, ErrIncomplete when branch is shorter than the tree is deep,
// ErrOverlap when it is longer, ErrMutated when a real sibling on the path
// equals the node it is paired with, and ErrMismatch when the recomputed
// root differs from root or when a node without a sibling is not paired
// with itself.
func VerifyBranch(shape Shape, leaf uint32, leafHash chainhash.Hash, branch []chainhash.Hash, root chainhash.Hash) error {
	if shape.Leaves() == 0 {
		return fmt.Errorf("%w: zero shape", ErrBadShape)
	}
	p := shape.Leaf(leaf)
	if !shape.Valid(p) {
		return fmt.Errorf("%w: leaf %d of a %d-leaf tree", ErrBadPos, leaf, shape.Leaves())
	}
	depth := int(shape.Depth())
	switch {
	case len(branch) < depth:
		return fmt.Errorf("%w: branch of %d hashes for a tree of depth %d", ErrIncomplete, len(branch), depth)
	case len(branch) > depth:
		return fmt.Errorf("%w: branch of %d hashes for a tree of depth %d", ErrOverlap, len(branch), depth)
	}
	h := leafHash
	for i := range branch {
		sib := &branch[i]
		parent := p.Parent()
		switch {
		case p.IsRight():
			if *sib == h {
				return fmt.Errorf("%w: equal siblings at %v", ErrMutated, p)
			}
			h = HashPair(sib, &h)
		case shape.HasRight(parent):
			if *sib == h {
				return fmt.Errorf("%w: equal siblings at %v", ErrMutated, p)
			}
			h = HashPair(&h, sib)
		default:
			if *sib != h {
				return fmt.Errorf("%w: node %v has no sibling but the branch does not repeat it", ErrMismatch, p)
			}
			h = HashPair(&h, &h)
		}
		p = parent
	}
	if h != root {
		return fmt.Errorf("%w: branch of leaf %d gives root %v, want %v", ErrMismatch, leaf, h, root)
	}
	return nil
}
