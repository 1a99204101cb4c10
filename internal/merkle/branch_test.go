package merkle

import (
	"errors"
	"slices"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
)

func TestBranchAllLeaves(t *testing.T) {
	sizes := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 33, 100, 1000, 4097}
	for _, n := range sizes {
		leaves := randomHashes(n, uint64(7*n))
		levels := Levels(leaves)
		root, _ := Root(leaves)
		shape := MustShape(uint32(n))
		for i := range n {
			br := Branch(levels, uint32(i))
			if len(br) != int(shape.Depth()) {
				t.Fatalf("n=%d leaf %d: branch of %d hashes, depth %d", n, i, len(br), shape.Depth())
			}
			if err := VerifyBranch(shape, uint32(i), leaves[i], br, root); err != nil {
				t.Fatalf("n=%d leaf %d: %v", n, i, err)
			}
		}
		if br := Branch(levels, uint32(n)); br != nil {
			t.Fatalf("n=%d: Branch of leaf %d = %v, want nil", n, n, br)
		}
	}
	if Branch(nil, 0) != nil {
		t.Fatal("Branch(nil) is not nil")
	}
}

func TestBranchOddRule(t *testing.T) {
	// In a five-leaf tree leaf 4 has no sibling at any level below the
	// root's children: its branch repeats the node itself twice.
	leaves := randomHashes(5, 11)
	levels := Levels(leaves)
	br := Branch(levels, 4)
	want := []chainhash.Hash{leaves[4], levels[2][2], levels[1][0]}
	if !slices.Equal(br, want) {
		t.Fatalf("Branch(4) = %v, want %v", br, want)
	}
}

func TestVerifyBranchErrors(t *testing.T) {
	leaves := randomHashes(5, 12)
	levels := Levels(leaves)
	root := levels[0][0]
	shape := MustShape(5)
	good := Branch(levels, 1)
	odd := Branch(levels, 4)
	flip := func(h chainhash.Hash) chainhash.Hash { h[31] ^= 0x80; return h }
	with := func(br []chainhash.Hash, i int, h chainhash.Hash) []chainhash.Hash {
		br = slices.Clone(br)
		br[i] = h
		return br
	}

	// A mutated tree: leaves c, c are real siblings.
	mut := randomHashes(4, 13)
	mut[3] = mut[2]
	mutLevels := Levels(mut)

	tests := []struct {
		name   string
		shape  Shape
		leaf   uint32
		hash   chainhash.Hash
		branch []chainhash.Hash
		root   chainhash.Hash
		want   error
	}{
		{"good", shape, 1, leaves[1], good, root, nil},
		{"good odd leaf", shape, 4, leaves[4], odd, root, nil},
		{"wrong leaf hash", shape, 1, flip(leaves[1]), good, root, ErrMismatch},
		{"wrong index", shape, 0, leaves[1], good, root, ErrMismatch},
		{"wrong root", shape, 1, leaves[1], good, flip(root), ErrMismatch},
		{"tampered sibling", shape, 1, leaves[1], with(good, 1, flip(good[1])), root, ErrMismatch},
		{"odd node not repeated", shape, 4, leaves[4], with(odd, 0, leaves[3]), root, ErrMismatch},
		{"short branch", shape, 1, leaves[1], good[:2], root, ErrIncomplete},
		{"long branch", shape, 1, leaves[1], append(slices.Clone(good), root), root, ErrOverlap},
		{"leaf outside the tree", shape, 5, leaves[4], odd, root, ErrBadPos},
		{"zero shape", Shape{}, 0, leaves[0], nil, root, ErrBadShape},
		{"equal real siblings", MustShape(4), 2, mut[2], Branch(mutLevels, 2), mutLevels[0][0], ErrMutated},
		{"equal right sibling", MustShape(4), 3, mut[3], Branch(mutLevels, 3), mutLevels[0][0], ErrMutated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyBranch(tt.shape, tt.leaf, tt.hash, tt.branch, tt.root)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("VerifyBranch = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyBranch = %v, want %v", err, tt.want)
			}
		})
	}
}
