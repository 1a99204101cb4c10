package mempool

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
)

// clusteredHashes returns random hashes plus groups that share prefixes of
// every length from 1 to 31 bytes, so that lookups meet ties in the packed
// keys and beyond them.
func clusteredHashes(rng *rand.Rand, n int) []chainhash.Hash {
	hs := randomHashes(n, rng.Uint64())
	for l := 1; l < chainhash.HashSize; l++ {
		base := hs[rng.IntN(len(hs))]
		for range 1 + rng.IntN(3) {
			hs = append(hs, withPrefix(rng, base, l))
		}
	}
	return hs
}

// bruteCandidates returns the hashes of all that start with prefix.
func bruteCandidates(all []chainhash.Hash, prefix []byte) []chainhash.Hash {
	var out []chainhash.Hash
	for _, h := range all {
		if bytes.HasPrefix(h[:], prefix) {
			out = append(out, h)
		}
	}
	return out
}

func sortedHashes(hs []chainhash.Hash) []chainhash.Hash {
	hs = slices.Clone(hs)
	slices.SortFunc(hs, func(a, b chainhash.Hash) int { return compareHash(&a, &b) })
	return hs
}

func TestCandidatesAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	all := clusteredHashes(rng, 3000)
	p := poolOf(t, all)
	check := func(all []chainhash.Hash) {
		t.Helper()
		for range 3000 {
			var prefix []byte
			l := 1 + rng.IntN(chainhash.HashSize)
			if rng.IntN(4) == 0 {
				var h chainhash.Hash
				fillRandom(rng, &h)
				prefix = h[:l]
			} else {
				h := all[rng.IntN(len(all))]
				prefix = h[:l]
			}
			want := bruteCandidates(all, prefix)
			got := p.Candidates(prefix, len(all)+1)
			if !slices.Equal(sortedHashes(got), sortedHashes(want)) {
				t.Fatalf("Candidates(%x) = %d hashes, want %d", prefix, len(got), len(want))
			}
			if len(want) > 1 {
				if got := p.Candidates(prefix, len(want)-1); len(got) != len(want)-1 {
					t.Fatalf("Candidates(%x, %d) = %d hashes", prefix, len(want)-1, len(got))
				}
			}
		}
	}
	check(all)

	// Remove a third and check again.
	var kept, gone []chainhash.Hash
	for i, h := range all {
		if i%3 == 0 {
			gone = append(gone, h)
		} else {
			kept = append(kept, h)
		}
	}
	p.RemoveBlock(gone)
	check(kept)
}

func TestCandidatesEdges(t *testing.T) {
	var lo, hi chainhash.Hash
	for i := range hi {
		hi[i] = 0xff
	}
	p := poolOf(t, []chainhash.Hash{lo, hi})
	tests := []struct {
		prefix []byte
		max    int
		want   int
	}{
		{nil, 10, 0},
		{make([]byte, 33), 10, 0},
		{[]byte{0}, 0, 0},
		{[]byte{0}, 10, 1},
		{[]byte{0xff}, 10, 1},
		{[]byte{0xff, 0xff}, 10, 1},
		{hi[:7], 10, 1},
		{hi[:8], 10, 1},
		{hi[:], 10, 1},
		{lo[:], 10, 1},
		{[]byte{0xff, 0xfe}, 10, 0},
		{[]byte{0x7f}, 10, 0},
	}
	for _, tc := range tests {
		if got := p.Candidates(tc.prefix, tc.max); len(got) != tc.want {
			t.Errorf("Candidates(%x, %d) = %v, want %d hashes", tc.prefix, tc.max, got, tc.want)
		}
	}
	if got := New().Candidates([]byte{1, 2, 3}, 5); got != nil {
		t.Errorf("empty pool: %v", got)
	}
}

func TestPoolLCPAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	all := clusteredHashes(rng, 2000)
	p := poolOf(t, all)
	probes := append(slices.Clone(all[:500]), all[len(all)-100:]...)
	probes = append(probes, randomHashes(300, 9)...)
	probes = append(probes, withPrefix(rng, all[0], 1), withPrefix(rng, all[1], 9))
	for _, h := range probes {
		want := 0
		for _, o := range all {
			if o != h {
				want = max(want, commonPrefix(&o, &h))
			}
		}
		if got, held := p.poolLCP(&h); got != want || held != slices.Contains(all, h) {
			t.Fatalf("poolLCP(%x) = %d, %v; want %d", h[:8], got, held, want)
		}
	}
	if got, held := New().poolLCP(&all[0]); got != 0 || held {
		t.Fatalf("empty pool: %d, %v", got, held)
	}
}
