package merkle

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/chainhash/v2"
)

// refRoot is a direct transcription of Bitcoin Core's ComputeMerkleRoot,
// the reference for Root's hash and mutation flag.
func refRoot(leaves []chainhash.Hash) (chainhash.Hash, bool) {
	hashes := slices.Clone(leaves)
	mutation := false
	for len(hashes) > 1 {
		for pos := 0; pos+1 < len(hashes); pos += 2 {
			if hashes[pos] == hashes[pos+1] {
				mutation = true
			}
		}
		if len(hashes)&1 == 1 {
			hashes = append(hashes, hashes[len(hashes)-1])
		}
		for i := 0; i < len(hashes)/2; i++ {
			hashes[i] = HashPair(&hashes[2*i], &hashes[2*i+1])
		}
		hashes = hashes[:len(hashes)/2]
	}
	if len(hashes) == 0 {
		return chainhash.Hash{}, mutation
	}
	return hashes[0], mutation
}

func TestHashPair(t *testing.T) {
	a, b := randomHashes(2, 1)[0], randomHashes(2, 1)[1]
	var buf []byte
	buf = append(buf, a[:]...)
	buf = append(buf, b[:]...)
	once := sha256.Sum256(buf)
	want := chainhash.Hash(sha256.Sum256(once[:]))
	if got := HashPair(&a, &b); got != want {
		t.Fatalf("HashPair = %v, want %v", got, want)
	}
	if got := chainhash.DoubleHashH(buf); got != want {
		t.Fatalf("chainhash.DoubleHashH = %v, want %v", got, want)
	}
	if got := blockchain.HashMerkleBranches(&a, &b); got != want {
		t.Fatalf("btcd HashMerkleBranches = %v, want %v", got, want)
	}
	if allocs := testing.AllocsPerRun(100, func() { a = HashPair(&a, &b) }); allocs != 0 {
		t.Fatalf("HashPair allocates %v times", allocs)
	}
}

func TestRootSmall(t *testing.T) {
	h := randomHashes(8, 2)
	a, b, c, d, e, f := h[0], h[1], h[2], h[3], h[4], h[5]
	hp := func(l, r chainhash.Hash) chainhash.Hash { return HashPair(&l, &r) }
	abcde := hp(hp(hp(a, b), hp(c, d)), hp(hp(e, e), hp(e, e)))
	tests := []struct {
		name    string
		leaves  []chainhash.Hash
		root    chainhash.Hash
		mutated bool
	}{
		{"empty", nil, chainhash.Hash{}, false},
		{"one leaf is the root", []chainhash.Hash{a}, a, false},
		{"two leaves", []chainhash.Hash{a, b}, hp(a, b), false},
		{"odd level repeats its last node", []chainhash.Hash{a, b, c}, hp(hp(a, b), hp(c, c)), false},
		{"two equal leaves are mutated", []chainhash.Hash{a, a}, hp(a, a), true},
		{"duplicated last leaf", []chainhash.Hash{a, b, c, c}, hp(hp(a, b), hp(c, c)), true},
		{"five leaves", []chainhash.Hash{a, b, c, d, e}, abcde, false},
		{"five leaves with the last duplicated", []chainhash.Hash{a, b, c, d, e, e}, abcde, true},
		{"equal real siblings above the leaves", []chainhash.Hash{a, b, c, d, e, f, e, f},
			hp(hp(hp(a, b), hp(c, d)), hp(hp(e, f), hp(e, f))), true},
		{"equal leaves that are not siblings", []chainhash.Hash{a, b, b, c}, hp(hp(a, b), hp(b, c)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.leaves)
			for _, workers := range []int{1, 2, 3} {
				root, mutated := rootParallel(in, workers, 1)
				if root != tt.root || mutated != tt.mutated {
					t.Errorf("rootParallel(%d workers) = %v, %v; want %v, %v", workers, root, mutated, tt.root, tt.mutated)
				}
			}
			root, mutated := Root(in)
			if root != tt.root || mutated != tt.mutated {
				t.Errorf("Root = %v, %v; want %v, %v", root, mutated, tt.root, tt.mutated)
			}
			if !slices.Equal(in, tt.leaves) {
				t.Errorf("Root modified its input")
			}
			if len(tt.leaves) > 0 {
				if levels := Levels(in); levels[0][0] != tt.root {
					t.Errorf("Levels root = %v, want %v", levels[0][0], tt.root)
				}
			}
		})
	}
}

// TestRootAgainstBtcd compares Root, RootParallel (forced to split even
// small trees) and Levels with btcd's BuildMerkleTreeStore for every tree of
// 1 to 5000 transactions.
func TestRootAgainstBtcd(t *testing.T) {
	const maxN = 5000
	const shards = 4
	txs := makeTxs(maxN, 3)
	ids := txids(txs)
	for s := range shards {
		t.Run(fmt.Sprintf("shard%d", s), func(t *testing.T) {
			t.Parallel()
			for n := 1 + s; n <= maxN; n += shards {
				store := blockchain.BuildMerkleTreeStore(txs[:n], false)
				want := *store[len(store)-1]
				leaves := ids[:n]
				if got, mutated := Root(leaves); got != want || mutated {
					t.Fatalf("n=%d: Root = %v, %v; want %v, false", n, got, mutated, want)
				}
				workers := 2 + n%3
				if got, mutated := rootParallel(leaves, workers, 1); got != want || mutated {
					t.Fatalf("n=%d: rootParallel(%d) = %v, %v; want %v, false", n, workers, got, mutated, want)
				}
				if n <= 300 || n%97 == 0 {
					checkLevelsAgainstStore(t, Levels(leaves), store)
				}
			}
		})
	}
}

