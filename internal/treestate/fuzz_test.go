package treestate

import (
	"testing"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
	"github.com/btcsuite/btcd/chainhash/v2"
)

// checkPending recounts the pending buffer and its indexes and fails when
// they disagree with its counters or exceed the budget.
func checkPending(tb testing.TB, s *State) {
	tb.Helper()
	p := &s.pend
	live, nodes, bodies, bytes := 0, 0, 0, 0
	for _, e := range p.queue[p.head:] {
		if e.dead {
			continue
		}
		live++
		bytes += e.cost
		if e.isBody {
			bodies++
			continue
		}
		nodes += len(e.nodes)
		for _, n := range e.nodes {
			if !s.shape.Valid(n.Pos) {
				tb.Fatalf("pending node %v outside the tree", n.Pos)
			}
			found := false
			for _, c := range p.claims[n.Pos] {
				found = found || (c.e == e && c.hash == n.Hash)
			}
			if !found {
				tb.Fatalf("pending node %v not claimed", n.Pos)
			}
		}
	}
	claims := 0
	for _, cs := range p.claims {
		claims += len(cs)
	}
	nb := 0
	for _, es := range p.bodies {
		nb += len(es)
	}
	if live != p.live || nodes != p.nodes || bodies != p.nbodies || bytes != p.bytes || claims != nodes || nb != bodies {
		tb.Fatalf("pending counters: live %d/%d nodes %d/%d bodies %d/%d bytes %d/%d claims %d bodies indexed %d",
			live, p.live, nodes, p.nodes, bodies, p.nbodies, bytes, p.bytes, claims, nb)
	}
	if p.bytes > p.limit {
		tb.Fatalf("pending %d bytes over the limit %d", p.bytes, p.limit)
	}
}

// FuzzAddNodes feeds arbitrary nodes (true, corrupted, borrowed from other
// positions, equal to their sibling, or raw bytes, at valid and invalid
// positions) and bodies into a State for a fixed 37-leaf block. The State
// must never panic, never hold a verified hash that differs from the true
// tree, never store a body for the wrong txid, and keep its pending buffer
// consistent and within budget.
func FuzzAddNodes(f *testing.F) {
	b := newBlock(f, 37, 1)
	d := b.shape.Depth()
	f.Add([]byte{0x1c, 6, 0, 0, 6, 1, 0, 6, 2, 0})
	f.Add([]byte{0x00, 4, 3, 1, 0x07, 6, 4, 2, 0x04, 6, 5, 3, 0x03, 7, 0, 0})
	f.Add([]byte{0x1c, 5, 0, 0, 5, 1, 0, 4, 0, 0, 4, 1, 0, 0x03, 1, 1, 0x13, 1, 1})
	f.Add([]byte{0x08, 6, 36, 0, 6, 35, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := New(b.shape, b.root())
		s.SetPendingLimit(600)
		in := data
		byteAt := func() byte {
			if len(in) == 0 {
				return 0
			}
			c := in[0]
			in = in[1:]
			return c
		}
		for len(in) > 0 {
			op := byteAt()
			switch op & 3 {
			case 3:
				// A body: true or wrong txid; or a budget change.
				leaf := uint32(byteAt())
				switch mode := op >> 2 & 3; mode {
				case 3:
					s.SetPendingLimit(int(leaf) * 8)
				default:
					txid, body := chainhash.Hash{}, []byte("junk")
					if leaf < b.shape.Leaves() && mode != 1 {
						txid, body = b.levels[d][leaf], bodyOf(leaf)
					}
					if leaf < b.shape.Leaves() && mode == 2 {
						txid = b.levels[d][(leaf+1)%b.shape.Leaves()]
					}
					_, _ = s.AddBodyFrom(Source(op), leaf, txid, body)
				}
			default:
				k := 1 + int(op>>2)%12
				nodes := make([]merkle.Node, 0, k)
				for range k {
					l := byteAt() % (d + 2)
					p := merkle.Pos{Level: l, Index: uint32(byteAt()) % (b.shape.Count(l) + 2)}
					var h chainhash.Hash
					valid := b.shape.Valid(p)
					if valid {
						h = b.levels[p.Level][p.Index]
					}
					switch mode := byteAt(); mode % 5 {
					case 1: // corrupted
						h[mode%32] ^= 1 << (mode % 8)
					case 2: // another position's hash
						if l := byteAt() % (d + 1); b.shape.Count(l) > 0 {
							h = b.levels[l][uint32(byteAt())%b.shape.Count(l)]
						}
					case 3: // the sibling's hash (mutation)
						if sib := p.Sibling(); b.shape.Valid(sib) {
							h = b.levels[sib.Level][sib.Index]
						}
					case 4: // raw bytes
						for j := range h {
							h[j] = byteAt()
						}
					}
					nodes = append(nodes, merkle.Node{Pos: p, Hash: h})
				}
				newly, _ := s.AddNodesFrom(Source(op), nodes)
				for _, n := range newly {
					if n.Hash != b.levels[n.Pos.Level][n.Pos.Index] {
						t.Fatalf("node %v newly verified with a false hash", n.Pos)
					}
				}
			}
			checkTrue(t, s, b)
			checkPending(t, s)
			for i := range b.shape.Leaves() {
				if s.HasBody(i) && (string(s.Body(i)) != string(bodyOf(i)) || !s.verified[d].has(i)) {
					t.Fatalf("body %d stored wrongly", i)
				}
			}
		}
		_ = s.TakeRejections()
		_ = s.TakeNewBodies()
		_ = s.Complete()
	})
}
