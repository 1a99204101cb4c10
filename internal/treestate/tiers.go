package treestate

import (
	"iter"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
)

// Tier parameters (docs/protocol.md §6 OPEN_JOB and §7.2).
const (
	// LapMaxNodes is the most nodes the lap level may have.
	LapMaxNodes = 16
	// TierStep is the distance between two tiers above the leaves.
	TierStep = 5
	// MaxGroup is the most nodes of a group: 2^TierStep.
	MaxGroup = 1 << TierStep
)

// LapLevel returns the level L of the OPEN_JOB lap: the deepest level with
// at most LapMaxNodes nodes.
func LapLevel(shape merkle.Shape) uint8 {
	l := shape.Depth()
	for l > 0 && shape.Count(l) > LapMaxNodes {
		l--
	}
	return l
}

// Tiers returns the levels in which nodes are requested and pushed (§7.2):
// the lap level L, then the levels D-5k above the leaves that lie below L,
// in increasing order, ending with the leaf level D ([D] alone when L is
// D). Counting from the leaves makes every leaf group (the bulk of a
// block) a full 32 leaves; a short step, if any, falls just under the lap,
// where there are few nodes.
func Tiers(shape merkle.Shape) []uint8 {
	tiers := []uint8{LapLevel(shape)}
	for t, ok := NextTier(shape, tiers[0]); ok; t, ok = NextTier(shape, t) {
		tiers = append(tiers, t)
	}
	return tiers
}

// IsTier reports whether level is one of the tiers of shape.
func IsTier(shape merkle.Shape, level uint8) bool {
	l, d := LapLevel(shape), shape.Depth()
	return level == l || (level > l && level <= d && (d-level)%TierStep == 0)
}

// NextTier returns the tier after tier (false for the leaf level or a level
// that is not a tier).
func NextTier(shape merkle.Shape, tier uint8) (uint8, bool) {
	l, d := LapLevel(shape), shape.Depth()
	if tier >= d || !IsTier(shape, tier) {
		return 0, false
	}
	if tier == l {
		// The first level D-5k below the lap.
		return d - TierStep*((d-l-1)/TierStep), true
	}
	return tier + TierStep, true
}

// PrevTier returns the tier before tier (false for the lap level or a level
// that is not a tier).
func PrevTier(shape merkle.Shape, tier uint8) (uint8, bool) {
	l := LapLevel(shape)
	if tier <= l || !IsTier(shape, tier) {
		return 0, false
	}
	if tier-l <= TierStep {
		return l, true
	}
	return tier - TierStep, true
}

// Group is the unit of requests and pushes: the nodes of a tier under one
// node of the tier above (at most MaxGroup of them). Once Parent is
// verified, the group verifies on arrival.
type Group struct {
	Parent merkle.Pos
	Nodes  Range
}

// GroupRange returns the group under node (parentTier, j): the nodes at the
// next tier T with indices [j<<(T-P), min((j+1)<<(T-P), count(T))). It
// returns false when parentTier is not a tier above the leaves or j is not
// a node of it.
func GroupRange(shape merkle.Shape, parentTier uint8, j uint32) (Range, bool) {
	t, ok := NextTier(shape, parentTier)
	if !ok || j >= shape.Count(parentTier) {
		return Range{}, false
	}
	shift := t - parentTier
	start := j << shift
	end := min((j+1)<<shift, shape.Count(t))
	return Range{Level: t, Start: start, Count: end - start}, true
}

// GroupOf returns the group that holds node p, which must be at a tier
// below the lap level (false otherwise, or when p is not in the tree).
func GroupOf(shape merkle.Shape, p merkle.Pos) (Group, bool) {
	if !shape.Valid(p) {
		return Group{}, false
	}
	pt, ok := PrevTier(shape, p.Level)
	if !ok {
		return Group{}, false
	}
	parent := p.Ancestor(pt)
	r, _ := GroupRange(shape, pt, parent.Index)
	return Group{Parent: parent, Nodes: r}, true
}

// OpenGroups yields, in tree order, the groups at tier whose parent is
// verified and which hold a node that is not verified: the groups the job
// can request now. It yields nothing for the lap level or a level that is
// not a tier. The State must not change while the iteration runs.
func (s *State) OpenGroups(tier uint8) iter.Seq[Group] {
	return func(yield func(Group) bool) {
		pt, ok := PrevTier(s.shape, tier)
		if !ok {
			return
		}
		parents, nodes := s.verified[pt], s.verified[tier]
		np := s.shape.Count(pt)
		for j := parents.nextSet(0, np); j < np; j = parents.nextSet(j+1, np) {
			r, _ := GroupRange(s.shape, pt, j)
			if nodes.allSet(r.Start, r.End()) {
				continue
			}
			if !yield(Group{Parent: merkle.Pos{Level: pt, Index: j}, Nodes: r}) {
				return
			}
		}
	}
}
