package mempool

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chainhash/v2"
)

// roundTrip encodes seq on the wire and decodes it again.
func roundTrip(t *testing.T, seq wire.HashSeq) wire.HashSeq {
	t.Helper()
	b := wire.AppendHashSeq(nil, &seq, false)
	r := wire.NewReader(b)
	got := wire.ReadHashSeq(r, false)
	if err := r.Done(); err != nil {
		t.Fatalf("ReadHashSeq: %v", err)
	}
	if !reflect.DeepEqual(got, seq) {
		t.Fatalf("round trip changed the sequence:\n got %+v\nwant %+v", got, seq)
	}
	return got
}

// uniqueIn returns the length of the shortest prefix of h no other hash of
// the sets shares.
func uniqueIn(h chainhash.Hash, sets ...[]chainhash.Hash) int {
	l := 0
	for _, set := range sets {
		for _, o := range set {
			if o != h {
				l = max(l, commonPrefix(&o, &h))
			}
		}
	}
	return min(l+1, chainhash.HashSize)
}

func TestEncodeProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for iter := range 40 {
		pool := clusteredHashes(rng, 200+rng.IntN(2000))
		n := 1 + rng.IntN(700)
		block := make([]chainhash.Hash, n)
		known := make([]bool, n)
		for i := range block {
			if rng.IntN(10) < 8 {
				block[i] = pool[rng.IntN(len(pool))]
				known[i] = rng.IntN(20) > 0
			} else {
				fillRandom(rng, &block[i])
				if rng.IntN(3) == 0 && i > 0 { // a sibling prefix inside the block
					block[i] = withPrefix(rng, block[i-1], 2+rng.IntN(4))
				}
			}
		}
		block = dedupe(block)
		known = known[:len(block)]
		p := poolOf(t, pool)
		minSize := rng.IntN(5)
		enc, err := p.NewEncoder(block, known, minSize)
		if err != nil {
			t.Fatal(err)
		}
		if enc.Size() < clampSize(minSize) || enc.CollisionFreeSize() < clampSize(minSize) {
			t.Fatalf("iter %d: size %d below the minimum %d", iter, enc.Size(), minSize)
		}
		if rng.IntN(3) == 0 {
			enc = enc.WithSize(1 + rng.IntN(6))
		}
		var total SizeStats
		for start := 0; start < len(block); {
			count := min(1+rng.IntN(300), len(block)-start)
			seq, st, err := enc.EncodeLeaves(start, count)
			if err != nil {
				t.Fatal(err)
			}
			seq = roundTrip(t, seq)
			run := wire.Run{Level: 10, Start: uint32(start), Seq: seq}
			if got := len(wire.AppendRun(nil, &run, false)); got != st.RunBytes || st.SeqBytes != got-1-wire.VarintLen(uint64(start)) {
				t.Fatalf("RunBytes %d, SeqBytes %d; the run encodes in %d", st.RunBytes, st.SeqBytes, got)
			}
			if int(seq.DefaultSize) != st.DefaultSize {
				t.Fatalf("DefaultSize %d, stats say %d", seq.DefaultSize, st.DefaultSize)
			}
			for i, h := range seq.Hashes() {
				leaf := start + i
				id := block[leaf]
				if !bytes.HasPrefix(id[:], h) {
					t.Fatalf("leaf %d: %x is not a prefix of %v", leaf, h, id)
				}
				want := chainhash.HashSize
				if known[leaf] {
					want = max(enc.Size(), uniqueIn(id, pool, block))
				}
				if len(h) != want {
					t.Fatalf("iter %d leaf %d: size %d, want %d", iter, leaf, len(h), want)
				}
			}
			total.Add(st)
			start += count
		}
		if total.Leaves != len(block) || total.Known+total.Full != len(block) {
			t.Fatalf("stats %+v for %d leaves", total, len(block))
		}
	}
}

