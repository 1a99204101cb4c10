package treestate

import (
	"math/rand/v2"
	"testing"
)

// TestBitset compares the bitset with a []bool under random operations.
func TestBitset(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []uint32{1, 2, 63, 64, 65, 127, 128, 129, 1000, 4097} {
		for range 20 {
			b, ref := newBitset(n), make([]bool, n)
			for range rng.IntN(8) {
				lo := rng.Uint32N(n)
				hi := lo + rng.Uint32N(n-lo+1)
				if rng.IntN(3) == 0 {
					hi = min(lo+1+rng.Uint32N(3), n)
				}
				b.setRange(lo, hi)
				for i := lo; i < hi; i++ {
					ref[i] = true
				}
			}
			i := rng.Uint32N(n)
			if b.set(i) == ref[i] {
				t.Fatalf("n=%d set(%d) result", n, i)
			}
			ref[i] = true
			cnt := 0
			for i := range n {
				if b.has(i) != ref[i] {
					t.Fatalf("n=%d has(%d)", n, i)
				}
				if ref[i] {
					cnt++
				}
			}
			if b.count() != cnt {
				t.Fatalf("n=%d count %d want %d", n, b.count(), cnt)
			}
			for range 50 {
				lo := rng.Uint32N(n + 1)
				hi := lo + rng.Uint32N(n-lo+1)
				ws, wc := hi, hi
				for i := hi; i > lo; i-- {
					if ref[i-1] {
						ws = i - 1
					} else {
						wc = i - 1
					}
				}
				if got := b.nextSet(lo, hi); got != ws {
					t.Fatalf("n=%d nextSet(%d,%d)=%d want %d", n, lo, hi, got, ws)
				}
				if got := b.nextClear(lo, hi); got != wc {
					t.Fatalf("n=%d nextClear(%d,%d)=%d want %d", n, lo, hi, got, wc)
				}
				if b.allSet(lo, hi) != (wc == hi) {
					t.Fatalf("n=%d allSet(%d,%d)", n, lo, hi)
				}
			}
		}
	}
}
