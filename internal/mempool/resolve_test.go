package mempool

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chainhash/v2"
)

// uniformSeq returns the sequence that sends every leaf with size bytes,
// except the leaves listed in full, which go whole.
func uniformSeq(leaves []chainhash.Hash, size int, full ...int) wire.HashSeq {
	seq := wire.HashSeq{Count: len(leaves), DefaultSize: uint8(size)}
	for i, h := range leaves {
		sz := size
		if slices.Contains(full, i) && size != chainhash.HashSize {
			sz = chainhash.HashSize
			seq.Exceptions = append(seq.Exceptions, wire.Exception{Index: i, Size: uint8(sz)})
		}
		seq.Data = append(seq.Data, h[:sz]...)
	}
	return seq
}

// resolveGroup resolves group g of block from seq.
func resolveGroup(p *Pool, g group, seq wire.HashSeq) ([]chainhash.Hash, []int, error) {
	return p.Resolve(g.shape, g.parent, g.hash, uint32(g.first), seq)
}

func TestResolveCraftedCollisions(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	block := randomHashes(32, 23)
	g := groupsOf(block, 5)[0]
	var strangers []chainhash.Hash
	for _, leaf := range []int{0, 7, 19, 31} {
		strangers = append(strangers, withPrefix(rng, block[leaf], 2), withPrefix(rng, block[leaf], 3))
	}
	p := poolOf(t, strangers, block)
	for _, size := range []int{2, 3} {
		seq := uniformSeq(block, size)
		got, unresolved, err := resolveGroup(p, g, roundTripSeq(t, seq))
		if err != nil || unresolved != nil || !slices.Equal(got, block) {
			t.Fatalf("size %d: unresolved %v, err %v, match %v", size, unresolved, err, slices.Equal(got, block))
		}
	}
}

// roundTripSeq sends seq through the wire encoding, as a receiver gets it.
func roundTripSeq(t *testing.T, seq wire.HashSeq) wire.HashSeq {
	t.Helper()
	r := wire.NewReader(wire.AppendHashSeq(nil, &seq, false))
	out := wire.ReadHashSeq(r, false)
	if err := r.Done(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestResolveGroundCollisions(t *testing.T) {
	// Real transactions: two strangers ground to share the first two
	// bytes of a block transaction's txid, all three added through Add.
	txs := []uint64{1, 2, 3, 4, 5, 6, 7}
	p := New()
	block := make([]chainhash.Hash, len(txs))
	for i, n := range txs {
		tx := makeTx(n)
		if _, err := p.Add(tx); err != nil {
			t.Fatal(err)
		}
		block[i] = tx.TxHash()
	}
	for k, seed := range []uint64{1 << 40, 2 << 40} {
		tx := grind(t, block[2+3*k], 2, seed)
		if _, err := p.Add(tx); err != nil {
			t.Fatal(err)
		}
		h := tx.TxHash()
		if got := p.Candidates(h[:2], 10); len(got) < 2 {
			t.Fatalf("ground tx does not collide: %v", got)
		}
	}
	g := groupsOf(block, 3)[0]
	got, unresolved, err := resolveGroup(p, g, roundTripSeq(t, uniformSeq(block, 2)))
	if err != nil || unresolved != nil || !slices.Equal(got, block) {
		t.Fatalf("unresolved %v, err %v, match %v", unresolved, err, slices.Equal(got, block))
	}
}

func TestResolveBudget(t *testing.T) {
	rng := rand.New(rand.NewPCG(24, 25))
	block := randomHashes(64, 26)
	g := groupsOf(block, 6)[0]
	for _, tc := range []struct {
		name       string
		ambiguous  int // leaves with one stranger sharing 3 bytes
		triple     int // leaves with two strangers
		unresolved bool
	}{
		{"8 pairs: 256 combinations", 8, 0, false},
		{"9 pairs: 512 combinations", 9, 0, true},
		{"4 triples: 81 combinations", 0, 4, false},
		{"5 pairs 2 triples: 288 combinations", 5, 2, true},
		{"6 pairs 1 triple: 192 combinations", 6, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var strangers []chainhash.Hash
			var amb []int
			for k := range tc.ambiguous + tc.triple {
				leaf := 3 + 7*k
				amb = append(amb, leaf)
				strangers = append(strangers, withPrefix(rng, block[leaf], 3))
				if k >= tc.ambiguous {
					strangers = append(strangers, withPrefix(rng, block[leaf], 4))
				}
			}
			p := poolOf(t, strangers, block)
			got, unresolved, err := resolveGroup(p, g, uniformSeq(block, 3))
			if err != nil {
				t.Fatal(err)
			}
			if tc.unresolved {
				if !slices.Equal(unresolved, amb) {
					t.Fatalf("unresolved %v, want %v", unresolved, amb)
				}
				for _, i := range amb {
					if got[i] != (chainhash.Hash{}) {
						t.Fatalf("leaf %d not zeroed", i)
					}
				}
				return
			}
			if unresolved != nil || !slices.Equal(got, block) {
				t.Fatalf("unresolved %v, match %v", unresolved, slices.Equal(got, block))
			}
		})
	}
}

func TestResolveMissingAndStrangers(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	block := randomHashes(100, 29)
	g := groupsOf(block, 7)[0] // the whole block: 100 leaves under the root
	stranger := withPrefix(rng, block[40], 3)
	ambiguous := withPrefix(rng, block[60], 3)
	tests := []struct {
		name       string
		pool       []chainhash.Hash
		full       []int
		unresolved []int
	}{
		{"all held", block, nil, nil},
		{"two missing, one ambiguous", cut(block, 10, 90), nil, []int{10, 60, 90}},
		{"missing leaf sent full", cut(block, 10), []int{10}, nil},
		// The pool lacks leaf 40 but holds a stranger with its prefix: the
		// group does not verify and every short leaf is suspect.
		{"stranger", append(cut(block, 40), stranger), nil, allBut(100)},
		{"stranger, some full", append(cut(block, 40), stranger), []int{0, 99}, allBut(100, 0, 99)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pool := tc.pool
			if tc.name == "two missing, one ambiguous" {
				pool = append(slices.Clone(pool), ambiguous)
			}
			p := poolOf(t, pool)
			got, unresolved, err := resolveGroup(p, g, uniformSeq(block, 3, tc.full...))
			if err != nil {
				t.Fatalf("err %v: a collision must not be an error", err)
			}
			if !slices.Equal(unresolved, tc.unresolved) {
				t.Fatalf("unresolved %v, want %v", unresolved, tc.unresolved)
			}
			if tc.unresolved == nil && !slices.Equal(got, block) {
				t.Fatal("wrong txids")
			}
			for _, i := range unresolved {
				if got[i] != (chainhash.Hash{}) {
					t.Fatalf("unresolved leaf %d holds %v", i, got[i])
				}
			}
		})
	}
}

