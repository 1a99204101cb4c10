package treestate

import (
	"github.com/blocktorrent/blocktorrent/internal/merkle"
	"github.com/btcsuite/btcd/chainhash/v2"
)

// Source identifies where a node or body came from: an opaque tag chosen by
// the caller, typically a peer's id. The State only hands it back in a
// Rejection, so that the caller can score the peer that sent data which
// failed when it was checked later. Zero means "not given".
type Source uint64

// Rejection reports pending data that failed its check after the call that
// delivered it had returned: a node group that recomputed another hash for
// a verified node (ErrMismatch) or paired equal siblings (ErrMutated), or a
// body whose txid is not the leaf hash that arrived later (ErrBadBody).
type Rejection struct {
	Source Source
	Err    error
}

// maxRejections bounds the rejections a State keeps until TakeRejections
// collects them; further ones are only counted in Stats.
const maxRejections = 256

// State is what one job knows about one block's merkle tree: the verified
// nodes with their hashes, the transaction bodies, and the pending nodes and
// bodies that cannot be checked yet. The zero value is not usable; call New.
type State struct {
	shape     merkle.Shape
	hashes    [][]chainhash.Hash // per level, allocated at its first node
	verified  []bitset           // per level
	nverified []uint32           // per level
	bodies    [][]byte           // per leaf, allocated at the first body
	hasBody   bitset
	nbodies   int

	pend       pending
	round      uint64 // counts the rounds of resolve
	newBodies  []uint32
	rejections []Rejection
	stats      Stats
}

// New returns the state of a block whose tree has the given shape and whose
// header commits to root, which is the only verified node to begin with.
// The pending buffer holds up to DefaultPendingLimit bytes.
func New(shape merkle.Shape, root chainhash.Hash) *State {
	d := int(shape.Depth())
	s := &State{
		shape:     shape,
		hashes:    make([][]chainhash.Hash, d+1),
		verified:  make([]bitset, d+1),
		nverified: make([]uint32, d+1),
		hasBody:   newBitset(shape.Leaves()),
	}
	for l := range s.verified {
		s.verified[l] = newBitset(shape.Count(uint8(l)))
	}
	s.pend.init(DefaultPendingLimit)
	s.store(merkle.Node{Pos: shape.Root(), Hash: root})
	return s
}

// Shape returns the shape of the tree.
func (s *State) Shape() merkle.Shape { return s.shape }

// Root returns the verified root hash.
func (s *State) Root() chainhash.Hash { return s.hashes[0][0] }

// Verified returns the hash of p and true when p is verified, and false for
// a node not verified yet or not in the tree. It implements merkle.Verifier.
func (s *State) Verified(p merkle.Pos) (chainhash.Hash, bool) {
	if !s.shape.Valid(p) || !s.verified[p.Level].has(p.Index) {
		return chainhash.Hash{}, false
	}
	return s.hashes[p.Level][p.Index], true
}

// isVerified reports whether p, a node of the tree, is verified.
func (s *State) isVerified(p merkle.Pos) bool { return s.verified[p.Level].has(p.Index) }

// store records n as verified and reports whether it was not verified yet.
// The caller has checked n.
func (s *State) store(n merkle.Node) bool {
	l := n.Pos.Level
	if !s.verified[l].set(n.Pos.Index) {
		return false
	}
	if s.hashes[l] == nil {
		s.hashes[l] = make([]chainhash.Hash, s.shape.Count(l))
	}
	s.hashes[l][n.Pos.Index] = n.Hash
	s.nverified[l]++
	s.stats.VerifiedNodes++
	return true
}

// VerifiedCount returns the number of verified nodes at level (0 below the
// leaves).
func (s *State) VerifiedCount(level uint8) int {
	if int(level) >= len(s.nverified) {
		return 0
	}
	return int(s.nverified[level])
}

// LeavesVerified returns the number of verified leaves.
func (s *State) LeavesVerified() int { return int(s.nverified[s.shape.Depth()]) }

// HasRange reports whether every node of r is verified. An empty range or
// one that leaves the tree yields false.
func (s *State) HasRange(r Range) bool {
	if r.Count == 0 || !r.valid(s.shape) {
		return false
	}
	return s.verified[r.Level].allSet(r.Start, r.Start+r.Count)
}

// Hashes returns the hashes of the count nodes of level from start, for
// serving them, and true when all of them are verified; otherwise (or when
// the nodes are not in the tree) it returns nil and false. The slice aliases
// the State's storage: the caller must not modify it, and may keep it, since
// a verified hash never changes.
func (s *State) Hashes(level uint8, start, count uint32) ([]chainhash.Hash, bool) {
	r := Range{Level: level, Start: start, Count: count}
	if count == 0 || !s.HasRange(r) {
		return nil, false
	}
	end := start + count
	return s.hashes[level][start:end:end], true
}

// Complete reports whether every leaf is verified and every body present,
// the condition for assembling the block (§7.5).
func (s *State) Complete() bool {
	n := s.shape.Leaves()
	return s.nverified[s.shape.Depth()] == n && uint32(s.nbodies) == n
}

// TakeRejections returns the rejections of pending data recorded since the
// last call (at most maxRejections of them; Stats counts them all) and
// forgets them.
func (s *State) TakeRejections() []Rejection {
	r := s.rejections
	s.rejections = nil
	return r
}

// reject records a rejection of pending data from src.
func (s *State) reject(src Source, err error) {
	if len(s.rejections) < maxRejections {
		s.rejections = append(s.rejections, Rejection{Source: src, Err: err})
	}
}
