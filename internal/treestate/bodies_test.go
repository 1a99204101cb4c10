package treestate

import (
	"errors"
	"testing"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
)

func TestBodies(t *testing.T) {
	b := newBlock(t, 100, 21)
	s := newState(t, b)
	d := b.shape.Depth()
	leaf := func(i uint32) merkle.Node { return b.node(merkle.Pos{Level: d, Index: i}) }
	// Leaf 99 is in the lap: its body is stored at once.
	stored, err := s.AddBody(99, leaf(99).Hash, bodyOf(99))
	if !stored || err != nil || !s.HasBody(99) || string(s.Body(99)) != string(bodyOf(99)) {
		t.Fatalf("verified leaf: %v %v", stored, err)
	}
	// Again: a duplicate.
	if stored, err := s.AddBody(99, leaf(99).Hash, bodyOf(99)); stored || err != nil {
		t.Fatalf("duplicate: %v %v", stored, err)
	}
	// A body whose txid is not the verified leaf.
	if _, err := s.AddBody(99, leaf(98).Hash, bodyOf(98)); !errors.Is(err, ErrBadBody) {
		t.Fatalf("bad body: %v", err)
	}
	if _, err := s.AddBody(100, leaf(0).Hash, nil); !errors.Is(err, ErrBadPos) {
		t.Fatalf("leaf outside: %v", err)
	}
	// Bodies before their leaves: a good one for leaf 0 (twice, from two
	// peers), a bad one for leaf 1, a good and a bad one for leaf 2.
	for _, c := range []struct {
		src  Source
		leaf uint32
		txid merkle.Node
	}{{1, 0, leaf(0)}, {2, 0, leaf(0)}, {3, 1, leaf(5)}, {4, 2, leaf(7)}, {5, 2, leaf(2)}} {
		if stored, err := s.AddBodyFrom(c.src, c.leaf, c.txid.Hash, bodyOf(c.leaf)); stored || err != nil {
			t.Fatalf("pending body %d: %v %v", c.leaf, stored, err)
		}
	}
	st := s.Stats()
	if st.PendingBodies != 4 || st.DuplicateBodies != 2 || st.RejectedBodies != 2 {
		t.Fatalf("stats %+v", st)
	}
	if s.HasBody(0) || len(s.TakeNewBodies()) != 0 {
		t.Fatal("pending body stored")
	}
	// The leaves arrive with their group (and its parents).
	for _, g := range b.groups() {
		if g.Nodes.Level == d && g.Nodes.Start == 0 {
			parent, _ := GroupOf(b.shape, g.Parent)
			if _, err := s.AddNodes(b.nodes(parent.Nodes)); err != nil {
				t.Fatal(err)
			}
			if _, err := s.AddNodes(b.nodes(g.Nodes)); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := s.TakeNewBodies()
	if len(got) != 2 || got[0] != 0 || got[1] != 2 || !s.HasBody(0) || s.HasBody(1) || !s.HasBody(2) {
		t.Fatalf("new bodies %v", got)
	}
	rej := s.TakeRejections()
	if len(rej) != 2 || rej[0].Source != 3 || rej[1].Source != 4 ||
		!errors.Is(rej[0].Err, ErrBadBody) || !errors.Is(rej[1].Err, ErrBadBody) {
		t.Fatalf("rejections %+v", rej)
	}
	if st := s.Stats(); st.PendingBodies != 0 || st.PendingBytes != 0 || st.RejectedBodies != 4 || st.Bodies != 3 || s.BodyCount() != 3 {
		t.Fatalf("stats %+v", st)
	}
	// Leaf 1's body can still come from an honest peer.
	if stored, err := s.AddBody(1, leaf(1).Hash, bodyOf(1)); !stored || err != nil {
		t.Fatalf("honest body: %v %v", stored, err)
	}
	if s.Complete() {
		t.Fatal("complete too early")
	}
	if !s.HasBodies(Range{Level: d, Start: 0, Count: 3}) {
		t.Fatal("HasBodies before RemoveBody")
	}
	if !s.RemoveBody(1) || s.RemoveBody(1) || s.HasBody(1) || s.Body(1) != nil || s.BodyCount() != 3 || s.RemoveBody(500) {
		t.Fatal("RemoveBody")
	}
	if s.HasBodies(Range{Level: d, Start: 0, Count: 3}) || !s.HasBodies(Range{Level: d, Start: 2, Count: 1}) {
		t.Fatal("HasBodies after RemoveBody")
	}
	if stored, err := s.AddBody(1, leaf(1).Hash, bodyOf(1)); !stored || err != nil {
		t.Fatalf("body after removal: %v %v", stored, err)
	}
}

func TestBodiesComplete(t *testing.T) {
	for _, n := range []int{1, 2, 17} {
		b := newBlock(t, n, 22)
		s := newState(t, b)
		for _, g := range b.groups() {
			if _, err := s.AddNodes(b.nodes(g.Nodes)); err != nil {
				t.Fatal(err)
			}
		}
		for i := range b.shape.Leaves() {
			if s.Complete() {
				t.Fatalf("n=%d complete with %d bodies", n, i)
			}
			if ok, err := s.AddBody(i, b.levels[b.shape.Depth()][i], bodyOf(i)); !ok || err != nil {
				t.Fatalf("n=%d body %d: %v %v", n, i, ok, err)
			}
		}
		if !s.Complete() {
			t.Fatalf("n=%d not complete", n)
		}
	}
}

func TestBodyBudget(t *testing.T) {
	b := newBlock(t, 100, 23)
	s := New(b.shape, b.root())
	s.SetPendingLimit(1000)
	d := b.shape.Depth()
	if _, err := s.AddBody(0, b.levels[d][0], make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.PendingBodies != 0 || st.DroppedBodies != 1 {
		t.Fatalf("oversized body: %+v", st)
	}
	for i := range uint32(5) {
		if _, err := s.AddBody(i, b.levels[d][i], make([]byte, 300)); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.PendingBodies != 2 || st.DroppedBodies != 4 || st.PendingBytes != 2*(300+pendingBodyOverhead) {
		t.Fatalf("stats %+v", st)
	}
	if _, err := s.AddNodes(b.lap()); err != nil {
		t.Fatal(err)
	}
	for _, g := range b.groups() {
		if _, err := s.AddNodes(b.nodes(g.Nodes)); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.TakeNewBodies(); len(got) != 2 || got[0] != 3 || got[1] != 4 {
		t.Fatalf("new bodies %v", got)
	}
}
