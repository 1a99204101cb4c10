package mempool

import (
	"encoding/binary"
	"math/bits"
	"slices"

	"github.com/btcsuite/btcd/chainhash/v2"
)

// The short-hash index sorts the pool's txids (internal byte order) into
// 65,536 buckets by their first two bytes. Each bucket is a sorted slice of
// packed uint64 values: bytes 2..6 of the txid in the high 40 bits and the
// entry number in the low 24. Sorting the packed values sorts by those five
// bytes, so a prefix of 3 to 7 bytes is a range found by binary search
// without touching the entries, and longer prefixes compare the entries'
// hashes only within that range. With 300,000 transactions a bucket holds
// 4.6 values on average, 8 bytes each, so a lookup reads one or two cache
// lines of the bucket and one per match.
const (
	bucketBits = 16
	numBuckets = 1 << bucketBits
	refBits    = 24
	refMask    = 1<<refBits - 1
	keyBytes   = 5 // txid bytes 2..6 held in a packed value
)

// index is the bucket array and, for one-byte prefixes, the number of
// entries per first byte.
type index struct {
	buckets   [][]uint64 // numBuckets slices, allocated on first insert
	firstByte [256]int32
}

// bucketOf returns the bucket of h.
func bucketOf(h *chainhash.Hash) int { return int(h[0])<<8 | int(h[1]) }

// keyOf returns bytes 2..6 of h as a 40-bit big-endian number.
func keyOf(h *chainhash.Hash) uint64 {
	return uint64(h[2])<<32 | uint64(h[3])<<24 | uint64(h[4])<<16 | uint64(h[5])<<8 | uint64(h[6])
}

// commonPrefix returns the number of leading bytes a and b share.
func commonPrefix(a, b *chainhash.Hash) int {
	for i := 0; i < chainhash.HashSize; i += 8 {
		if x := binary.BigEndian.Uint64(a[i:]) ^ binary.BigEndian.Uint64(b[i:]); x != 0 {
			return i + bits.LeadingZeros64(x)/8
		}
	}
	return chainhash.HashSize
}

// indexAdd enters entry ref in the index. The caller holds the write lock.
func (p *Pool) indexAdd(ref uint32) {
	if p.idx.buckets == nil {
		p.idx.buckets = make([][]uint64, numBuckets)
	}
	h := &p.entries[ref].txid
	b := &p.idx.buckets[bucketOf(h)]
	v := keyOf(h)<<refBits | uint64(ref)
	i, _ := slices.BinarySearch(*b, v)
	*b = slices.Insert(*b, i, v)
	p.idx.firstByte[h[0]]++
}

// indexRemove takes entry ref out of the index. The caller holds the write
// lock.
func (p *Pool) indexRemove(ref uint32) {
	h := &p.entries[ref].txid
	b := &p.idx.buckets[bucketOf(h)]
	v := keyOf(h)<<refBits | uint64(ref)
	if i, ok := slices.BinarySearch(*b, v); ok {
		*b = slices.Delete(*b, i, i+1)
		p.idx.firstByte[h[0]]--
	}
}

// find returns the entry number of txid. The caller holds the lock.
func (p *Pool) find(txid *chainhash.Hash) (uint32, bool) {
	if p.idx.buckets == nil {
		return 0, false
	}
	b := p.idx.buckets[bucketOf(txid)]
	k := keyOf(txid)
	i, _ := slices.BinarySearch(b, k<<refBits)
	for ; i < len(b) && b[i]>>refBits == k; i++ {
		if ref := uint32(b[i] & refMask); p.entries[ref].txid == *txid {
			return ref, true
		}
	}
	return 0, false
}

// Candidates returns the txids in the pool that start with prefix (1 to 32
// bytes, internal byte order), at most max of them, in no particular order.
// It returns nil for an empty or over-long prefix or max < 1.
func (p *Pool) Candidates(prefix []byte, max int) []chainhash.Hash {
	return p.AppendCandidates(nil, prefix, max)
}

// AppendCandidates is Candidates appending to dst, so that a caller
// resolving many short hashes can reuse one buffer.
func (p *Pool) AppendCandidates(dst []chainhash.Hash, prefix []byte, max int) []chainhash.Hash {
	if len(prefix) < 1 || len(prefix) > chainhash.HashSize || max < 1 {
		return dst
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.appendCandidates(dst, prefix, max)
}

// appendCandidates appends up to max txids that start with prefix (1..32
// bytes). The caller holds the lock.
func (p *Pool) appendCandidates(dst []chainhash.Hash, prefix []byte, max int) []chainhash.Hash {
	if p.idx.buckets == nil {
		return dst
	}
	limit := len(dst) + max
	if len(prefix) == 1 {
		if p.idx.firstByte[prefix[0]] == 0 {
			return dst
		}
		base := int(prefix[0]) << 8
		for b := base; b < base+256; b++ {
			for _, v := range p.idx.buckets[b] {
				if len(dst) == limit {
					return dst
				}
				dst = append(dst, p.entries[v&refMask].txid)
			}
		}
		return dst
	}
	bucket := p.idx.buckets[int(prefix[0])<<8|int(prefix[1])]
	if len(prefix) == 2 {
		for _, v := range bucket {
			if len(dst) == limit {
				return dst
			}
			dst = append(dst, p.entries[v&refMask].txid)
		}
		return dst
	}
	// Bytes 2..6 of the prefix bound a range of packed values; bytes the
	// prefix does not give are free (0 at the low end, 0xff at the high).
	var lo uint64
	n := min(len(prefix)-2, keyBytes)
	for i := range keyBytes {
		lo <<= 8
		if i < n {
			lo |= uint64(prefix[2+i])
		}
	}
	free := uint64(1)<<(8*(keyBytes-n)) - 1
	start, _ := slices.BinarySearch(bucket, lo<<refBits)
	hi := (lo|free)<<refBits | refMask
	rest := prefix[min(len(prefix), 2+keyBytes):]
	for _, v := range bucket[start:] {
		if v > hi || len(dst) == limit {
			break
		}
		e := &p.entries[v&refMask]
		if len(rest) > 0 && string(e.txid[2+keyBytes:len(prefix)]) != string(rest) {
			continue
		}
		dst = append(dst, e.txid)
	}
	return dst
}

// poolLCP returns the length in bytes of the longest prefix h shares with
// a txid of the pool other than h itself (0 when none shares even the
// first byte), and whether the pool holds h. The caller holds the lock.
func (p *Pool) poolLCP(h *chainhash.Hash) (lcp int, held bool) {
	if p.idx.buckets == nil {
		return 0, false
	}
	b := p.idx.buckets[bucketOf(h)]
	k := keyOf(h)
	lo, _ := slices.BinarySearch(b, k<<refBits)
	best, self := -1, false
	hi := lo
	for ; hi < len(b) && b[hi]>>refBits == k; hi++ {
		e := &p.entries[b[hi]&refMask].txid
		if *e == *h {
			self = true
			continue
		}
		best = max(best, commonPrefix(e, h))
	}
	if lo > 0 {
		best = max(best, commonPrefix(&p.entries[b[lo-1]&refMask].txid, h))
	}
	if hi < len(b) {
		best = max(best, commonPrefix(&p.entries[b[hi]&refMask].txid, h))
	}
	if best >= 0 {
		return best, self
	}
	others := p.idx.firstByte[h[0]]
	if self {
		others--
	}
	if others > 0 {
		return 1, self
	}
	return 0, self
}
