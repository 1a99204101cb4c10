package treestate

import "math/bits"

// bitset is a fixed-size set of small integers, one bit each, 64 to a word.
// Bits at or above the size it was made for are never set, so scans may
// treat the unused tail of the last word as clear.
type bitset []uint64

// newBitset returns an empty bitset for the integers 0..n-1.
func newBitset(n uint32) bitset { return make(bitset, (uint64(n)+63)/64) }

// has reports whether i is in the set.
func (b bitset) has(i uint32) bool { return b[i>>6]&(1<<(i&63)) != 0 }

// set adds i and reports whether it was absent.
func (b bitset) set(i uint32) bool {
	w, m := &b[i>>6], uint64(1)<<(i&63)
	if *w&m != 0 {
		return false
	}
	*w |= m
	return true
}

// unset removes i.
func (b bitset) unset(i uint32) { b[i>>6] &^= 1 << (i & 63) }

// setRange adds the integers lo..hi-1.
func (b bitset) setRange(lo, hi uint32) {
	if lo >= hi {
		return
	}
	first, last := lo>>6, (hi-1)>>6
	lm := ^uint64(0) << (lo & 63)
	hm := ^uint64(0) >> (63 - ((hi - 1) & 63))
	if first == last {
		b[first] |= lm & hm
		return
	}
	b[first] |= lm
	for k := first + 1; k < last; k++ {
		b[k] = ^uint64(0)
	}
	b[last] |= hm
}

// count returns the number of integers in the set.
func (b bitset) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// next returns the first i in [from, hi) whose bit in a &^ sub equals want,
// or hi if there is none. sub may be nil (the empty set). Whole words are
// skipped at a time, so a scan over a long run costs one step per 64 bits.
func next(a, sub bitset, from, hi uint32, want bool) uint32 {
	if from >= hi {
		return hi
	}
	k := int(from >> 6)
	w := word(a, sub, k, want) & (^uint64(0) << (from & 63))
	for w == 0 {
		k++
		if uint64(k)<<6 >= uint64(hi) {
			return hi
		}
		w = word(a, sub, k, want)
	}
	return min(uint32(k)<<6+uint32(bits.TrailingZeros64(w)), hi)
}

// word returns word k of a &^ sub, complemented when want is false.
func word(a, sub bitset, k int, want bool) uint64 {
	w := a[k]
	if sub != nil {
		w &^= sub[k]
	}
	if !want {
		w = ^w
	}
	return w
}

// nextSet returns the first member of b in [from, hi), or hi.
func (b bitset) nextSet(from, hi uint32) uint32 { return next(b, nil, from, hi, true) }

// nextClear returns the first non-member of b in [from, hi), or hi.
func (b bitset) nextClear(from, hi uint32) uint32 { return next(b, nil, from, hi, false) }

// allSet reports whether every integer in [lo, hi) is in the set.
func (b bitset) allSet(lo, hi uint32) bool { return b.nextClear(lo, hi) == hi }

// runs appends to out, for the level given, the maximal runs of integers
// in [0, n) that are in a and not in sub (nil meaning empty), cut into
// pieces of at most MaxRangeCount.
func runs(out []Range, a, sub bitset, n uint32, level uint8) []Range {
	for i := uint32(0); i < n; {
		lo := next(a, sub, i, n, true)
		if lo == n {
			break
		}
		hi := next(a, sub, lo, n, false)
		for s := lo; s < hi; s += MaxRangeCount {
			out = append(out, Range{Level: level, Start: s, Count: min(hi-s, MaxRangeCount)})
		}
		i = hi
	}
	return out
}
