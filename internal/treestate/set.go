package treestate

import (
	"fmt"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
	"github.com/blocktorrent/blocktorrent/internal/wire"
)

// MaxRangeCount is the largest Count of a Range that Missing, Wanted and
// their body variants return: the most nodes one hashless run (and one
// workout) may name, so that every range fits a workout on its own.
const MaxRangeCount = wire.MaxSeqCount

// Range is Count consecutive nodes of one level from index Start: a flat
// run without hashes. For bodies, Level is the leaf level and the indices
// are leaves.
type Range struct {
	Level uint8
	Start uint32
	Count uint32
}

// End returns the index after the last node of r.
func (r Range) End() uint32 { return r.Start + r.Count }

// String renders r as level:[start,end).
func (r Range) String() string { return fmt.Sprintf("%d:[%d,%d)", r.Level, r.Start, r.End()) }

// valid reports whether every node of r is in the tree (an empty range is
// valid when its level is).
func (r Range) valid(shape merkle.Shape) bool {
	return r.Level <= shape.Depth() && uint64(r.Start)+uint64(r.Count) <= uint64(shape.Count(r.Level))
}

// check returns an ErrBadPos error when r leaves the tree.
func (r Range) check(shape merkle.Shape) error {
	if !r.valid(shape) {
		return errorf(ErrBadPos, "range %v of a %d-leaf tree", r, shape.Leaves())
	}
	return nil
}

// Set is what a peer has or claims to have, without hashes: per level the
// nodes it announced, acknowledged or sent, and the leaves whose bodies it
// holds. Claims are not data; nothing in a Set is trusted. Each level is a
// bitset, so a Set of a 131,072-leaf tree takes about 48 KiB.
type Set struct {
	shape  merkle.Shape
	nodes  []bitset
	bodies bitset
}

// NewSet returns an empty set for a tree of the given shape.
func NewSet(shape merkle.Shape) *Set {
	s := &Set{
		shape:  shape,
		nodes:  make([]bitset, int(shape.Depth())+1),
		bodies: newBitset(shape.Leaves()),
	}
	for l := range s.nodes {
		s.nodes[l] = newBitset(shape.Count(uint8(l)))
	}
	return s
}

// Shape returns the shape of the tree.
func (s *Set) Shape() merkle.Shape { return s.shape }

// Add adds one node and reports whether it was absent; a position outside
// the tree is ignored (false).
func (s *Set) Add(p merkle.Pos) bool {
	if !s.shape.Valid(p) {
		return false
	}
	return s.nodes[p.Level].set(p.Index)
}

// AddRange adds the nodes of r, or returns an error wrapping ErrBadPos and
// adds nothing when r leaves the tree.
func (s *Set) AddRange(r Range) error {
	if err := r.check(s.shape); err != nil {
		return err
	}
	s.nodes[r.Level].setRange(r.Start, r.End())
	return nil
}

// AddRun adds the nodes a run names, in any direction; its hashes, if any,
// are ignored. Nothing is added when the run leaves the tree (an error
// wrapping ErrBadPos, or ErrMalformed for a walk that leaves every tree).
func (s *Set) AddRun(run *wire.Run) error {
	if run.Dir == wire.Flat {
		return s.AddRange(Range{Level: run.Level, Start: run.Start, Count: uint32(run.Seq.Count)})
	}
	ps, err := run.Positions()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	for _, p := range ps {
		if !s.shape.Valid(p) {
			return errorf(ErrBadPos, "run node %v of a %d-leaf tree", p, s.shape.Leaves())
		}
	}
	for _, p := range ps {
		s.nodes[p.Level].set(p.Index)
	}
	return nil
}

// Has reports whether the set holds node p.
func (s *Set) Has(p merkle.Pos) bool {
	return s.shape.Valid(p) && s.nodes[p.Level].has(p.Index)
}

// HasRange reports whether the set holds every node of r (false for an
// empty range or one that leaves the tree).
func (s *Set) HasRange(r Range) bool {
	return r.Count > 0 && r.valid(s.shape) && s.nodes[r.Level].allSet(r.Start, r.End())
}

// Count returns the number of nodes the set holds at level.
func (s *Set) Count(level uint8) int {
	if int(level) >= len(s.nodes) {
		return 0
	}
	return s.nodes[level].count()
}

// AddBodies adds the bodies of the leaves of r, whose level must be the
// leaf level; otherwise, or when r leaves the tree, it returns an error
// wrapping ErrBadPos and adds nothing.
func (s *Set) AddBodies(r Range) error {
	if r.Level != s.shape.Depth() {
		return errorf(ErrBadPos, "body range %v not at the leaf level %d", r, s.shape.Depth())
	}
	if err := r.check(s.shape); err != nil {
		return err
	}
	s.bodies.setRange(r.Start, r.End())
	return nil
}

// AddBody adds the body of one leaf (ignored outside the tree).
func (s *Set) AddBody(leaf uint32) {
	if leaf < s.shape.Leaves() {
		s.bodies.set(leaf)
	}
}

// HasBody reports whether the set holds the body of a leaf.
func (s *Set) HasBody(leaf uint32) bool {
	return leaf < s.shape.Leaves() && s.bodies.has(leaf)
}

// HasBodies reports whether the set holds the bodies of every leaf of r,
// a range at the leaf level (false for an empty range, a range at another
// level, or one that leaves the tree). It checks 64 leaves at a time.
func (s *Set) HasBodies(r Range) bool {
	return r.Count > 0 && r.Level == s.shape.Depth() && r.valid(s.shape) && s.bodies.allSet(r.Start, r.End())
}

// BodyCount returns the number of bodies the set holds.
func (s *Set) BodyCount() int { return s.bodies.count() }
