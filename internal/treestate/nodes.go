package treestate

import (
	"cmp"
	"slices"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
)

// AddNodes is AddNodesFrom with no source.
func (s *State) AddNodes(nodes []merkle.Node) (newly []merkle.Node, err error) {
	return s.AddNodesFrom(0, nodes)
}

// AddNodesFrom checks nodes received from src against the verified nodes
// and stores those that verify. It returns every node that became verified
// during the call: the nodes of this call that verified and the parents
// computed from them (sorted by level and index), followed by pending
// nodes of earlier calls that could be verified thanks to them. Bodies that
// were pending for leaves verified now are stored too; TakeNewBodies lists
// them.
//
// Nodes that cannot be verified yet, because a sibling or ancestor they
// need is not verified, are held as pending (see Claimed) within the
// pending budget, the oldest pending data being dropped first, and are
// retried whenever the nodes they wait for become verified. A node that is
// already verified with the same hash, or already pending with the same
// hash, is a duplicate: it is counted in Stats and otherwise ignored.
//
// The nodes are checked as merkle.VerifyAgainst does, in groups that climb
// the tree until they reach a verified node. An error wraps ErrBadPos when a
// node is not in the tree and ErrMalformed when a position is sent twice
// with different hashes; nothing of the call is kept then. It wraps
// ErrMismatch when a group recomputes another hash for a verified node and
// ErrMutated when a group pairs two equal real siblings (CVE-2012-2459);
// nothing of the failed group is kept, and neither are the call's pending
// nodes, since their sender is known to send false data, but other groups
// of the call that verified are stored and returned in newly (their hashes
// are proven). The error concerns this call's data only: pending groups of
// earlier calls that fail when retried are reported by TakeRejections.
func (s *State) AddNodesFrom(src Source, nodes []merkle.Node) (newly []merkle.Node, err error) {
	if len(nodes) == 0 {
		return nil, nil
	}
	accepted, pend, verr := merkle.VerifyAgainst(s.shape, s, nodes)
	newly = s.storeAccepted(accepted, newly)
	if verr != nil {
		s.stats.RejectedNodes += len(nodes)
		err = wrapMerkle(verr)
	} else if len(pend) > 0 {
		s.hold(src, pend)
	}
	return s.resolve(newly, 0), err
}

// storeAccepted stores the nodes VerifyAgainst accepted, appends those that
// were not verified before to newly, and counts the others as duplicates.
func (s *State) storeAccepted(accepted, newly []merkle.Node) []merkle.Node {
	if newly == nil && len(accepted) > 0 {
		newly = make([]merkle.Node, 0, len(accepted))
	}
	for _, n := range accepted {
		if s.store(n) {
			newly = append(newly, n)
		} else {
			s.stats.DuplicateNodes++
		}
	}
	return newly
}

// hold keeps the pending nodes of one call from src as one group, unless
// a group with exactly the same nodes is pending already (a retransmission):
// retrying both would give the same result. A group that merely overlaps
// another is kept whole, because the other may hold a false node that makes
// it fail and must not take this group's true nodes down with it.
func (s *State) hold(src Source, nodes []merkle.Node) {
	if s.pend.holds(nodes) {
		s.stats.DuplicateNodes += len(nodes)
		return
	}
	cost := len(nodes) * pendingNodeCost
	if cost > s.pend.limit {
		s.stats.DroppedNodes += len(nodes)
		return
	}
	s.countDropped(s.pend.makeRoom(cost))
	e := &entry{src: src, nodes: nodes, cost: cost}
	s.pend.push(e)
	s.pend.claim(e)
	s.pend.register(e, s.watchSet(nodes))
}

// countDropped adds what the pending buffer dropped to the counters.
func (s *State) countDropped(d dropped) {
	s.stats.DroppedNodes += d.nodes
	s.stats.DroppedBodies += d.bodies
}

// resolve processes the newly verified nodes from index from on: pending
// bodies of new leaves are checked, and pending node groups that watch a
// new node are retried, which may verify more nodes, until nothing changes.
// It returns newly extended by the nodes verified on the way.
func (s *State) resolve(newly []merkle.Node, from int) []merkle.Node {
	depth := s.shape.Depth()
	var retry []*entry
	for from < len(newly) {
		s.round++
		retry = retry[:0]
		for ; from < len(newly); from++ {
			n := newly[from]
			if n.Pos.Level == depth && s.pend.nbodies > 0 {
				s.resolveBodies(n.Pos.Index, n)
			}
			if len(s.pend.watch) > 0 {
				retry = s.pend.triggered(n.Pos, s.round, retry)
			}
		}
		slices.SortFunc(retry, func(a, b *entry) int { return cmp.Compare(a.seq, b.seq) })
		for _, e := range retry {
			newly = s.retry(e, newly)
		}
	}
	return newly
}

