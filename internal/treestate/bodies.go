package treestate

import (
	"github.com/blocktorrent/blocktorrent/internal/merkle"
	"github.com/btcsuite/btcd/chainhash/v2"
)

// AddBody is AddBodyFrom with no source.
func (s *State) AddBody(leaf uint32, txid chainhash.Hash, body []byte) (bool, error) {
	return s.AddBodyFrom(0, leaf, txid, body)
}

// AddBodyFrom offers the transaction body of a leaf, received from src; the
// caller has decoded the body and computed its txid. The State keeps body
// without copying it: the caller must not modify it afterwards.
//
// When the leaf is verified, the body is stored if txid equals the leaf
// hash (stored is true), and an error wrapping ErrBadBody is returned
// otherwise. A second body for a leaf that has one is a duplicate (counted,
// stored false, no error). When the leaf is not verified yet, the body is
// held as pending within the pending budget (stored false) and checked when
// the leaf becomes verified: if it matches it is stored then and reported
// by TakeNewBodies, and if not the mismatch is reported by TakeRejections.
// A leaf outside the tree yields an error wrapping ErrBadPos.
func (s *State) AddBodyFrom(src Source, leaf uint32, txid chainhash.Hash, body []byte) (stored bool, err error) {
	if leaf >= s.shape.Leaves() {
		s.stats.RejectedBodies++
		return false, errorf(ErrBadPos, "leaf %d of a %d-leaf tree", leaf, s.shape.Leaves())
	}
	if h, ok := s.Verified(s.shape.Leaf(leaf)); ok {
		if h != txid {
			s.stats.RejectedBodies++
			return false, errorf(ErrBadBody, "leaf %d is %v, body has txid %v", leaf, h, txid)
		}
		if s.hasBody.has(leaf) {
			s.stats.DuplicateBodies++
			return false, nil
		}
		s.storeBody(leaf, body)
		return true, nil
	}
	for _, e := range s.pend.bodies[leaf] {
		if e.txid == txid {
			s.stats.DuplicateBodies++
			return false, nil
		}
	}
	cost := len(body) + pendingBodyOverhead
	if cost > s.pend.limit {
		s.stats.DroppedBodies++
		return false, nil
	}
	s.countDropped(s.pend.makeRoom(cost))
	e := &entry{src: src, cost: cost, isBody: true, leaf: leaf, txid: txid, body: body}
	s.pend.push(e)
	s.pend.bodies[leaf] = append(s.pend.bodies[leaf], e)
	s.pend.nbodies++
	return false, nil
}

// storeBody stores the body of a verified leaf that has none.
func (s *State) storeBody(leaf uint32, body []byte) {
	if s.bodies == nil {
		s.bodies = make([][]byte, s.shape.Leaves())
	}
	s.bodies[leaf] = body
	s.hasBody.set(leaf)
	s.nbodies++
}

// resolveBodies checks the pending bodies of a leaf that just became
// verified as n: the first whose txid matches is stored, the other matching
// ones are duplicates, and the rest are rejected.
func (s *State) resolveBodies(leaf uint32, n merkle.Node) {
	list := s.pend.bodies[leaf]
	if len(list) == 0 {
		return
	}
	for _, e := range append([]*entry(nil), list...) {
		switch {
		case e.txid != n.Hash:
			s.stats.RejectedBodies++
			s.stats.LateRejections++
			s.reject(e.src, errorf(ErrBadBody, "leaf %d is %v, pending body has txid %v", leaf, n.Hash, e.txid))
		case s.hasBody.has(leaf):
			s.stats.DuplicateBodies++
		default:
			s.storeBody(leaf, e.body)
			s.newBodies = append(s.newBodies, leaf)
		}
		s.pend.kill(e)
	}
}

// TakeNewBodies returns the leaves whose pending bodies were stored, in the
// order they were, since the last call (bodies that AddBodyFrom stored at
// once are not listed: it reported them itself), and forgets them. Call it
// after AddNodesFrom to learn which bodies its new leaves completed.
func (s *State) TakeNewBodies() []uint32 {
	b := s.newBodies
	s.newBodies = nil
	return b
}

// Body returns the body of a leaf, or nil when it has none.
func (s *State) Body(leaf uint32) []byte {
	if leaf >= s.shape.Leaves() || s.bodies == nil {
		return nil
	}
	return s.bodies[leaf]
}

// HasBody reports whether the body of a leaf is stored.
func (s *State) HasBody(leaf uint32) bool {
	return leaf < s.shape.Leaves() && s.hasBody.has(leaf)
}

// HasBodies reports whether the bodies of every leaf of r, a range at the
// leaf level, are stored (false for an empty range, a range at another
// level, or one that leaves the tree).
func (s *State) HasBodies(r Range) bool {
	return r.Count > 0 && r.Level == s.shape.Depth() && r.valid(s.shape) && s.hasBody.allSet(r.Start, r.End())
}

// RemoveBody forgets the stored body of a leaf and reports whether there
// was one. The txid does not cover witness data, so a body can match its
// leaf and still carry a bad witness; when the block's witness commitment
// fails (§7.5) the job removes the witness-bearing bodies and fetches them
// again.
func (s *State) RemoveBody(leaf uint32) bool {
	if leaf >= s.shape.Leaves() || !s.hasBody.has(leaf) {
		return false
	}
	s.bodies[leaf] = nil
	s.hasBody.unset(leaf)
	s.nbodies--
	return true
}

// BodyCount returns the number of stored bodies.
func (s *State) BodyCount() int { return s.nbodies }
