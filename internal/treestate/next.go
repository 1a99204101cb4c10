package treestate

// NextMissing returns the first index i ≥ from at level that s has verified
// and peer lacks — the next node to push to the peer — and false when there
// is none. It costs one step per 64 positions scanned.
func (s *State) NextMissing(peer *Set, level uint8, from uint32) (uint32, bool) {
	s.sameShape(peer)
	if int(level) >= len(s.verified) {
		return 0, false
	}
	n := s.shape.Count(level)
	i := next(s.verified[level], peer.level(level), from, n, true)
	return i, i < n
}

// NextMissingBody returns the first leaf i ≥ from whose body s holds and
// peer lacks, and false when there is none.
func (s *State) NextMissingBody(peer *Set, from uint32) (uint32, bool) {
	s.sameShape(peer)
	var sub bitset
	if peer != nil {
		sub = peer.bodies
	}
	n := s.shape.Leaves()
	i := next(s.hasBody, sub, from, n, true)
	return i, i < n
}
