package treestate

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
	"github.com/btcsuite/btcd/chainhash/v2"
)

func TestNewState(t *testing.T) {
	for _, n := range sizes {
		b := newBlock(t, n, 1)
		s := New(b.shape, b.root())
		if h, ok := s.Verified(merkle.Pos{}); !ok || h != b.root() || s.Root() != b.root() {
			t.Fatalf("n=%d: root not verified", n)
		}
		wantLeaves := 0
		if n == 1 {
			wantLeaves = 1
		}
		if s.LeavesVerified() != wantLeaves || s.Complete() || s.PendingLen() != 0 {
			t.Fatalf("n=%d: leaves %d complete %v pending %d", n, s.LeavesVerified(), s.Complete(), s.PendingLen())
		}
		if _, ok := s.Verified(merkle.Pos{Level: b.shape.Depth() + 1}); ok {
			t.Fatalf("n=%d: a node below the leaves is verified", n)
		}
	}
}

// TestFeedRandomOrder feeds every group of every tier in a random order, so
// that children often come before their parents and must wait as pending,
// with each leaf's body offered at a random time before or after its leaf.
// At the end every node must be verified with its true hash, every node
// reported newly verified exactly once, and every body stored.
func TestFeedRandomOrder(t *testing.T) {
	for _, n := range sizes {
		for seed := range uint64(3) {
			t.Run(fmt.Sprintf("n=%d/seed=%d", n, seed), func(t *testing.T) {
				feedRandom(t, n, seed)
			})
		}
	}
}

func feedRandom(t *testing.T, n int, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	b := newBlock(t, n, seed)
	s := New(b.shape, b.root())
	s.SetPendingLimit(1 << 30)

	// Every delivery is a group of nodes or one body; the lap is one of
	// them too, so it may come late as well.
	type delivery struct {
		nodes []merkle.Node
		leaf  uint32
	}
	var ds []delivery
	ds = append(ds, delivery{nodes: b.lap()})
	for _, g := range b.groups() {
		ds = append(ds, delivery{nodes: b.nodes(g.Nodes)})
	}
	for i := range b.shape.Leaves() {
		ds = append(ds, delivery{leaf: i})
	}
	rng.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })

	seen := make(map[merkle.Pos]bool)
	seen[merkle.Pos{}] = true
	bodies := make(map[uint32]bool)
	sawPending := false
	for _, d := range ds {
		if d.nodes == nil {
			leaf := d.leaf
			stored, err := s.AddBodyFrom(7, leaf, b.levels[b.shape.Depth()][leaf], bodyOf(leaf))
			if err != nil {
				t.Fatalf("body %d: %v", leaf, err)
			}
			if stored {
				bodies[leaf] = true
			}
			continue
		}
		newly, err := s.AddNodesFrom(Source(len(d.nodes)), d.nodes)
		if err != nil {
			t.Fatalf("group %v: %v", d.nodes[0].Pos, err)
		}
		for _, nd := range newly {
			if seen[nd.Pos] {
				t.Fatalf("node %v reported newly verified twice", nd.Pos)
			}
			seen[nd.Pos] = true
			if nd.Hash != b.levels[nd.Pos.Level][nd.Pos.Index] {
				t.Fatalf("node %v reported with a wrong hash", nd.Pos)
			}
		}
		for _, leaf := range s.TakeNewBodies() {
			if bodies[leaf] {
				t.Fatalf("body %d stored twice", leaf)
			}
			bodies[leaf] = true
		}
		if s.PendingLen() > 0 {
			sawPending = true
		}
		if n <= 1000 {
			checkPending(t, s)
		}
	}
	total := totalNodes(b.shape)
	if got := checkTrue(t, s, b); got != total {
		t.Fatalf("%d of %d nodes verified", got, total)
	}
	if len(seen) != total {
		t.Fatalf("%d nodes reported newly verified, want %d", len(seen), total)
	}
	st := s.Stats()
	if s.PendingLen() != 0 || st.PendingBodies != 0 || st.PendingBytes != 0 {
		t.Fatalf("pending left: %+v", st)
	}
	if !s.Complete() || s.BodyCount() != n || len(bodies) != n {
		t.Fatalf("complete %v, %d bodies (%d reported)", s.Complete(), s.BodyCount(), len(bodies))
	}
	for i := range b.shape.Leaves() {
		if string(s.Body(i)) != string(bodyOf(i)) {
			t.Fatalf("body %d wrong", i)
		}
	}
	if st.RejectedNodes != 0 || st.RejectedBodies != 0 || st.DroppedNodes != 0 || len(s.TakeRejections()) != 0 {
		t.Fatalf("unexpected rejections: %+v", st)
	}
	if n >= 100 && !sawPending {
		t.Fatalf("random order never left nodes pending")
	}
}

