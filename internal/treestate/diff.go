package treestate

// The differences between what a State holds and what a peer's Set holds,
// level by level, as maximal runs of consecutive indices (cut at
// MaxRangeCount). They are computed 64 positions at a time.
//
// The peer's set must have the State's shape (they panic otherwise: that is
// a programming error, not bad input); a nil peer is the empty set. A level
// below the leaves yields nil.

// Missing returns the nodes of level that s has verified and peer lacks:
// what to announce to the peer (JOB_STATE) or push to it.
func (s *State) Missing(peer *Set, level uint8) []Range {
	s.sameShape(peer)
	if int(level) >= len(s.verified) {
		return nil
	}
	return runs(nil, s.verified[level], peer.level(level), s.shape.Count(level), level)
}

// Wanted returns the nodes of level that peer has and s has not verified:
// what s may request from the peer.
func (s *State) Wanted(peer *Set, level uint8) []Range {
	s.sameShape(peer)
	if peer == nil || int(level) >= len(s.verified) {
		return nil
	}
	return runs(nil, peer.nodes[level], s.verified[level], s.shape.Count(level), level)
}

// MissingBodies returns the leaves whose bodies s holds and peer lacks.
func (s *State) MissingBodies(peer *Set) []Range {
	s.sameShape(peer)
	var sub bitset
	if peer != nil {
		sub = peer.bodies
	}
	return runs(nil, s.hasBody, sub, s.shape.Leaves(), s.shape.Depth())
}

// WantedBodies returns the leaves whose bodies peer holds and s lacks.
func (s *State) WantedBodies(peer *Set) []Range {
	s.sameShape(peer)
	if peer == nil {
		return nil
	}
	return runs(nil, peer.bodies, s.hasBody, s.shape.Leaves(), s.shape.Depth())
}

// level returns the bitset of one level of a set, nil for a nil set.
func (s *Set) level(l uint8) bitset {
	if s == nil {
		return nil
	}
	return s.nodes[l]
}

// sameShape panics when peer is a set for another tree.
func (s *State) sameShape(peer *Set) {
	if peer != nil && peer.shape != s.shape {
		panic("treestate: peer set of another tree shape")
	}
}
