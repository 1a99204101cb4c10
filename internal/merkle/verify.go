package merkle

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/btcsuite/btcd/chainhash/v2"
)

// Verifier is a receiver's set of verified nodes: the hashes it already
// trusts, starting with the root from the block header. Verified returns the
// hash of a verified node, and false for a node not verified yet.
//
// VerifyAgainst assumes the set is closed upwards (the parent of a verified
// node is verified too). A set that started as the root and grew only by the
// accepted results of VerifyAgainst always is; with any other set, nodes
// whose only verified relatives lie below them stay pending.
type Verifier interface {
	Verified(Pos) (chainhash.Hash, bool)
}

// Group states used by VerifyAgainst.
const (
	groupOpen uint8 = iota
	groupAccepted
	groupPending
	groupRejected
)

// entry is a node VerifyAgainst is working on: an input node or a parent it
// computed. group is the entry's union-find element and out the index of
// the computed node the entry stands for (-1 for an input node).
type entry struct {
	pos   Pos
	hash  chainhash.Hash
	group int32
	out   int32
}

// computedNode is a parent VerifyAgainst computed; drop marks one that is
// known already or that an input node at the same position stands for.
type computedNode struct {
	Node
	group int32
	drop  bool
}

// VerifyAgainst checks new nodes from a peer against the verified set known.
// The nodes are combined bottom-up with their siblings, which may be other
// new nodes, parents computed from them, or verified nodes, into groups
// whose hashes climb the tree until they reach a verified node. A node is
// accepted only when the hash of its group reproduces that verified hash, so
// that every accepted hash is as trustworthy as the verified set; accepted
// also holds the parents computed on the way that were not verified yet, so
// that the caller can store them as verified. A new node at a verified
// position is accepted when its hash is the verified one.
//
// Nodes whose group cannot reach a verified node yet, because a sibling is
// neither new nor verified, are returned in pending, to be retried when more
// nodes arrive. Every distinct input position ends in accepted, in pending,
// or (when err is not nil) in a rejected group; a position sent twice with
// the same hash counts once. accepted and pending are sorted by level and
// index.
//
// A group is rejected, and none of its nodes accepted, when its hash
// differs from a verified hash or from a new node at the same position
// (ErrMismatch) or when it pairs two real siblings with equal hashes
// (ErrMutated). The other groups are still decided, so accepted may be
// non-empty when err (the first rejection) is not nil: those nodes are
// verified, but the peer sent something false. The whole call fails, with
// nothing accepted, when a node is not in the tree (ErrBadPos), a position
// is sent twice with different hashes, or there are more nodes than the tree
// has (ErrOverlap). A nil known verifies nothing.
func VerifyAgainst(shape Shape, known Verifier, nodes []Node) (accepted []Node, pending []Node, err error) {
	if shape.Leaves() == 0 {
		return nil, nil, fmt.Errorf("%w: zero shape", ErrBadShape)
	}
	depth := shape.Depth()
	total := 0
	for l := range depth + 1 {
		total += int(shape.Count(l))
	}
	if len(nodes) > total {
		return nil, nil, fmt.Errorf("%w: %d nodes for a tree of %d", ErrOverlap, len(nodes), total)
	}
	for _, n := range nodes {
		if !shape.Valid(n.Pos) {
			return nil, nil, fmt.Errorf("%w: node %v of a %d-leaf tree", ErrBadPos, n.Pos, shape.Leaves())
		}
	}
	if len(nodes) == 0 {
		return nil, nil, nil
	}
	if known == nil {
		known = nothingVerified{}
	}

	// Sort the input from the leaves upwards and left to right within a
	// level, and drop repeated positions.
	ins := slices.Clone(nodes)
	slices.SortFunc(ins, func(a, b Node) int {
		return cmp.Or(cmp.Compare(b.Pos.Level, a.Pos.Level), cmp.Compare(a.Pos.Index, b.Pos.Index))
	})
	w := 0
	for i := range ins {
		if w > 0 && ins[w-1].Pos == ins[i].Pos {
			if ins[w-1].Hash != ins[i].Hash {
				return nil, nil, fmt.Errorf("%w: node %v sent twice with different hashes", ErrOverlap, ins[i].Pos)
			}
			continue
		}
		ins[w] = ins[i]
		w++
	}
	ins = ins[:w]

	v := verifier{
		shape:  shape,
		known:  known,
		parent: make([]int32, len(ins)),
		state:  make([]uint8, len(ins)),
	}
	for i := range v.parent {
		v.parent[i] = int32(i)
	}
	v.run(ins)

	for i, n := range ins {
		switch v.state[v.find(int32(i))] {
		case groupAccepted:
			accepted = append(accepted, n)
		case groupOpen, groupPending:
			pending = append(pending, n)
		}
	}
	for _, c := range v.computed {
		if !c.drop && v.state[v.find(c.group)] == groupAccepted {
			accepted = append(accepted, c.Node)
		}
	}
	byPos := func(a, b Node) int {
		return cmp.Or(cmp.Compare(a.Pos.Level, b.Pos.Level), cmp.Compare(a.Pos.Index, b.Pos.Index))
	}
	slices.SortFunc(accepted, byPos)
	slices.SortFunc(pending, byPos)
	return accepted, pending, v.err
}

