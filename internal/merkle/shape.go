package merkle

import (
	"fmt"
	"math/bits"
)

// MaxLeaves is the largest number of leaves (transactions) a Shape accepts.
// A 4,000,000 weight-unit block holds at most about 66,000 transactions, so
// 2^24 leaves leaves ample room for larger test trees while bounding memory.
const MaxLeaves = 1 << 24

// MaxDepth is the depth of a tree with MaxLeaves leaves.
const MaxDepth = 24

// Pos names one node of a merkle tree: Level 0 is the root and the leaves
// sit at level Depth; Index counts from 0 at the left of the level.
type Pos struct {
	Level uint8
	Index uint32
}

// String renders the position as (level,index).
func (p Pos) String() string { return fmt.Sprintf("(%d,%d)", p.Level, p.Index) }

// Parent returns the parent of p. The root is its own parent.
func (p Pos) Parent() Pos {
	if p.Level == 0 {
		return p
	}
	return Pos{p.Level - 1, p.Index >> 1}
}

// Left returns the left child of p.
func (p Pos) Left() Pos { return Pos{p.Level + 1, p.Index << 1} }

// Right returns the right child of p.
func (p Pos) Right() Pos { return Pos{p.Level + 1, p.Index<<1 | 1} }

// Sibling returns the other child of p's parent.
func (p Pos) Sibling() Pos { return Pos{p.Level, p.Index ^ 1} }

// IsRight reports whether p is the right child of its parent.
func (p Pos) IsRight() bool { return p.Index&1 == 1 }

// Ancestor returns the ancestor of p at the given level (which must not be
// deeper than p).
func (p Pos) Ancestor(level uint8) Pos {
	if level >= p.Level {
		return p
	}
	return Pos{level, p.Index >> (p.Level - level)}
}

// Shape is the geometry of the merkle tree of a block with a given number of
// leaves. It is an immutable value.
type Shape struct {
	leaves uint32
	depth  uint8
	counts [MaxDepth + 1]uint32
}

// NewShape returns the shape of a tree with n leaves, 1 <= n <= MaxLeaves.
func NewShape(n uint32) (Shape, error) {
	if n == 0 || n > MaxLeaves {
		return Shape{}, fmt.Errorf("%w: %d leaves (want 1..%d)", ErrBadShape, n, MaxLeaves)
	}
	var s Shape
	s.leaves = n
	s.depth = uint8(bits.Len32(n - 1))
	c := n
	for l := int(s.depth); l >= 0; l-- {
		s.counts[l] = c
		c = (c + 1) / 2
	}
	return s, nil
}

// MustShape is NewShape for callers that have already checked n.
func MustShape(n uint32) Shape {
	s, err := NewShape(n)
	if err != nil {
		panic(err)
	}
	return s
}

// Leaves returns the number of leaves.
func (s Shape) Leaves() uint32 { return s.leaves }

// Depth returns the level of the leaves (0 for a one-leaf tree).
func (s Shape) Depth() uint8 { return s.depth }

// Count returns the number of nodes at a level, or 0 for a level below the
// leaves.
func (s Shape) Count(level uint8) uint32 {
	if level > s.depth {
		return 0
	}
	return s.counts[level]
}

// Valid reports whether p is a node of the tree.
func (s Shape) Valid(p Pos) bool { return p.Level <= s.depth && p.Index < s.counts[p.Level] }

// Height returns the distance of p's level from the leaves.
func (s Shape) Height(p Pos) uint8 { return s.depth - p.Level }

// IsLeaf reports whether p is at the leaf level.
func (s Shape) IsLeaf(p Pos) bool { return p.Level == s.depth }

// LeafRange returns the half-open range [first, end) of leaves under p. The
// last node of a level may cover fewer leaves than 2^height.
func (s Shape) LeafRange(p Pos) (first, end uint32) {
	h := s.depth - p.Level
	first = p.Index << h
	end = min((p.Index+1)<<h, s.leaves)
	return first, end
}

// HasRight reports whether the internal node p has a real right child. When
// it does not, Bitcoin's odd rule hashes the left child with itself.
func (s Shape) HasRight(p Pos) bool {
	return p.Level < s.depth && p.Index<<1|1 < s.counts[p.Level+1]
}

// Leaf returns the position of leaf i.
func (s Shape) Leaf(i uint32) Pos { return Pos{s.depth, i} }

// Root returns the position of the root.
func (s Shape) Root() Pos { return Pos{} }

// NextAscending returns the node after p in an ascending run, which travels
// rightwards while climbing: the right child of the most recent common
// ancestor of p and its right neighbour. With t the number of trailing one
// bits of p.Index that is (p.Level-t, p.Index>>t + 1). ok is false when the
// walk would pass the root (p is the rightmost node of a perfect tree).
func NextAscending(p Pos) (next Pos, ok bool) {
	t := uint8(bits.TrailingZeros32(^p.Index))
	if t >= p.Level {
		return Pos{}, false
	}
	return Pos{p.Level - t, p.Index>>t + 1}, true
}

// NextDescending returns the node after p in a descending run, which travels
// leftwards while climbing: the left child of the most recent common
// ancestor of p and its left neighbour. With z the number of trailing zero
// bits of p.Index that is (p.Level-z, p.Index>>z - 1). ok is false when p is
// the leftmost node of its level.
func NextDescending(p Pos) (next Pos, ok bool) {
	if p.Index == 0 {
		return Pos{}, false
	}
	z := uint8(bits.TrailingZeros32(p.Index))
	if z >= p.Level {
		return Pos{}, false
	}
	return Pos{p.Level - z, p.Index>>z - 1}, true
}
