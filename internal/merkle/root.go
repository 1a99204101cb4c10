package merkle

import (
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/btcsuite/btcd/chainhash/v2"
)

// blockHeight is the height of the aligned subtrees that Root and
// RootParallel hash as one unit. A subtree of 2^11 leaves needs 1,024 hashes
// (32 KiB) of scratch for its first level, which stays in the L1 or L2 cache
// while the rest of the subtree is hashed in place.
const blockHeight = 11

// parallelMinLeaves is the smallest tree that RootParallel splits across
// goroutines; below it the cost of starting them outweighs the gain.
const parallelMinLeaves = 1 << 12

// scratchPad is the number of unused hashes (128 bytes) RootParallel leaves
// between the scratch areas of two workers so that they never write to the
// same or to adjacent cache lines.
const scratchPad = 4

// Root returns the merkle root of leaves and reports whether the tree is
// mutated, exactly as Bitcoin Core's ComputeMerkleRoot does: the last node of
// an odd-sized level is hashed with itself, and mutated is true when at some
// level two real siblings (indices 2i and 2i+1, both present) are equal, which
// is the CVE-2012-2459 ambiguity that lets a different leaf list produce the
// same root. A single leaf is its own root; an empty list yields the zero
// hash and false. leaves is not modified.
func Root(leaves []chainhash.Hash) (root chainhash.Hash, mutated bool) {
	n := len(leaves)
	if n == 0 {
		return chainhash.Hash{}, false
	}
	depth := uint(bits.Len(uint(n - 1)))
	if depth == 0 {
		return leaves[0], false
	}
	if depth <= blockHeight {
		scratch := make([]chainhash.Hash, (n+1)/2)
		return subtreeRoot(leaves, depth, scratch)
	}

	// Hash every aligned subtree of 2^blockHeight leaves with one small
	// scratch buffer, then finish the top levels in place over their roots.
	nb := (n + 1<<blockHeight - 1) >> blockHeight
	buf := make([]chainhash.Hash, nb+1<<(blockHeight-1))
	tops, scratch := buf[:nb], buf[nb:]
	for k := range nb {
		lo := k << blockHeight
		hi := min(lo+1<<blockHeight, n)
		r, m := subtreeRoot(leaves[lo:hi], blockHeight, scratch)
		tops[k] = r
		mutated = mutated || m
	}
	root, m := subtreeRoot(tops, depth-blockHeight, tops)
	return root, mutated || m
}

// RootParallel returns the same root and mutation flag as Root, computed by
// up to workers goroutines (the caller's goroutine being one of them). The
// leaves are cut into aligned subtrees of equal height; the workers take
// subtrees one at a time from a shared counter and hash each one whole with
// a private scratch buffer, and the few levels above the subtree roots are
// finished serially. Small trees, or workers <= 1, fall back to Root.
func RootParallel(leaves []chainhash.Hash, workers int) (chainhash.Hash, bool) {
	return rootParallel(leaves, workers, parallelMinLeaves)
}

// rootParallel is RootParallel with the size threshold as a parameter, so
// that tests can run the parallel code on small trees.
func rootParallel(leaves []chainhash.Hash, workers, minLeaves int) (chainhash.Hash, bool) {
	n := len(leaves)
	if workers <= 1 || n < max(minLeaves, 2) {
		return Root(leaves)
	}
	depth := uint(bits.Len(uint(n - 1)))

	// Use subtrees of at most 2^blockHeight leaves, and lower them until
	// every worker gets several, so that an uneven last subtree or a busy
	// core does not leave the other workers idle for long.
	h := min(uint(blockHeight), depth)
	for h > 1 && (n+1<<h-1)>>h < 8*workers {
		h--
	}
	nb := (n + 1<<h - 1) >> h
	workers = min(workers, nb)

	half := 1 << (h - 1)
	buf := make([]chainhash.Hash, nb+scratchPad+workers*(half+scratchPad))
	tops := buf[:nb]

	var next atomic.Int64
	var anyMutated atomic.Bool
	work := func(scratch []chainhash.Hash) {
		mutated := false
		for {
			k := int(next.Add(1) - 1)
			if k >= nb {
				break
			}
			lo := k << h
			hi := min(lo+1<<h, n)
			r, m := subtreeRoot(leaves[lo:hi], h, scratch)
			tops[k] = r
			mutated = mutated || m
		}
		if mutated {
			anyMutated.Store(true)
		}
	}
	scratchOf := func(w int) []chainhash.Hash {
		lo := nb + scratchPad + w*(half+scratchPad)
		return buf[lo : lo+half : lo+half]
	}

	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		scratch := scratchOf(w)
		wg.Go(func() { work(scratch) })
	}
	work(scratchOf(0))
	wg.Wait()

	root, m := subtreeRoot(tops, depth-h, tops)
	return root, m || anyMutated.Load()
}