// cut returns block without the listed leaves.
func cut(block []chainhash.Hash, drop ...int) []chainhash.Hash {
	var out []chainhash.Hash
	for i, h := range block {
		if !slices.Contains(drop, i) {
			out = append(out, h)
		}
	}
	return out
}

// allBut returns 0..n-1 without the listed indexes.
func allBut(n int, drop ...int) []int {
	var out []int
	for i := range n {
		if !slices.Contains(drop, i) {
			out = append(out, i)
		}
	}
	return out
}

func TestResolveFullHashes(t *testing.T) {
	block := randomHashes(12, 30)
	g := groupsOf(block, 4)[0]
	p := New() // full hashes need no pool
	got, unresolved, err := resolveGroup(p, g, uniformSeq(block, 32))
	if err != nil || unresolved != nil || !slices.Equal(got, block) {
		t.Fatalf("unresolved %v, err %v", unresolved, err)
	}

	wrong := slices.Clone(block)
	wrong[5][9] ^= 1
	if _, _, err := resolveGroup(p, g, uniformSeq(wrong, 32)); !errors.Is(err, ErrInvalidRun) || !errors.Is(err, merkle.ErrMismatch) {
		t.Fatalf("wrong full hash: %v", err)
	}

	// CVE-2012-2459: leaves [a b c c] hash like [a b c], but c and c are
	// real siblings.
	mut := randomHashes(3, 31)
	mut = append(mut, mut[2])
	mg := groupsOf(mut, 2)[0]
	if _, _, err := resolveGroup(p, mg, uniformSeq(mut, 32)); !errors.Is(err, ErrInvalidRun) || !errors.Is(err, merkle.ErrMutated) {
		t.Fatalf("mutated: %v", err)
	}
	// The same with short hashes is unresolved, not an error.
	pm := poolOf(t, mut[:3])
	if _, unresolved, err := resolveGroup(pm, mg, uniformSeq(mut, 2)); err != nil || !slices.Equal(unresolved, []int{0, 1, 2, 3}) {
		t.Fatalf("mutated short: %v, %v", unresolved, err)
	}
}