// TestFeedWithLiars mixes, into a random arrival order, corrupted copies of
// a third of the groups (a flipped bit, two hashes swapped, a node equal to
// its sibling) and wrong bodies, all from one lying source. Every error and
// every late rejection must name the liar, and the honest data must still
// make the block complete with nothing left pending.
func TestFeedWithLiars(t *testing.T) {
	const liar = Source(666)
	for _, n := range []int{2, 3, 5, 17, 100, 1000, 10000} {
		for seed := range uint64(2) {
			t.Run(fmt.Sprintf("n=%d/seed=%d", n, seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 1234))
				b := newBlock(t, n, seed+10)
				s := New(b.shape, b.root())
				s.SetPendingLimit(1 << 30)
				type delivery struct {
					src   Source
					nodes []merkle.Node
					leaf  uint32
				}
				ds := []delivery{{src: 1, nodes: b.lap()}}
				for _, g := range b.groups() {
					ds = append(ds, delivery{src: 1, nodes: b.nodes(g.Nodes)})
					if rng.IntN(3) != 0 {
						continue
					}
					bad := b.nodes(g.Nodes)
					i := rng.IntN(len(bad))
					switch k := rng.IntN(3); {
					case k == 0 || len(bad) == 1:
						bad[i].Hash[rng.IntN(32)] ^= 1 << rng.IntN(8)
					case k == 1:
						j := (i + 1) % len(bad)
						bad[i].Hash, bad[j].Hash = bad[j].Hash, bad[i].Hash
					case i^1 < len(bad):
						// Groups start at even indices: i^1 is the
						// sibling, now equal (a mutation).
						bad[i^1].Hash = bad[i].Hash
					default:
						bad[i].Hash[0] ^= 1
					}
					ds = append(ds, delivery{src: liar, nodes: bad})
				}
				d := b.shape.Depth()
				for i := range b.shape.Leaves() {
					ds = append(ds, delivery{src: 1, leaf: i})
					if rng.IntN(4) == 0 {
						ds = append(ds, delivery{src: liar, leaf: i})
					}
				}
				rng.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
				for _, x := range ds {
					var err error
					switch {
					case x.nodes != nil:
						_, err = s.AddNodesFrom(x.src, x.nodes)
					case x.src == liar:
						_, err = s.AddBodyFrom(x.src, x.leaf, b.levels[d][(x.leaf+1)%uint32(n)], []byte("forged"))
					default:
						_, err = s.AddBodyFrom(x.src, x.leaf, b.levels[d][x.leaf], bodyOf(x.leaf))
					}
					if err != nil && x.src != liar {
						t.Fatalf("honest delivery failed: %v", err)
					}
					for _, r := range s.TakeRejections() {
						if r.Source != liar {
							t.Fatalf("rejection of source %d: %v", r.Source, r.Err)
						}
					}
					if n <= 1000 {
						checkPending(t, s)
					}
				}
				if got := checkTrue(t, s, b); got != totalNodes(b.shape) || !s.Complete() {
					t.Fatalf("%d of %d nodes verified, complete %v", got, totalNodes(b.shape), s.Complete())
				}
				for i := range b.shape.Leaves() {
					if string(s.Body(i)) != string(bodyOf(i)) {
						t.Fatalf("body %d is not the honest one", i)
					}
				}
				if st := s.Stats(); st.PendingNodes != 0 || st.PendingBodies != 0 {
					t.Fatalf("pending left: %+v", st)
				}
			})
		}
	}
}

