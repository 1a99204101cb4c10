package merkle

import (
	"cmp"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
)

// knownSet is a map-backed Verifier.
type knownSet map[Pos]chainhash.Hash

func (k knownSet) Verified(p Pos) (chainhash.Hash, bool) {
	h, ok := k[p]
	return h, ok
}

// known returns a verified set holding the true hashes of ps and of all
// their ancestors (the set a receiver has when it is closed upwards).
func (tr testTree) known(ps ...Pos) knownSet {
	k := knownSet{Pos{}: tr.levels[0][0]}
	for _, p := range ps {
		for l := int(p.Level); l >= 0; l-- {
			a := p.Ancestor(uint8(l))
			k[a] = tr.hash(a)
		}
	}
	return k
}

// nodes returns the true nodes at the given positions.
func (tr testTree) nodes(ps ...Pos) []Node {
	out := make([]Node, len(ps))
	for i, p := range ps {
		out[i] = Node{Pos: p, Hash: tr.hash(p)}
	}
	return out
}

// leafRange returns the positions of leaves first..end-1.
func leafRange(shape Shape, first, end uint32) []Pos {
	var ps []Pos
	for i := first; i < end; i++ {
		ps = append(ps, shape.Leaf(i))
	}
	return ps
}

// positionsOf returns the sorted positions of nodes.
func positionsOf(nodes []Node) []Pos {
	ps := make([]Pos, len(nodes))
	for i, n := range nodes {
		ps[i] = n.Pos
	}
	slices.SortFunc(ps, comparePos)
	return ps
}

func comparePos(a, b Pos) int {
	return cmp.Or(cmp.Compare(a.Level, b.Level), cmp.Compare(a.Index, b.Index))
}

func corrupt(n Node) Node {
	n.Hash[7] ^= 0x10
	return n
}

func TestVerifyAgainst(t *testing.T) {
	tr := newTestTree(8, 31)
	tr5 := newTestTree(5, 32)
	mutLeaves := randomHashes(4, 33)
	mutLeaves[3] = mutLeaves[2]
	mut := testTree{shape: MustShape(4), levels: Levels(mutLeaves)}

	allLeaves := leafRange(tr.shape, 0, 8)
	internal := []Pos{{1, 0}, {1, 1}, {2, 0}, {2, 1}, {2, 2}, {2, 3}}
	tests := []struct {
		name     string
		tree     testTree
		known    Verifier
		nodes    []Node
		accepted []Pos
		pending  []Pos
		err      error
	}{
		{"all leaves against the root", tr, tr.known(), tr.nodes(allLeaves...),
			append(slices.Clone(internal), allLeaves...), nil, nil},
		{"left half waits for (1,1)", tr, tr.known(), tr.nodes(leafRange(tr.shape, 0, 4)...),
			nil, leafRange(tr.shape, 0, 4), nil},
		{"left half with (1,1) verified", tr, tr.known(Pos{1, 1}), tr.nodes(leafRange(tr.shape, 0, 4)...),
			append([]Pos{{1, 0}, {2, 0}, {2, 1}}, leafRange(tr.shape, 0, 4)...), nil, nil},
		{"the draft's five X's", tr, tr.known(), tr.nodes(Pos{3, 0}, Pos{3, 1}, Pos{3, 2}, Pos{3, 3}, Pos{1, 1}),
			[]Pos{{1, 0}, {1, 1}, {2, 0}, {2, 1}, {3, 0}, {3, 1}, {3, 2}, {3, 3}}, nil, nil},
		{"sibling of a verified node", tr, tr.known(Pos{3, 4}), tr.nodes(Pos{3, 5}),
			[]Pos{{3, 5}}, nil, nil},
		{"verified node sent again", tr, tr.known(Pos{2, 1}), tr.nodes(Pos{2, 1}),
			[]Pos{{2, 1}}, nil, nil},
		{"parent sent with its children", tr, tr.known(Pos{2, 3}), tr.nodes(Pos{2, 2}, Pos{3, 4}, Pos{3, 5}),
			[]Pos{{2, 2}, {3, 4}, {3, 5}}, nil, nil},
		{"unconnected node stays pending", tr, tr.known(), tr.nodes(Pos{3, 6}),
			nil, []Pos{{3, 6}}, nil},
		{"nothing verified", tr, nil, tr.nodes(allLeaves...), nil, allLeaves, nil},
		{"no nodes", tr, tr.known(), nil, nil, nil, nil},
		{"odd rule climbs alone", tr5, tr5.known(Pos{1, 0}), tr5.nodes(Pos{3, 4}),
			[]Pos{{1, 1}, {2, 2}, {3, 4}}, nil, nil},
		{"duplicate with the same hash", tr, tr.known(Pos{2, 1}), tr.nodes(Pos{3, 0}, Pos{3, 1}, Pos{3, 0}),
			[]Pos{{2, 0}, {3, 0}, {3, 1}}, nil, nil},

		{"wrong leaf rejects its whole group", tr, tr.known(),
			append(tr.nodes(allLeaves[:7]...), corrupt(tr.nodes(allLeaves[7])[0])), nil, nil, ErrMismatch},
		{"wrong hash at a verified position", tr, tr.known(Pos{2, 1}),
			[]Node{corrupt(tr.nodes(Pos{2, 1})[0])}, nil, nil, ErrMismatch},
		{"parent contradicting its children", tr, tr.known(Pos{2, 3}),
			append(tr.nodes(Pos{3, 4}, Pos{3, 5}), corrupt(tr.nodes(Pos{2, 2})[0])), nil, nil, ErrMismatch},
		{"false node without a path stays pending", tr, tr.known(Pos{1, 0}, Pos{1, 1}),
			append(tr.nodes(leafRange(tr.shape, 0, 4)...), corrupt(tr.nodes(Pos{3, 5})[0]), tr.nodes(Pos{3, 4})[0]),
			append([]Pos{{2, 0}, {2, 1}}, leafRange(tr.shape, 0, 4)...), []Pos{{3, 4}, {3, 5}}, nil},
		{"good group kept beside a bad one", tr, tr.known(Pos{1, 0}, Pos{2, 3}),
			append(tr.nodes(leafRange(tr.shape, 0, 4)...), corrupt(tr.nodes(Pos{3, 5})[0]), tr.nodes(Pos{3, 4})[0]),
			append([]Pos{{2, 0}, {2, 1}}, leafRange(tr.shape, 0, 4)...), nil, ErrMismatch},
		{"pending kept beside a bad one", tr, tr.known(Pos{3, 0}),
			append(tr.nodes(Pos{3, 6}), corrupt(tr.nodes(Pos{3, 1})[0])), nil, []Pos{{3, 6}}, ErrMismatch},
		{"equal real siblings", mut, mut.known(), mut.nodes(leafRange(mut.shape, 0, 4)...),
			nil, []Pos{{2, 0}, {2, 1}}, ErrMutated},
		{"equal to a verified sibling", mut, mut.known(Pos{2, 2}), mut.nodes(Pos{2, 3}), nil, nil, ErrMutated},
		{"duplicate with another hash", tr, tr.known(),
			append(tr.nodes(allLeaves...), corrupt(tr.nodes(allLeaves[2])[0])), nil, nil, ErrOverlap},
		{"position outside the tree", tr, tr.known(),
			append(tr.nodes(allLeaves...), Node{Pos: Pos{3, 8}}), nil, nil, ErrBadPos},
		{"more nodes than the tree has", tr, tr.known(), make([]Node, 16), nil, nil, ErrOverlap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.nodes)
			accepted, pending, err := VerifyAgainst(tt.tree.shape, tt.known, in)
			if tt.err == nil && err != nil || !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if !slices.Equal(in, tt.nodes) {
				t.Fatal("VerifyAgainst modified its input")
			}
			slices.SortFunc(tt.accepted, comparePos)
			slices.SortFunc(tt.pending, comparePos)
			if got := positionsOf(accepted); !slices.Equal(got, tt.accepted) {
				t.Errorf("accepted %v, want %v", got, tt.accepted)
			}
			if got := positionsOf(pending); !slices.Equal(got, tt.pending) {
				t.Errorf("pending %v, want %v", got, tt.pending)
			}
			for _, n := range accepted {
				if n.Hash != tt.tree.hash(n.Pos) {
					t.Errorf("accepted false node %v", n)
				}
			}
		})
	}
}