// subtreeRoot hashes the leaves in (1 to 2^height of them, the first leaves
// of an aligned subtree) up exactly height levels and returns the subtree's
// root and whether two real siblings were equal on the way. The odd rule is
// applied at every level, so a subtree with fewer leaves than 2^height (the
// last one of a tree) gets the same root as in the whole tree: its levels are
// the ends of the tree's levels. scratch must hold at least (len(in)+1)/2
// hashes; it may be in itself, since every level is written in place from
// left to right and node i is written only after nodes 2i and 2i+1 were read.
func subtreeRoot(in []chainhash.Hash, height uint, scratch []chainhash.Hash) (chainhash.Hash, bool) {
	mutated := false
	src := in
	n := len(in)
	for range height {
		pairs := n / 2
		dst := scratch[:(n+1)/2]
		// Hash two pairs at a time: hashPairs2 interleaves them, and
		// it reads all four children (2i..2i+3) before it writes either
		// parent; in place the parents, nodes i and i+1, lie before
		// every child still to be read.
		i := 0
		for ; i+1 < pairs; i += 2 {
			q := (*[4]chainhash.Hash)(src[2*i : 2*i+4])
			if q[0] == q[1] || q[2] == q[3] {
				mutated = true
			}
			hashPairs2((*[2]chainhash.Hash)(dst[i:i+2]), q)
		}
		if i < pairs {
			l, r := &src[2*i], &src[2*i+1]
			if *l == *r {
				mutated = true
			}
			hashPair(&dst[i], l, r)
		}
		if n&1 == 1 {
			last := &src[n-1]
			hashPair(&dst[pairs], last, last)
		}
		src = dst
		n = len(dst)
	}
	return src[0], mutated
}

// Levels returns every level of the merkle tree of leaves: index 0 holds the
// root alone and the last index a copy of the leaves, so that levels[l][i] is
// the hash of Pos{l, i}. Senders use it to serve any node of a block. All
// levels share one allocation. An empty list yields nil.
func Levels(leaves []chainhash.Hash) [][]chainhash.Hash {
	n := len(leaves)
	if n == 0 {
		return nil
	}
	depth := bits.Len(uint(n - 1))
	total := 0
	for c := n; ; c = (c + 1) / 2 {
		total += c
		if c == 1 {
			break
		}
	}
	buf := make([]chainhash.Hash, total)
	levels := make([][]chainhash.Hash, depth+1)

	// Lay the levels out bottom-up: the leaves first, then each parent
	// level directly after its children.
	off := copy(buf, leaves)
	levels[depth] = buf[:n:n]
	for l := depth - 1; l >= 0; l-- {
		src := levels[l+1]
		c := (len(src) + 1) / 2
		dst := buf[off : off+c : off+c]
		i := 0
		for ; 2*i+3 < len(src); i += 2 {
			hashPairs2((*[2]chainhash.Hash)(dst[i:i+2]), (*[4]chainhash.Hash)(src[2*i:2*i+4]))
		}
		for ; i < len(dst); i++ {
			r := min(2*i+1, len(src)-1)
			hashPair(&dst[i], &src[2*i], &src[r])
		}
		levels[l] = dst
		off += c
	}
	return levels
}