func TestResolveBadInput(t *testing.T) {
	block := randomHashes(20, 32)
	gs := groupsOf(block, 3) // groups of 8, 8, 4
	g := gs[1]
	p := poolOf(t, block)
	good := uniformSeq(block[8:16], 3)
	badData := good
	badData.Data = good.Data[1:]
	badOrder := uniformSeq(block[8:16], 3, 2, 5)
	badOrder.Exceptions[0], badOrder.Exceptions[1] = badOrder.Exceptions[1], badOrder.Exceptions[0]
	sameSize := good
	sameSize.Exceptions = []wire.Exception{{Index: 1, Size: 3}}
	zero := good
	zero.DefaultSize = 0
	tests := []struct {
		name   string
		parent merkle.Pos
		start  uint32
		seq    wire.HashSeq
	}{
		{"parent outside", merkle.Pos{Level: 2, Index: 3}, 8, good},
		{"parent too deep", merkle.Pos{Level: 9, Index: 0}, 8, good},
		{"wrong start", g.parent, 9, good},
		{"wrong count", gs[2].parent, 16, good},
		{"short data", g.parent, 8, badData},
		{"exceptions out of order", g.parent, 8, badOrder},
		{"exception of the default size", g.parent, 8, sameSize},
		{"hashless", g.parent, 8, zero},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := p.Resolve(g.shape, tc.parent, g.hash, tc.start, tc.seq); !errors.Is(err, ErrBadInput) {
				t.Fatalf("err = %v, want ErrBadInput", err)
			}
		})
	}
	if got, un, err := p.Resolve(g.shape, g.parent, g.hash, 8, good); err != nil || un != nil || !slices.Equal(got, block[8:16]) {
		t.Fatalf("good input: %v %v", un, err)
	}
}

// TestResolveRandomTrees encodes random blocks with the Encoder, sends
// every group under nodes at a random height through the wire encoding and
// resolves it against a pool that holds the block plus strangers sharing
// prefixes with some leaves. Every group resolves to the block's leaves,
// and the subtree hashing agrees with merkle.ComputeCover on every shape.
func TestResolveRandomTrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	for iter := range 60 {
		n := 1 + rng.IntN(400)
		block := randomHashes(n, rng.Uint64())
		var strangers []chainhash.Hash
		for range rng.IntN(n/4 + 1) {
			strangers = append(strangers, withPrefix(rng, block[rng.IntN(n)], 1+rng.IntN(3)))
		}
		sender := poolOf(t, block)
		receiver := poolOf(t, block, strangers)
		enc, err := sender.NewEncoder(block, nil, 1+rng.IntN(3))
		if err != nil {
			t.Fatal(err)
		}
		height := rng.IntN(int(merkle.MustShape(uint32(n)).Depth()) + 2)
		for _, g := range groupsOf(block, height) {
			seq, _, err := enc.EncodeLeaves(g.first, g.n)
			if err != nil {
				t.Fatal(err)
			}
			got, unresolved, err := resolveGroup(receiver, g, roundTripSeq(t, seq))
			if err != nil {
				t.Fatalf("iter %d: %v", iter, err)
			}
			if unresolved != nil {
				// Only a group with too many combinations may fail.
				hashes, combos := seq.Hashes(), 1
				for _, i := range unresolved {
					combos *= len(receiver.Candidates(hashes[i], 1000))
				}
				if combos <= MaxCombinations {
					t.Fatalf("iter %d group %v: unresolved %v with %d combinations", iter, g.parent, unresolved, combos)
				}
				continue
			}
			if !slices.Equal(got, block[g.first:g.first+g.n]) {
				t.Fatalf("iter %d group %v: wrong txids", iter, g.parent)
			}
			nodes := make([]merkle.Node, g.n)
			for i := range nodes {
				nodes[i] = merkle.Node{Pos: g.shape.Leaf(uint32(g.first + i)), Hash: got[i]}
			}
			want, err := merkle.ComputeCover(g.shape, g.parent, nodes)
			sub := newSubtree(slices.Clone(got), int(g.shape.Depth()-g.parent.Level))
			if err != nil || sub.root() != want || want != g.hash {
				t.Fatalf("iter %d: subtree %v, cover %v (%v), want %v", iter, sub.root(), want, err, g.hash)
			}
		}
	}
}