// TestTreeOrderNoPending feeds groups in tree order: nothing is ever pending.
func TestTreeOrderNoPending(t *testing.T) {
	for _, n := range sizes {
		b := newBlock(t, n, 5)
		s := newState(t, b)
		for _, g := range b.groups() {
			newly, err := s.AddNodes(b.nodes(g.Nodes))
			if err != nil {
				t.Fatalf("n=%d group %v: %v", n, g, err)
			}
			if !s.HasRange(g.Nodes) {
				t.Fatalf("n=%d group %v: not verified (%d newly)", n, g, len(newly))
			}
			if s.PendingLen() != 0 {
				t.Fatalf("n=%d group %v: pending", n, g)
			}
		}
		if got := checkTrue(t, s, b); got != totalNodes(b.shape) || s.LeavesVerified() != n {
			t.Fatalf("n=%d: %d verified", n, got)
		}
	}
}

// snapshot returns the verified count, pending count and stats of s.
func snapshot(s *State) string {
	st := s.Stats()
	return fmt.Sprintf("verified %d pending %d claims %d bytes %d", st.VerifiedNodes, st.PendingNodes, len(s.pend.claims), st.PendingBytes)
}

func TestAddNodesErrors(t *testing.T) {
	b := newBlock(t, 10000, 3)
	g := b.groups()
	flip := func(ns []merkle.Node, i int) []merkle.Node {
		ns[i].Hash[5] ^= 1
		return ns
	}
	tests := []struct {
		name  string
		nodes func() []merkle.Node
		kinds []error
	}{
		{"flipped hash", func() []merkle.Node { return flip(b.nodes(g[0].Nodes), 3) }, []error{ErrMismatch, merkle.ErrMismatch}},
		{"flipped last node", func() []merkle.Node { ns := b.nodes(g[0].Nodes); return flip(ns, len(ns)-1) }, []error{ErrMismatch}},
		{"wrong sibling", func() []merkle.Node {
			ns := b.nodes(g[0].Nodes)
			ns[0].Hash, ns[1].Hash = ns[1].Hash, ns[0].Hash
			return ns
		}, []error{ErrMismatch}},
		{"node of another position", func() []merkle.Node {
			ns := b.nodes(g[0].Nodes)
			ns[4].Hash = ns[6].Hash
			return ns
		}, []error{ErrMismatch}},
		{"verified node with another hash", func() []merkle.Node {
			return flip([]merkle.Node{b.node(merkle.Pos{Level: LapLevel(b.shape), Index: 2})}, 0)
		}, []error{ErrMismatch}},
		{"equal siblings", func() []merkle.Node {
			ns := b.nodes(g[0].Nodes)
			ns[1].Hash = ns[0].Hash
			return ns
		}, []error{ErrMutated, merkle.ErrMutated}},
		{"outside the tree", func() []merkle.Node {
			return append(b.nodes(g[0].Nodes), merkle.Node{Pos: merkle.Pos{Level: b.shape.Depth(), Index: 10000}})
		}, []error{ErrBadPos, merkle.ErrBadPos}},
		{"below the leaves", func() []merkle.Node {
			return []merkle.Node{{Pos: merkle.Pos{Level: 15}}}
		}, []error{ErrBadPos}},
		{"same position twice with different hashes", func() []merkle.Node {
			ns := b.nodes(g[0].Nodes)
			bad := ns[1]
			bad.Hash[0] ^= 1
			return append(ns, bad)
		}, []error{ErrMalformed}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newState(t, b)
			before := snapshot(s)
			newly, err := s.AddNodesFrom(3, tc.nodes())
			for _, k := range tc.kinds {
				if !errors.Is(err, k) {
					t.Fatalf("error %v, want %v", err, k)
				}
			}
			if len(newly) != 0 || snapshot(s) != before {
				t.Fatalf("state changed: %d newly, %s -> %s", len(newly), before, snapshot(s))
			}
			if s.Stats().RejectedNodes == 0 {
				t.Fatal("rejection not counted")
			}
			checkTrue(t, s, b)
			// The correct data is still accepted afterwards.
			for _, x := range g {
				if _, err := s.AddNodes(b.nodes(x.Nodes)); err != nil {
					t.Fatalf("correct group %v after the bad one: %v", x, err)
				}
			}
			if got := checkTrue(t, s, b); got != totalNodes(b.shape) {
				t.Fatalf("%d verified after the correct data", got)
			}
		})
	}
}

