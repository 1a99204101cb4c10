package mempool

import (
	"cmp"
	"encoding/binary"
	"slices"

	"github.com/btcsuite/btcd/chainhash/v2"
)

// MinShortSize is the smallest leaf hash size §8 lets a sender choose by
// default; a minSize below 1 means this.
const MinShortSize = 2

// exceptionCost is what listing a leaf in a sequence's exceptions costs
// besides its longer hash: a one-byte NEXT_EXCEPTION distance (leaves
// lengthened by a collision are far apart but rarely 253 apart) and the
// HASH_SIZE byte.
const exceptionCost = 2

// plan is what a sender knows about one block before encoding it: for
// every leaf whether it goes short and the shortest prefix no other
// transaction of mempool ∪ block shares.
type plan struct {
	known   []bool
	uniq    []uint8 // 1..32
	poolLen int
}

// makePlan computes the plan of block. With known nil a leaf is known when
// the pool holds it now.
func (p *Pool) makePlan(block []chainhash.Hash, known []bool) plan {
	order := sortedOrder(block)
	pl := plan{known: make([]bool, len(block)), uniq: make([]uint8, len(block))}
	// The longest prefix each leaf shares with another leaf: its
	// neighbours in sorted order.
	for k := 1; k < len(order); k++ {
		a, b := order[k-1], order[k]
		l := uint8(commonPrefix(&block[a], &block[b]))
		pl.uniq[a] = max(pl.uniq[a], l)
		pl.uniq[b] = max(pl.uniq[b], l)
	}
	// Visiting the leaves in sorted order walks the buckets forwards.
	p.mu.RLock()
	for _, i := range order {
		l, held := p.poolLCP(&block[i])
		l = max(l, int(pl.uniq[i]))
		pl.uniq[i] = uint8(min(l+1, chainhash.HashSize))
		if known == nil {
			pl.known[i] = held
		}
	}
	pl.poolLen = p.count
	p.mu.RUnlock()
	if known != nil {
		copy(pl.known, known)
	}
	return pl
}

// sortedOrder returns the indexes of block in the order of their txids.
func sortedOrder(block []chainhash.Hash) []int32 {
	type key struct {
		head uint64 // the first eight bytes, big-endian
		i    int32
	}
	keys := make([]key, len(block))
	for i := range block {
		keys[i] = key{binary.BigEndian.Uint64(block[i][:8]), int32(i)}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.head != b.head {
			return cmp.Compare(a.head, b.head)
		}
		return compareHash(&block[a.i], &block[b.i])
	})
	order := make([]int32, len(block))
	for k := range keys {
		order[k] = keys[k].i
	}
	return order
}

// compareHash orders hashes by their bytes in internal order.
func compareHash(a, b *chainhash.Hash) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// clampSize brings a requested size into 1..32, with values below 1
// meaning MinShortSize.
func clampSize(s int) int {
	switch {
	case s < 1:
		return MinShortSize
	case s > chainhash.HashSize:
		return chainhash.HashSize
	}
	return s
}

// baseSize returns the DEFAULT_HASH_SIZE s ≥ minSize that encodes the
// known leaves in the fewest bytes: every known leaf costs max(s, its
// unique length), plus exceptionCost when that exceeds s. The smallest such
// size wins ties.
func (pl *plan) baseSize(minSize int) int {
	var hist [chainhash.HashSize + 1]int
	for i, u := range pl.uniq {
		if pl.known[i] {
			hist[u]++
		}
	}
	best, bestCost := minSize, -1
	for s := minSize; s <= chainhash.HashSize; s++ {
		cost := 0
		for u := 1; u <= chainhash.HashSize; u++ {
			if u <= s {
				cost += hist[u] * s
			} else {
				cost += hist[u] * (u + exceptionCost)
			}
		}
		if bestCost < 0 || cost < bestCost {
			best, bestCost = s, cost
		}
	}
	return best
}

// collisionFree returns the smallest size ≥ minSize at which no known leaf
// shares its prefix with another transaction of mempool ∪ block.
func (pl *plan) collisionFree(minSize int) int {
	s := minSize
	for i, u := range pl.uniq {
		if pl.known[i] {
			s = max(s, int(u))
		}
	}
	return s
}

// needsMargin reports whether a mempool of n entries is crowded at size s:
// more than 2^(8s)/4 entries, so that a receiver's mempool, which differs
// from the sender's, holds a transaction sharing a leaf's prefix in more
// than one lookup in 4 (§8). Below that the receiver's merkle check
// resolves the ambiguities within its combination budget; measured, two
// bytes cost 2.76 bytes per known transaction at 20,000 entries where
// three cost 3.01, and three bytes cost 3.06 at 300,000 where four cost
// 4.01.
func needsMargin(s, n int) bool {
	if s >= 7 {
		return false
	}
	return uint64(n)*4 > uint64(1)<<(8*s)
}

// shortSize applies §8's rule: the cheapest base size, plus one byte of
// margin when the mempool is crowded at that size.
func (pl *plan) shortSize(minSize int) int {
	s := pl.baseSize(minSize)
	if s < chainhash.HashSize && needsMargin(s, pl.poolLen) {
		s++
	}
	return s
}

// ShortSize returns the leaf hash size a sender uses for block, taking the
// leaves the pool holds now as the ones the receiver knows (§8).
//
// The base size is the s ≥ minSize (MinShortSize when minSize < 1) that
// encodes the known leaves in the fewest bytes, where a leaf whose s-byte
// prefix another transaction of mempool ∪ block shares is lengthened to its
// unique length as an exception. Taken literally, §8's "the smallest s for
// which no two transactions share a prefix" is the birthday bound of the
// whole mempool (5 or 6 bytes at 300,000 entries), which makes every leaf
// pay for the rare collision; lengthening only the colliding leaves
// gives the receiver the same uniqueness. Then one byte of margin is added
// when the mempool holds more than 2^(8s)/4 entries, as §8 says, because
// the receiver's mempool is not the sender's: its extra transactions make
// short hashes ambiguous, and the transactions it lacks may match a
// stranger uniquely.
func (p *Pool) ShortSize(block []chainhash.Hash, minSize int) int {
	pl := p.makePlan(block, nil)
	return pl.shortSize(clampSize(minSize))
}
