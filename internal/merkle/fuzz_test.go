package merkle

import (
	"errors"
	"sync"
	"testing"
)

// fuzzTrees caches the random trees the fuzz targets check against, one per
// leaf count.
var fuzzTrees struct {
	sync.Mutex
	m map[int]testTree
}

func fuzzTree(n int) testTree {
	fuzzTrees.Lock()
	defer fuzzTrees.Unlock()
	if fuzzTrees.m == nil {
		fuzzTrees.m = map[int]testTree{}
	}
	tr, ok := fuzzTrees.m[n]
	if !ok {
		tr = newTestTree(n, uint64(n))
		fuzzTrees.m[n] = tr
	}
	return tr
}

// fuzzMaxLeaves bounds the trees the fuzz targets build.
const fuzzMaxLeaves = 600

// decodeNodes turns fuzz bytes into nodes, four bytes each. The low five
// bits of the first byte are the level; bit 5 asks for a false hash and bit 6
// for the raw 24-bit index of the other bytes rather than one folded into
// the level (so that most nodes are in the tree but some are not). A node in
// the tree gets its true hash unless it asked for a false one. corrupted
// reports whether any node in the tree got a false hash.
func decodeNodes(tr testTree, data []byte) (nodes []Node, corrupted bool) {
	for ; len(data) >= 4; data = data[4:] {
		level := data[0] & 0x1f
		idx := uint32(data[1]) | uint32(data[2])<<8 | uint32(data[3])<<16
		if c := tr.shape.Count(level); data[0]&0x40 == 0 && c > 0 {
			idx %= c + 1
		}
		n := Node{Pos: Pos{Level: level, Index: idx}}
		if tr.shape.Valid(n.Pos) {
			n.Hash = tr.hash(n.Pos)
			if data[0]&0x20 != 0 {
				n = corrupt(n)
				corrupted = true
			}
		} else {
			n.Hash[0] = data[1]
		}
		nodes = append(nodes, n)
	}
	return nodes, corrupted
}

// isLap is the reference for ComputeCover's structural checks: anchor and
// every node are in the tree, every node is at or under anchor, and every
// leaf under anchor is under exactly one node.
func isLap(shape Shape, anchor Pos, nodes []Node) bool {
	if !shape.Valid(anchor) || len(nodes) == 0 {
		return false
	}
	first, end := shape.LeafRange(anchor)
	covered := make([]int, end-first)
	for _, n := range nodes {
		if !shape.Valid(n.Pos) || n.Pos.Level < anchor.Level || n.Pos.Ancestor(anchor.Level) != anchor {
			return false
		}
		f, e := shape.LeafRange(n.Pos)
		for i := f; i < e; i++ {
			covered[i-first]++
		}
	}
	for _, c := range covered {
		if c != 1 {
			return false
		}
	}
	return true
}

// encodeNodes is the inverse of decodeNodes for true nodes in the tree.
func encodeNodes(ps ...Pos) []byte {
	var b []byte
	for _, p := range ps {
		b = append(b, p.Level, byte(p.Index), byte(p.Index>>8), byte(p.Index>>16))
	}
	return b
}