// TestBadPendingGroup sends a corrupted leaf group before its parent group:
// it is held, then rejected (and reported with its source) when the parent
// arrives, and the correct group is still accepted.
func TestBadPendingGroup(t *testing.T) {
	b := newBlock(t, 10000, 4)
	s := newState(t, b)
	g := b.groups()
	leafGroup := g[len(g)/2]
	parentGroup, _ := GroupOf(b.shape, leafGroup.Parent)

	bad := b.nodes(leafGroup.Nodes)
	bad[7].Hash[31] ^= 0x80
	good := b.nodes(leafGroup.Nodes)
	if newly, err := s.AddNodesFrom(42, bad); err != nil || len(newly) != 0 {
		t.Fatalf("bad group before its parent: %d newly, %v", len(newly), err)
	}
	// The good copy, from another peer, is pending too (not a duplicate:
	// one hash differs).
	if _, err := s.AddNodesFrom(43, good); err != nil {
		t.Fatal(err)
	}
	if !s.Claimed(merkle.Pos{Level: b.shape.Depth(), Index: leafGroup.Nodes.Start}) {
		t.Fatal("pending leaf not claimed")
	}
	if s.PendingLen() == 0 {
		t.Fatal("nothing pending")
	}
	newly, err := s.AddNodesFrom(44, b.nodes(parentGroup.Nodes))
	if err != nil {
		t.Fatalf("parent group: %v", err)
	}
	rej := s.TakeRejections()
	if len(rej) != 1 || rej[0].Source != 42 || !errors.Is(rej[0].Err, ErrMismatch) {
		t.Fatalf("rejections %+v", rej)
	}
	leaves := 0
	for _, nd := range newly {
		if nd.Pos.Level == b.shape.Depth() {
			leaves++
		}
	}
	if leaves != int(leafGroup.Nodes.Count) {
		t.Fatalf("%d leaves newly verified with the parent, want %d", leaves, leafGroup.Nodes.Count)
	}
	if s.PendingLen() != 0 || s.Claimed(merkle.Pos{Level: b.shape.Depth(), Index: leafGroup.Nodes.Start}) {
		t.Fatalf("pending left: %s", snapshot(s))
	}
	if st := s.Stats(); st.LateRejections != 1 || st.RejectedNodes != int(leafGroup.Nodes.Count) {
		t.Fatalf("stats %+v", st)
	}
	checkTrue(t, s, b)
}

// TestPendingChain holds groups of three tiers in reverse order: the leaf
// group waits for the middle group, which waits for its parent group.
func TestPendingChain(t *testing.T) {
	b := newBlock(t, 10000, 8)
	s := New(b.shape, b.root())
	leafGroup := Group{}
	for _, g := range b.groups() {
		if g.Nodes.Level == b.shape.Depth() && g.Parent.Index == 100 {
			leafGroup = g
		}
	}
	mid, _ := GroupOf(b.shape, leafGroup.Parent)
	for _, ns := range [][]merkle.Node{b.nodes(leafGroup.Nodes), b.nodes(mid.Nodes)} {
		if newly, err := s.AddNodesFrom(1, ns); err != nil || len(newly) != 0 {
			t.Fatalf("%d newly, %v", len(newly), err)
		}
	}
	if s.PendingLen() != int(leafGroup.Nodes.Count+mid.Nodes.Count) {
		t.Fatalf("pending %d", s.PendingLen())
	}
	newly, err := s.AddNodes(b.lap())
	if err != nil {
		t.Fatal(err)
	}
	if s.PendingLen() != 0 || !s.HasRange(leafGroup.Nodes) || !s.HasRange(mid.Nodes) {
		t.Fatalf("pending %d, leaves %d", s.PendingLen(), s.LeavesVerified())
	}
	if len(newly) != checkTrue(t, s, b)-1 {
		t.Fatalf("%d newly, %d verified", len(newly), s.Stats().VerifiedNodes)
	}
}

