package mempool

import (
	"github.com/blocktorrent/blocktorrent/internal/merkle"
	"github.com/btcsuite/btcd/chainhash/v2"
)

// subtree holds every level of the merkle tree under one node, so that a
// receiver trying combinations of candidate leaves recomputes only the path
// from each changed leaf: one hash per level instead of the whole group.
//
// The leaves under a node start at a multiple of 2^height, so at height k
// the node's subtree has ceil(n/2^k) nodes and a node's sibling exists in
// the whole tree exactly when it exists in the subtree: Bitcoin's odd rule
// (a lone last node is hashed with itself) applies inside the subtree as it
// does in the tree. A subtree also counts its pairs of equal real siblings,
// the CVE-2012-2459 mutation, so a combination that produces one is
// rejected like a wrong root.
type subtree struct {
	levels [][]chainhash.Hash // levels[0] the leaves, levels[height] the node
	equal  int                // real sibling pairs with equal hashes
}

// newSubtree builds the levels above leaves up to the node height levels
// higher.
func newSubtree(leaves []chainhash.Hash, height int) *subtree {
	t := &subtree{levels: make([][]chainhash.Hash, height+1)}
	t.levels[0] = leaves
	for k := range height {
		next := make([]chainhash.Hash, (len(t.levels[k])+1)/2)
		for q := range next {
			if t.realEqual(k, q) {
				t.equal++
			}
			next[q] = t.pair(k, q)
		}
		t.levels[k+1] = next
	}
	return t
}

// root returns the hash of the node the subtree hangs from.
func (t *subtree) root() chainhash.Hash { return t.levels[len(t.levels)-1][0] }

// pair returns the parent of nodes 2q and 2q+1 of level k.
func (t *subtree) pair(k, q int) chainhash.Hash {
	cur := t.levels[k]
	if 2*q+1 < len(cur) {
		return merkle.HashPair(&cur[2*q], &cur[2*q+1])
	}
	return merkle.HashPair(&cur[2*q], &cur[2*q])
}

// realEqual reports whether nodes 2q and 2q+1 of level k both exist and
// are equal.
func (t *subtree) realEqual(k, q int) bool {
	cur := t.levels[k]
	return 2*q+1 < len(cur) && cur[2*q] == cur[2*q+1]
}

// set replaces leaf i and recomputes its ancestors.
func (t *subtree) set(i int, h chainhash.Hash) {
	top := len(t.levels) - 1
	for k := range top {
		q := i >> 1
		if t.realEqual(k, q) {
			t.equal--
		}
		t.levels[k][i] = h
		if t.realEqual(k, q) {
			t.equal++
		}
		h = t.pair(k, q)
		i = q
	}
	t.levels[top][i] = h
}