func FuzzComputeCover(f *testing.F) {
	f.Add(uint16(7), uint8(0), uint32(0), encodeNodes(Pos{3, 0}, Pos{3, 1}, Pos{3, 2}, Pos{3, 3}, Pos{1, 1}))
	f.Add(uint16(7), uint8(1), uint32(0), encodeNodes(Pos{2, 0}, Pos{3, 2}, Pos{3, 3}))
	f.Add(uint16(4), uint8(0), uint32(0), encodeNodes(Pos{1, 0}, Pos{3, 4}))
	f.Add(uint16(4), uint8(0), uint32(0), encodeNodes(Pos{1, 0}, Pos{3, 4}, Pos{2, 2}))
	f.Add(uint16(99), uint8(2), uint32(3), encodeNodes(Pos{2, 3}))
	f.Add(uint16(12), uint8(0), uint32(0), append(encodeNodes(Pos{1, 0}, Pos{1, 1}), 0x61, 0xff, 0xff, 0xff))
	f.Add(uint16(0), uint8(0), uint32(0), []byte{})
	f.Fuzz(func(t *testing.T, leaves uint16, anchorLevel uint8, anchorIndex uint32, data []byte) {
		tr := fuzzTree(int(leaves)%fuzzMaxLeaves + 1)
		anchor := Pos{Level: anchorLevel % (tr.shape.Depth() + 2), Index: anchorIndex}
		if c := tr.shape.Count(anchor.Level); c > 0 && anchorIndex < 1<<31 {
			anchor.Index %= c + 1
		}
		nodes, corrupted := decodeNodes(tr, data)

		got, err := ComputeCover(tr.shape, anchor, nodes)
		lap := isLap(tr.shape, anchor, nodes)
		switch {
		case err != nil && lap && !corrupted:
			t.Fatalf("true lap %s around %v rejected: %v", positions(nodes), anchor, err)
		case err != nil:
			for _, kind := range []error{ErrBadPos, ErrOverlap, ErrIncomplete, ErrMutated} {
				if errors.Is(err, kind) {
					return
				}
			}
			t.Fatalf("error of no known kind: %v", err)
		case !lap:
			t.Fatalf("%s around %v accepted as a lap", positions(nodes), anchor)
		case !corrupted && got != tr.hash(anchor):
			t.Fatalf("lap %s around %v = %v, want %v", positions(nodes), anchor, got, tr.hash(anchor))
		case corrupted && got == tr.hash(anchor):
			t.Fatalf("false lap %s around %v gave the true hash", positions(nodes), anchor)
		}
	})
}

func FuzzVerifyAgainst(f *testing.F) {
	f.Add(uint16(7), encodeNodes(Pos{1, 1}), encodeNodes(Pos{3, 0}, Pos{3, 1}, Pos{2, 1}))
	f.Add(uint16(7), []byte{}, encodeNodes(Pos{3, 0}, Pos{3, 1}, Pos{3, 2}, Pos{3, 3}, Pos{1, 1}))
	f.Add(uint16(4), encodeNodes(Pos{3, 0}), []byte{0x23, 1, 0, 0})
	f.Add(uint16(30), encodeNodes(Pos{2, 1}), append(encodeNodes(Pos{3, 4}), 0x43, 0xff, 0xff, 0xff))
	f.Fuzz(func(t *testing.T, leaves uint16, knownData, data []byte) {
		tr := fuzzTree(int(leaves)%fuzzMaxLeaves + 1)
		// The verified set: the root and the true nodes named by
		// knownData, with their ancestors.
		var ps []Pos
		for _, n := range truncate(decodeNodes(tr, knownData)) {
			if tr.shape.Valid(n.Pos) {
				ps = append(ps, n.Pos)
			}
		}
		known := tr.known(ps...)
		nodes, corrupted := decodeNodes(tr, data)
		allValid := true
		for _, n := range nodes {
			allValid = allValid && tr.shape.Valid(n.Pos)
		}

		accepted, pending, err := VerifyAgainst(tr.shape, known, nodes)
		total := 0
		for _, l := range tr.levels {
			total += len(l)
		}
		if err != nil && allValid && !corrupted && len(nodes) <= total {
			t.Fatalf("true nodes %s rejected: %v", positions(nodes), err)
		}
		for _, a := range accepted {
			if !tr.shape.Valid(a.Pos) || a.Hash != tr.hash(a.Pos) {
				t.Fatalf("accepted false node %v", a)
			}
		}
		for _, p := range pending {
			if !tr.shape.Valid(p.Pos) {
				t.Fatalf("pending node %v outside the tree", p)
			}
		}
	})
}

// truncate drops decodeNodes' corruption flag.
func truncate(nodes []Node, _ bool) []Node { return nodes }

// Compile-time check that knownSet satisfies Verifier.
var _ Verifier = knownSet(nil)