func TestDuplicates(t *testing.T) {
	b := newBlock(t, 10000, 6)
	s := newState(t, b)
	g := b.groups()[0]
	if _, err := s.AddNodes(b.nodes(g.Nodes)); err != nil {
		t.Fatal(err)
	}
	before := s.Stats()
	newly, err := s.AddNodes(b.nodes(g.Nodes))
	if err != nil || len(newly) != 0 {
		t.Fatalf("duplicate group: %d newly, %v", len(newly), err)
	}
	if got := s.Stats().DuplicateNodes - before.DuplicateNodes; got != int(g.Nodes.Count) {
		t.Fatalf("%d duplicates counted, want %d", got, g.Nodes.Count)
	}
	// The lap again: all duplicates.
	if newly, err := s.AddNodes(b.lap()); err != nil || len(newly) != 0 {
		t.Fatalf("lap again: %d newly, %v", len(newly), err)
	}
	// A pending group sent twice is held once.
	var lg Group
	for _, x := range b.groups() {
		if x.Nodes.Level == b.shape.Depth() && x.Parent.Index == 40 {
			lg = x
		}
	}
	for range 2 {
		if _, err := s.AddNodes(b.nodes(lg.Nodes)); err != nil {
			t.Fatal(err)
		}
	}
	if s.PendingLen() != int(lg.Nodes.Count) {
		t.Fatalf("pending %d, want %d", s.PendingLen(), lg.Nodes.Count)
	}
	// A verified node mixed into a new group is a duplicate, not an error.
	parent, _ := GroupOf(b.shape, lg.Parent)
	ns := append(b.nodes(parent.Nodes), b.node(merkle.Pos{Level: 1, Index: 0}))
	newly, err = s.AddNodes(ns)
	if err != nil {
		t.Fatal(err)
	}
	if s.PendingLen() != 0 || s.LeavesVerified() != int(g.Nodes.Count+lg.Nodes.Count)+1 && b.shape.Depth() == g.Nodes.Level {
		t.Fatalf("pending %d leaves %d", s.PendingLen(), s.LeavesVerified())
	}
	if len(newly) == 0 {
		t.Fatal("nothing newly verified")
	}
	checkTrue(t, s, b)
}

// TestMutated checks CVE-2012-2459 trees: leaf lists whose last leaf or
// last pair is repeated hash to the same root as the shorter list, and the
// State must refuse the repeated nodes.
func TestMutated(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	leaves := make([]chainhash.Hash, 6)
	for i := range leaves {
		leaves[i] = randHash(rng)
	}
	tests := []struct {
		name   string
		honest []chainhash.Hash
		forged []chainhash.Hash
	}{
		{"last leaf repeated", leaves[:3], append(leaves[:3:3], leaves[2])},
		{"last pair repeated", leaves[:6], append(leaves[:6:6], leaves[4], leaves[5])},
		{"last 2 of 5 doubled", leaves[:5], []chainhash.Hash{leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], leaves[4]}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			honest := blockOf(t, tc.honest)
			forged := blockOf(t, tc.forged)
			if honest.root() != forged.root() {
				t.Fatal("forged tree has another root")
			}
			root, mutated := merkle.Root(tc.forged)
			if !mutated || root != honest.root() {
				t.Fatal("merkle.Root does not see the mutation")
			}
			// The receiver believes the forged leaf count.
			s := New(forged.shape, forged.root())
			d := forged.shape.Depth()
			_, err := s.AddNodesFrom(9, forged.nodes(Range{Level: d, Count: forged.shape.Count(d)}))
			if !errors.Is(err, ErrMutated) || !errors.Is(err, merkle.ErrMutated) {
				t.Fatalf("forged leaves: %v", err)
			}
			if s.Stats().VerifiedNodes != 1 {
				t.Fatalf("%d nodes verified", s.Stats().VerifiedNodes)
			}
			// Level by level from the top: the first level with equal
			// real siblings fails.
			s = New(forged.shape, forged.root())
			var lvErr error
			for l := uint8(1); l <= forged.shape.Depth() && lvErr == nil; l++ {
				_, lvErr = s.AddNodes(forged.nodes(Range{Level: l, Count: forged.shape.Count(l)}))
			}
			if !errors.Is(lvErr, ErrMutated) {
				t.Fatalf("forged levels: %v", lvErr)
			}
		})
	}
}