// dedupe drops repeated hashes, keeping the first.
func dedupe(hs []chainhash.Hash) []chainhash.Hash {
	seen := make(map[chainhash.Hash]bool, len(hs))
	out := hs[:0]
	for _, h := range hs {
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}

func TestEncodeCraftedCollisions(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	block := randomHashes(8, 15)
	share2 := withPrefix(rng, block[3], 2) // shares exactly 2 bytes
	share3 := withPrefix(rng, block[5], 3) // shares exactly 3 bytes
	inBlock := withPrefix(rng, block[6], 4)
	block = append(block, inBlock) // leaf 8 shares 4 bytes with leaf 6
	p := poolOf(t, block, []chainhash.Hash{share2, share3})
	enc, err := p.NewEncoder(block, nil, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		size int
		want []wire.Exception
	}{
		{2, []wire.Exception{{Index: 3, Size: 3}, {Index: 5, Size: 4}, {Index: 6, Size: 5}, {Index: 8, Size: 5}}},
		{3, []wire.Exception{{Index: 5, Size: 4}, {Index: 6, Size: 5}, {Index: 8, Size: 5}}},
		{4, []wire.Exception{{Index: 6, Size: 5}, {Index: 8, Size: 5}}},
		{5, nil},
	} {
		seq, st, err := enc.WithSize(tc.size).EncodeLeaves(0, len(block))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(seq.Exceptions, tc.want) || st.Lengthened != len(tc.want) {
			t.Errorf("size %d: exceptions %v (%d lengthened), want %v", tc.size, seq.Exceptions, st.Lengthened, tc.want)
		}
		roundTrip(t, seq)
	}
	if got := enc.CollisionFreeSize(); got != 5 {
		t.Errorf("CollisionFreeSize = %d, want 5", got)
	}
}

func TestEncodeUnknownLeaves(t *testing.T) {
	block := randomHashes(100, 16)
	p := poolOf(t, block[:30])
	seq, st, err := p.EncodeLeaves(block, nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Most leaves are unknown, so 32 is the run's default and the known
	// ones are the exceptions.
	if seq.DefaultSize != 32 || len(seq.Exceptions) != 30 || st.Known != 30 || st.Full != 70 {
		t.Fatalf("default %d, %d exceptions, stats %+v", seq.DefaultSize, len(seq.Exceptions), st)
	}
	if st.KnownBytes() != st.RunBytes-70*32 {
		t.Fatalf("KnownBytes %d", st.KnownBytes())
	}
	roundTrip(t, seq)
}

func TestShortSize(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	hs := randomHashes(16400, 19)
	tests := []struct {
		name    string
		pool    int
		minSize int
		want    int
	}{
		{"empty pool", 0, 2, 2},
		{"min 0 means 2", 0, 0, 2},
		{"min 1, tiny pool", 3, 1, 1},
		{"min 1, crowded at 1 byte", 65, 1, 2},
		{"16,384 entries: no margin", 16384, 2, 2},
		{"16,385 entries: margin", 16385, 2, 3},
		{"min 40 clamps", 10, 40, 32},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := poolOf(t, hs[:tc.pool])
			block := []chainhash.Hash{withPrefix(rng, chainhash.Hash{0xaa}, 1)}
			if tc.pool > 0 {
				block = append(block, hs[0])
			}
			if got := p.ShortSize(block, tc.minSize); got != tc.want {
				t.Fatalf("ShortSize = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestEncodeBadInput(t *testing.T) {
	p := New()
	block := randomHashes(10, 20)
	if _, err := p.NewEncoder(nil, nil, 2); !errors.Is(err, ErrBadInput) {
		t.Errorf("empty block: %v", err)
	}
	if _, err := p.NewEncoder(block, make([]bool, 9), 2); !errors.Is(err, ErrBadInput) {
		t.Errorf("short known: %v", err)
	}
	enc, err := p.NewEncoder(block, nil, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range [][2]int{{-1, 2}, {0, 0}, {9, 2}, {0, 11}} {
		if _, _, err := enc.EncodeLeaves(r[0], r[1]); !errors.Is(err, ErrBadInput) {
			t.Errorf("EncodeLeaves(%d, %d): %v", r[0], r[1], err)
		}
	}
}
