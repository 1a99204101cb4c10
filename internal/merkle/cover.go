package merkle

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/btcsuite/btcd/chainhash/v2"
)

// Node is one merkle node with its position, as a peer sends it.
type Node struct {
	Pos  Pos
	Hash chainhash.Hash
}

// String renders the node as its position and hash.
func (n Node) String() string { return n.Pos.String() + ":" + n.Hash.String() }

// ComputeCover recomputes the hash of anchor from a lap around it: a set of
// nodes at or under anchor whose subtrees partition the leaves under anchor.
// The nodes may be at different levels and in any order (nodes is neither
// modified nor kept); a lap made of anchor alone is allowed and yields its
// own hash. Nodes are combined bottom-up, a node that ends an odd-sized
// level being hashed with itself as Bitcoin does.
//
// The nodes come from a peer and are not trusted: ComputeCover never panics,
// and it rejects more nodes than there are leaves under anchor (a lap has at
// most one node per leaf) before it allocates anything. Errors wrap
// ErrBadPos when anchor or a node is not in the tree or a node is not under
// anchor (such a node also wraps ErrOverlap, which names stray nodes too),
// ErrOverlap when a position is repeated or one node lies under another or
// there are too many nodes, ErrIncomplete when a leaf under anchor is
// covered by no node, and ErrMutated when two real siblings have equal
// hashes.
func ComputeCover(shape Shape, anchor Pos, nodes []Node) (chainhash.Hash, error) {
	if !shape.Valid(anchor) {
		return chainhash.Hash{}, fmt.Errorf("%w: anchor %v", ErrBadPos, anchor)
	}
	first, end := shape.LeafRange(anchor)
	if len(nodes) == 0 {
		return chainhash.Hash{}, fmt.Errorf("%w: empty lap around %v", ErrIncomplete, anchor)
	}
	if uint64(len(nodes)) > uint64(end-first) {
		return chainhash.Hash{}, fmt.Errorf("%w: %d nodes for the %d leaves under %v",
			ErrOverlap, len(nodes), end-first, anchor)
	}
	for _, n := range nodes {
		if err := checkUnder(shape, anchor, n.Pos); err != nil {
			return chainhash.Hash{}, err
		}
	}

	// Walk the nodes from left to right by their first leaf. In a tree the
	// leaf ranges of two nodes are nested or disjoint, so the nodes form a
	// lap exactly when each range starts where the previous one ended and
	// the last one ends where anchor's range ends.
	sorted := slices.Clone(nodes)
	depth := shape.Depth()
	slices.SortFunc(sorted, func(a, b Node) int {
		return cmp.Or(
			cmp.Compare(a.Pos.Index<<(depth-a.Pos.Level), b.Pos.Index<<(depth-b.Pos.Level)),
			cmp.Compare(a.Pos.Level, b.Pos.Level))
	})

	// The stack holds the nodes whose parent is not known yet. Because the
	// nodes arrive in leaf order, they are left children waiting for their
	// right sibling, at most one per level.
	var backing [MaxDepth + 2]Node
	stack := backing[:0]
	cursor := first
	for _, n := range sorted {
		f, e := shape.LeafRange(n.Pos)
		switch {
		case f < cursor:
			return chainhash.Hash{}, fmt.Errorf("%w: node %v overlaps another node of the lap around %v",
				ErrOverlap, n.Pos, anchor)
		case f > cursor:
			return chainhash.Hash{}, fmt.Errorf("%w: leaves %d..%d under %v are not covered",
				ErrIncomplete, cursor, f-1, anchor)
		}
		cursor = e
		stack = append(stack, n)
		var err error
		if stack, err = combine(shape, anchor, stack); err != nil {
			return chainhash.Hash{}, err
		}
	}
	if cursor != end {
		return chainhash.Hash{}, fmt.Errorf("%w: leaves %d..%d under %v are not covered",
			ErrIncomplete, cursor, end-1, anchor)
	}
	if len(stack) != 1 || stack[0].Pos != anchor {
		// A partition of anchor's leaves always combines into anchor; this
		// guards the invariant rather than a reachable case.
		return chainhash.Hash{}, fmt.Errorf("%w: lap around %v does not combine", ErrIncomplete, anchor)
	}
	return stack[0].Hash, nil
}

// combine replaces the top of stack by its parent for as long as the parent
// can be computed: when the top is a right child whose left sibling lies
// below it, or a left child without a real right sibling (the odd rule). It
// stops at anchor.
func combine(shape Shape, anchor Pos, stack []Node) ([]Node, error) {
	for {
		top := &stack[len(stack)-1]
		if top.Pos == anchor {
			return stack, nil
		}
		parent := top.Pos.Parent()
		switch {
		case top.Pos.IsRight():
			if len(stack) < 2 || stack[len(stack)-2].Pos != top.Pos.Sibling() {
				return stack, nil
			}
			left := &stack[len(stack)-2]
			if left.Hash == top.Hash {
				return stack, fmt.Errorf("%w: equal siblings %v and %v", ErrMutated, left.Pos, top.Pos)
			}
			h := HashPair(&left.Hash, &top.Hash)
			stack = stack[:len(stack)-1]
			stack[len(stack)-1] = Node{Pos: parent, Hash: h}
		case !shape.HasRight(parent):
			top.Hash = HashPair(&top.Hash, &top.Hash)
			top.Pos = parent
		default:
			return stack, nil
		}
	}
}

// checkUnder reports whether p is a node of shape at or under anchor.
func checkUnder(shape Shape, anchor, p Pos) error {
	if !shape.Valid(p) {
		return fmt.Errorf("%w: node %v of a %d-leaf tree", ErrBadPos, p, shape.Leaves())
	}
	if p.Level < anchor.Level || p.Ancestor(anchor.Level) != anchor {
		return fmt.Errorf("%w: node %v is not under anchor %v (%w)", ErrBadPos, p, anchor, ErrOverlap)
	}
	return nil
}

// VerifyCover checks that nodes form a lap around anchor whose hash is want.
// It returns ComputeCover's errors, or an error wrapping ErrMismatch that
// names anchor and the positions of the nodes when the recomputed hash
// differs from want.
func VerifyCover(shape Shape, anchor Pos, want chainhash.Hash, nodes []Node) error {
	got, err := ComputeCover(shape, anchor, nodes)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%w: lap %s around %v hashes to %v, want %v",
			ErrMismatch, positions(nodes), anchor, got, want)
	}
	return nil
}

// maxListed is the number of positions an error message lists before it
// abbreviates the rest.
const maxListed = 16

// positions renders the positions of nodes for an error message.
func positions(nodes []Node) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, n := range nodes {
		if i == maxListed {
			fmt.Fprintf(&b, " ... %d more", len(nodes)-i)
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(n.Pos.String())
	}
	b.WriteByte(']')
	return b.String()
}