// TestMutatedPending holds forged leaves that wait for their parents, then
// receives the forged group that pairs the equal siblings: it fails at once
// and the held nodes are untouched.
func TestMutatedPending(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	leaves := make([]chainhash.Hash, 6)
	for i := range leaves {
		leaves[i] = randHash(rng)
	}
	forged := blockOf(t, append(leaves[:6:6], leaves[4], leaves[5]))
	s := New(forged.shape, forged.root())
	for k, start := range []uint32{6, 4} {
		if _, err := s.AddNodesFrom(Source(k), forged.nodes(Range{Level: 3, Start: start, Count: 2})); err != nil {
			t.Fatal(err)
		}
	}
	if s.PendingLen() != 4 {
		t.Fatalf("pending %d", s.PendingLen())
	}
	before := snapshot(s)
	// Leaves 4..7 (e f e f): their parents (2,2) and (2,3) are equal real
	// siblings, found as soon as the group climbs to level 2, before it
	// reaches a verified node.
	if _, err := s.AddNodesFrom(2, forged.nodes(Range{Level: 3, Start: 4, Count: 4})); !errors.Is(err, ErrMutated) {
		t.Fatalf("forged leaf group: %v", err)
	}
	if _, err := s.AddNodesFrom(3, forged.nodes(Range{Level: 2, Start: 0, Count: 4})); !errors.Is(err, ErrMutated) {
		t.Fatalf("forged level 2: %v", err)
	}
	if snapshot(s) != before {
		t.Fatalf("state changed: %s -> %s", before, snapshot(s))
	}
	// The level-1 nodes are the same in the honest and the forged tree and
	// verify; the held leaves still cannot, since (2,2) and (2,3) can only
	// verify together, and that fails.
	if _, err := s.AddNodes(forged.nodes(Range{Level: 1, Count: 2})); err != nil {
		t.Fatal(err)
	}
	if s.PendingLen() != 4 || s.Stats().VerifiedNodes != 3 {
		t.Fatalf("after level 1: %s", snapshot(s))
	}
}