// checkLevelsAgainstStore compares every level with btcd's linear store,
// which holds the levels bottom-up, each padded with nils to a power of two.
func checkLevelsAgainstStore(t *testing.T, levels [][]chainhash.Hash, store []*chainhash.Hash) {
	t.Helper()
	off, width := 0, (len(store)+1)/2
	for l := len(levels) - 1; l >= 0; l-- {
		for i, h := range levels[l] {
			if s := store[off+i]; s == nil || *s != h {
				t.Fatalf("%d leaves: level %d node %d = %v, btcd has %v", len(levels[len(levels)-1]), l, i, h, s)
			}
		}
		if len(levels[l]) < width && store[off+len(levels[l])] != nil {
			t.Fatalf("level %d is shorter than btcd's", l)
		}
		off += width
		width /= 2
	}
	if off != len(store) {
		t.Fatalf("Levels has %d levels; btcd's store is %d long", len(levels), len(store))
	}
}

// TestRootMutation plants equal real siblings at many places of larger
// trees and checks the flag (and the root) of Root and RootParallel against
// the reference, so that mutations inside a subtree, across the boundary of
// two subtrees and in the serially finished top levels are all seen.
func TestRootMutation(t *testing.T) {
	for _, n := range []int{2, 3, 4100, 5000, 8192, 20000} {
		base := randomHashes(n, uint64(n))
		cases := map[string][]chainhash.Hash{"clean": base}
		for _, at := range []int{0, n / 3 &^ 1, n/2 - 2, n - 2, n - 1} {
			if at < 0 || at+1 >= n {
				continue
			}
			m := slices.Clone(base)
			m[at|1] = m[at&^1]
			cases[fmt.Sprintf("leaves%d", at)] = m
		}
		if n >= 4 {
			// Make two real siblings one level up equal: leaves 4k..4k+3
			// repeat a pair.
			m := slices.Clone(base)
			k := (n/4 - 1) * 4
			m[k+2], m[k+3] = m[k], m[k+1]
			cases["level-1"] = m
		}
		if n >= 8192 {
			// Equal subtrees of 2048 leaves: siblings above blockHeight.
			m := slices.Clone(base)
			copy(m[2048:4096], m[:2048])
			cases["subtrees"] = m
		}
		for name, leaves := range cases {
			want, wantMut := refRoot(leaves)
			if got, mut := Root(leaves); got != want || mut != wantMut {
				t.Errorf("n=%d %s: Root = %v, %v; want %v, %v", n, name, got, mut, want, wantMut)
			}
			for _, workers := range []int{2, 3, 8} {
				if got, mut := rootParallel(leaves, workers, 1); got != want || mut != wantMut {
					t.Errorf("n=%d %s: rootParallel(%d) = %v, %v; want %v, %v", n, name, workers, got, mut, want, wantMut)
				}
			}
			if got, mut := RootParallel(leaves, 2); got != want || mut != wantMut {
				t.Errorf("n=%d %s: RootParallel = %v, %v; want %v, %v", n, name, got, mut, want, wantMut)
			}
		}
	}
}

// TestRootCVE2012_2459 extends trees the way CVE-2012-2459 does: where a
// level of the tree has an odd number of nodes, its last node is hashed with
// itself, so repeating the leaves under that node (the last transaction for
// an odd count, the last two when the level above the leaves is the odd one,
// and so on) gives a different transaction list with the same root, and the
// repeated node and its copy are equal real siblings.
func TestRootCVE2012_2459(t *testing.T) {
	for _, n := range []int{3, 5, 6, 7, 10, 11, 12, 4097, 4098, 5000} {
		leaves := randomHashes(n, uint64(100+n))
		root, mut := Root(leaves)
		if mut {
			t.Fatalf("n=%d: random tree reported mutated", n)
		}
		// Find the lowest odd level above a single node; below it every
		// level is even, so its last node covers exactly dup leaves.
		dup := 1
		for c := n; c%2 == 0; c /= 2 {
			dup *= 2
		}
		if dup == n && n > 1 {
			t.Fatalf("n=%d: a power of two cannot be mutated this way", n)
		}
		mutated := append(slices.Clone(leaves), leaves[n-dup:]...)
		if got, gotMut := Root(mutated); got != root || !gotMut {
			t.Errorf("n=%d+%d: mutated Root = %v, %v; want %v, true", n, dup, got, gotMut, root)
		}
		if got, gotMut := RootParallel(mutated, 2); got != root || !gotMut {
			t.Errorf("n=%d+%d: mutated RootParallel = %v, %v; want %v, true", n, dup, got, gotMut, root)
		}
	}
}

func TestLevelsShape(t *testing.T) {
	for n := 1; n <= 70; n++ {
		leaves := randomHashes(n, uint64(n))
		levels := Levels(leaves)
		shape := MustShape(uint32(n))
		if len(levels) != int(shape.Depth())+1 {
			t.Fatalf("n=%d: %d levels, shape depth %d", n, len(levels), shape.Depth())
		}
		for l := range levels {
			if uint32(len(levels[l])) != shape.Count(uint8(l)) {
				t.Fatalf("n=%d: level %d has %d nodes, shape says %d", n, l, len(levels[l]), shape.Count(uint8(l)))
			}
		}
		if !slices.Equal(levels[len(levels)-1], leaves) {
			t.Fatalf("n=%d: last level is not the leaves", n)
		}
		leaves[0][0] ^= 1
		if levels[len(levels)-1][0] == leaves[0] {
			t.Fatalf("n=%d: Levels shares the caller's leaves", n)
		}
	}
	if Levels(nil) != nil {
		t.Fatal("Levels(nil) is not nil")
	}
}