// retry checks a pending node group again. Nodes that verify are stored and
// appended to newly; a group that fails is discarded and reported as a
// rejection of its source; nodes that still cannot be verified stay pending.
func (s *State) retry(e *entry, newly []merkle.Node) []merkle.Node {
	if e.dead {
		return newly
	}
	accepted, pend, err := merkle.VerifyAgainst(s.shape, s, e.nodes)
	newly = s.storeAccepted(accepted, newly)
	if err != nil {
		s.stats.RejectedNodes += len(e.nodes)
		s.stats.LateRejections++
		s.reject(e.src, wrapMerkle(err))
		s.pend.kill(e)
		return newly
	}
	if len(pend) == len(e.nodes) {
		// Nothing changed for this group (the new node it watched did
		// not complete its path); keep it and watch again.
		s.pend.register(e, s.watchSet(e.nodes))
		return newly
	}
	var watch []merkle.Pos
	if len(pend) > 0 {
		watch = s.watchSet(pend)
	}
	s.pend.replace(e, pend, watch)
	return newly
}

// Claimed reports whether a node at p is pending: received, not verified
// yet, and held until it can be checked.
func (s *State) Claimed(p merkle.Pos) bool { return len(s.pend.claims[p]) > 0 }

// PendingLen returns the number of pending nodes.
func (s *State) PendingLen() int { return s.pend.nodes }

// SetPendingLimit sets the budget of the pending buffer in bytes (the
// default is DefaultPendingLimit), dropping the oldest pending data when the
// buffer holds more. A node costs 40 bytes, a body its length plus 64.
func (s *State) SetPendingLimit(bytes int) {
	s.pend.limit = max(bytes, 0)
	s.countDropped(s.pend.makeRoom(0))
}

// watchSet returns the positions whose verification could change the
// outcome of checking nodes (a pending group) again. It follows the nodes
// up the tree as merkle.VerifyAgainst does, without hashing: each
// unverified node it reaches is watched (it may become verified), and so is
// the sibling that stops a climb (it may arrive). As long as none of these
// positions becomes verified, VerifyAgainst would return the same result.
func (s *State) watchSet(nodes []merkle.Node) []merkle.Pos {
	in := make([]merkle.Pos, len(nodes))
	for i, n := range nodes {
		in[i] = n.Pos
	}
	slices.SortFunc(in, func(a, b merkle.Pos) int {
		return cmp.Or(cmp.Compare(b.Level, a.Level), cmp.Compare(a.Index, b.Index))
	})
	in = slices.Compact(in)

	var out, cur, carry, up []merkle.Pos
	next := 0
	for level := int(s.shape.Depth()); level >= 0 && (next < len(in) || len(carry) > 0); level-- {
		// Merge the inputs of this level with the parents carried up.
		cur = cur[:0]
		i := 0
		for ; next < len(in) && int(in[next].Level) == level; next++ {
			for i < len(carry) && carry[i].Index < in[next].Index {
				cur = append(cur, carry[i])
				i++
			}
			if i < len(carry) && carry[i] == in[next] {
				i++
			}
			cur = append(cur, in[next])
		}
		cur = append(cur, carry[i:]...)

		// Verified tops end their climb; the others are watched.
		open := cur[:0]
		for _, p := range cur {
			if !s.isVerified(p) {
				open = append(open, p)
				out = append(out, p)
			}
		}

		up = up[:0]
		for k := 0; k < len(open); k++ {
			p := open[k]
			if level == 0 {
				continue
			}
			parent, sib := p.Parent(), p.Sibling()
			switch {
			case p.IsRight():
				if !s.isVerified(sib) {
					out = append(out, sib)
					continue
				}
			case !s.shape.HasRight(parent):
			case k+1 < len(open) && open[k+1] == sib:
				k++
			case !s.isVerified(sib):
				out = append(out, sib)
				continue
			}
			up = append(up, parent)
		}
		carry, up = up, carry
	}
	return out
}