// nothingVerified is the Verifier of an empty set.
type nothingVerified struct{}

func (nothingVerified) Verified(Pos) (chainhash.Hash, bool) { return chainhash.Hash{}, false }

// verifier holds the state of one VerifyAgainst call: a union-find forest
// over the groups (one per input node to begin with), the state of each
// group's root, the parents computed so far, and the first rejection.
type verifier struct {
	shape    Shape
	known    Verifier
	parent   []int32
	state    []uint8
	computed []computedNode
	err      error
}

// find returns the root element of g's group.
func (v *verifier) find(g int32) int32 {
	for v.parent[g] != g {
		v.parent[g] = v.parent[v.parent[g]]
		g = v.parent[g]
	}
	return g
}

// union merges the groups of a and b, which must both be open.
func (v *verifier) union(a, b int32) {
	if ra, rb := v.find(a), v.find(b); ra != rb {
		v.parent[rb] = ra
	}
}

// settle gives g's group its final state; the first rejection becomes the
// call's error.
func (v *verifier) settle(g int32, state uint8, err error) {
	v.state[v.find(g)] = state
	if err != nil && v.err == nil {
		v.err = err
	}
}

// run processes the levels from the leaves to the root. At each level the
// open groups' tops (input nodes at that level and parents computed from the
// level below) are first checked against input nodes at the same position
// and against the verified set, and the rest are paired with their siblings
// to compute the next level's tops. Every group ends accepted, pending or
// rejected.
func (v *verifier) run(ins []Node) {
	var carry, cur []entry
	next := 0
	for level := int(v.shape.Depth()); level >= 0; level-- {
		// Merge the computed parents with the input nodes of this level;
		// both lists are sorted by index.
		cur = cur[:0]
		i := 0
		for ; next < len(ins) && int(ins[next].Pos.Level) == level; next++ {
			n := ins[next]
			for i < len(carry) && carry[i].pos.Index < n.Pos.Index {
				cur = append(cur, carry[i])
				i++
			}
			e := entry{pos: n.Pos, hash: n.Hash, group: int32(next), out: -1}
			if i < len(carry) && carry[i].pos == n.Pos {
				c := carry[i]
				i++
				v.computed[c.out].drop = true
				v.union(e.group, c.group)
				if c.hash != n.Hash {
					v.settle(e.group, groupRejected, fmt.Errorf(
						"%w: node %v differs from the hash of the nodes sent under it", ErrMismatch, n.Pos))
					continue
				}
			}
			cur = append(cur, e)
		}
		cur = append(cur, carry[i:]...)

		// Settle the tops that reach a verified node.
		open := cur[:0]
		for _, e := range cur {
			h, ok := v.known.Verified(e.pos)
			if !ok {
				open = append(open, e)
				continue
			}
			if e.out >= 0 {
				v.computed[e.out].drop = true
			}
			if h != e.hash {
				v.settle(e.group, groupRejected, fmt.Errorf(
					"%w: node %v is verified with another hash", ErrMismatch, e.pos))
				continue
			}
			v.settle(e.group, groupAccepted, nil)
		}

		// Pair the remaining tops with their siblings.
		carry = carry[:0]
		for k := 0; k < len(open); k++ {
			e := &open[k]
			if level == 0 {
				v.settle(e.group, groupPending, nil)
				continue
			}
			parent := e.pos.Parent()
			sib := e.pos.Sibling()
			var left, right chainhash.Hash
			switch {
			case e.pos.IsRight():
				// A left sibling among the tops would have taken this
				// node already, so it can only be verified.
				h, ok := v.known.Verified(sib)
				if !ok {
					v.settle(e.group, groupPending, nil)
					continue
				}
				left, right = h, e.hash
			case !v.shape.HasRight(parent):
				left, right = e.hash, e.hash
			case k+1 < len(open) && open[k+1].pos == sib:
				v.union(e.group, open[k+1].group)
				left, right = e.hash, open[k+1].hash
				k++
			default:
				h, ok := v.known.Verified(sib)
				if !ok {
					v.settle(e.group, groupPending, nil)
					continue
				}
				left, right = e.hash, h
			}
			if left == right && v.shape.HasRight(parent) {
				v.settle(e.group, groupRejected, fmt.Errorf(
					"%w: equal siblings under %v", ErrMutated, parent))
				continue
			}
			out := int32(len(v.computed))
			v.computed = append(v.computed, computedNode{
				Node:  Node{Pos: parent, Hash: HashPair(&left, &right)},
				group: e.group,
			})
			carry = append(carry, entry{pos: parent, hash: v.computed[out].Hash, group: e.group, out: out})
		}
	}
}