// TestVerifyAgainstRandom feeds random batches of true and false nodes to a
// receiver that stores what it accepts, and checks that it never accepts a
// false hash, never rejects a batch of true nodes, and ends up verifying
// the whole tree.
func TestVerifyAgainstRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for n := 1; n <= 70; n++ {
		tr := newTestTree(n, uint64(1000+n))
		known := tr.known()
		total := 0
		for l := range tr.levels {
			total += len(tr.levels[l])
		}
		for round := 0; len(known) < total; round++ {
			if round > 400 {
				t.Fatalf("n=%d: only %d of %d nodes verified after %d rounds", n, len(known), total, round)
			}
			// A random lap around a random node, a few extra true nodes,
			// and sometimes a false one.
			l := rng.IntN(len(tr.levels))
			anchor := Pos{Level: uint8(l), Index: uint32(rng.IntN(len(tr.levels[l])))}
			batch := tr.randomLap(rng, anchor, 0.6)
			for range rng.IntN(3) {
				l := rng.IntN(len(tr.levels))
				batch = append(batch, tr.node(uint8(l), uint32(rng.IntN(len(tr.levels[l])))))
			}
			liar := rng.IntN(4) == 0
			if liar {
				i := rng.IntN(len(batch))
				batch[i] = corrupt(batch[i])
			}
			accepted, pending, err := VerifyAgainst(tr.shape, known, batch)
			if err != nil && !liar {
				// Duplicates of true nodes are fine; nothing else fails.
				t.Fatalf("n=%d: true batch %s: %v", n, positions(batch), err)
			}
			for _, a := range accepted {
				if a.Hash != tr.hash(a.Pos) {
					t.Fatalf("n=%d: accepted false node %v from %s", n, a, positions(batch))
				}
				if h, ok := known[a.Pos]; ok && h != a.Hash {
					t.Fatalf("n=%d: accepted %v over a verified hash", n, a)
				}
			}
			if err == nil {
				seen := map[Pos]bool{}
				for _, b := range batch {
					seen[b.Pos] = true
				}
				for _, p := range slices.Concat(accepted, pending) {
					delete(seen, p.Pos)
				}
				if len(seen) != 0 {
					t.Fatalf("n=%d: nodes %v neither accepted nor pending", n, slices.Collect(maps.Keys(seen)))
				}
			}
			for _, a := range accepted {
				known[a.Pos] = a.Hash
			}
		}
	}
}
