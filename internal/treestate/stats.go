package treestate

// Stats counts what a State has received. The Pending fields describe the
// buffer now; the others are totals since New.
type Stats struct {
	// VerifiedNodes is the number of verified nodes, the root included.
	VerifiedNodes int
	// DuplicateNodes counts nodes received again after they were verified
	// (with the same hash), and nodes of a pending group received again
	// exactly as it is held (a retransmission). Duplicates are never an
	// error.
	DuplicateNodes int
	// RejectedNodes counts the nodes of calls and of pending groups that
	// failed (bad position, mismatch, mutation); each failure counts all
	// the nodes it carried.
	RejectedNodes int
	// DroppedNodes counts pending nodes dropped to stay within the budget.
	DroppedNodes int
	// PendingNodes is the number of nodes held now.
	PendingNodes int

	// Bodies is the number of bodies stored.
	Bodies int
	// DuplicateBodies counts bodies received again after one was stored
	// or while an equal one was pending.
	DuplicateBodies int
	// RejectedBodies counts bodies whose txid was not the leaf hash.
	RejectedBodies int
	// DroppedBodies counts pending bodies dropped to stay within the
	// budget (including bodies larger than the whole budget).
	DroppedBodies int
	// PendingBodies is the number of bodies held now.
	PendingBodies int

	// PendingBytes is the budget the pending nodes and bodies use now.
	PendingBytes int
	// LateRejections counts pending groups and bodies that failed when
	// they were checked after their call returned (see TakeRejections).
	LateRejections int
}

// Stats returns the counters.
func (s *State) Stats() Stats {
	st := s.stats
	st.Bodies = s.nbodies
	st.PendingNodes = s.pend.nodes
	st.PendingBodies = s.pend.nbodies
	st.PendingBytes = s.pend.bytes
	return st
}