func TestPendingBudget(t *testing.T) {
	b := newBlock(t, 10000, 11)
	s := New(b.shape, b.root())
	s.SetPendingLimit(10 * MaxGroup * pendingNodeCost)
	var leafGroups []Group
	for _, g := range b.groups() {
		if g.Nodes.Level == b.shape.Depth() {
			leafGroups = append(leafGroups, g)
		}
	}
	for _, g := range leafGroups[:30] {
		if _, err := s.AddNodesFrom(Source(g.Parent.Index), b.nodes(g.Nodes)); err != nil {
			t.Fatal(err)
		}
		if st := s.Stats(); st.PendingBytes > 10*MaxGroup*pendingNodeCost {
			t.Fatalf("pending %d bytes over the limit", st.PendingBytes)
		}
	}
	st := s.Stats()
	if st.PendingNodes != 10*MaxGroup || st.DroppedNodes != 20*MaxGroup {
		t.Fatalf("stats %+v", st)
	}
	// The oldest were dropped: the first group is not claimed, the last is.
	first := merkle.Pos{Level: b.shape.Depth(), Index: leafGroups[0].Nodes.Start}
	last := merkle.Pos{Level: b.shape.Depth(), Index: leafGroups[29].Nodes.Start}
	if s.Claimed(first) || !s.Claimed(last) {
		t.Fatalf("claimed first %v last %v", s.Claimed(first), s.Claimed(last))
	}
	// Once the upper tiers arrive, the held groups verify.
	if _, err := s.AddNodes(b.lap()); err != nil {
		t.Fatal(err)
	}
	for _, g := range b.groups() {
		if g.Nodes.Level < b.shape.Depth() {
			if _, err := s.AddNodes(b.nodes(g.Nodes)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The lap holds the two last leaves.
	if s.PendingLen() != 0 || s.LeavesVerified() != 10*MaxGroup+2 {
		t.Fatalf("pending %d leaves %d", s.PendingLen(), s.LeavesVerified())
	}
	// Shrinking the limit drops what is held.
	if _, err := s.AddNodes(b.nodes(Range{Level: b.shape.Depth(), Start: 5000, Count: 1})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddBody(9000, b.levels[b.shape.Depth()][9000], make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if s.PendingLen() != 1 || s.Stats().PendingBodies != 1 {
		t.Fatalf("pending %+v", s.Stats())
	}
	s.SetPendingLimit(0)
	if st := s.Stats(); st.PendingNodes != 0 || st.PendingBodies != 0 || st.PendingBytes != 0 || st.DroppedBodies != 1 {
		t.Fatalf("after limit 0: %+v", st)
	}
	if s.Claimed(merkle.Pos{Level: b.shape.Depth(), Index: 5000}) || len(s.pend.queue)-s.pend.head != 0 {
		t.Fatal("dropped data still indexed")
	}
	checkTrue(t, s, b)
}

// TestPendingIndexesBounded sends many junk pending groups that are never
// resolved and checks that the indexes stay proportional to what is held.
func TestPendingIndexesBounded(t *testing.T) {
	b := newBlock(t, 10000, 12)
	s := New(b.shape, b.root())
	s.SetPendingLimit(4096)
	rng := rand.New(rand.NewPCG(5, 6))
	d := b.shape.Depth()
	for range 5000 {
		i := rng.Uint32N(b.shape.Leaves())
		ns := []merkle.Node{{Pos: merkle.Pos{Level: d, Index: i}, Hash: randHash(rng)}}
		if _, err := s.AddNodes(ns); err != nil {
			t.Fatal(err)
		}
	}
	held := s.PendingLen()
	if held != 4096/pendingNodeCost {
		t.Fatalf("%d held", held)
	}
	if len(s.pend.claims) > held || s.pend.watchRefs > 2*s.pend.liveWatch+1024 || len(s.pend.queue)-s.pend.head > 2*s.pend.live+64 {
		t.Fatalf("indexes: %d claims, %d watch refs (%d live), queue %d", len(s.pend.claims), s.pend.watchRefs, s.pend.liveWatch, len(s.pend.queue)-s.pend.head)
	}
}

func TestHashes(t *testing.T) {
	b := newBlock(t, 100, 13)
	s := newState(t, b)
	g := b.groups()[0]
	if _, ok := s.Hashes(g.Nodes.Level, g.Nodes.Start, g.Nodes.Count); ok {
		t.Fatal("unverified hashes served")
	}
	if _, err := s.AddNodes(b.nodes(g.Nodes)); err != nil {
		t.Fatal(err)
	}
	hs, ok := s.Hashes(g.Nodes.Level, g.Nodes.Start, g.Nodes.Count)
	if !ok || len(hs) != int(g.Nodes.Count) {
		t.Fatalf("hashes %d %v", len(hs), ok)
	}
	for i, h := range hs {
		if h != b.levels[g.Nodes.Level][g.Nodes.Start+uint32(i)] {
			t.Fatalf("hash %d wrong", i)
		}
	}
	if !s.HasRange(g.Nodes) {
		t.Fatal("HasRange false")
	}
	for _, r := range []Range{
		{Level: g.Nodes.Level, Start: g.Nodes.Start, Count: g.Nodes.Count + 1},
		{Level: g.Nodes.Level, Start: 0, Count: 0},
		{Level: 9, Start: 0, Count: 1},
		{Level: 0, Start: 1, Count: 1},
		{Level: 0, Start: ^uint32(0), Count: 2},
	} {
		if _, ok := s.Hashes(r.Level, r.Start, r.Count); ok {
			t.Fatalf("range %v served", r)
		}
	}
	if hs, ok := s.Hashes(0, 0, 1); !ok || hs[0] != b.root() {
		t.Fatal("root not served")
	}
}
