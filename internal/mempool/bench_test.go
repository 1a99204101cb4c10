package mempool

import (
	"fmt"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
)

// benchPool returns a pool of the measurement mempool's 300,000 txids.
func benchPool(b *testing.B) *Pool {
	b.Helper()
	return poolOf(b, bigIDs())
}

func BenchmarkCandidates(b *testing.B) {
	p := benchPool(b)
	ids := bigIDs()
	for _, l := range []int{2, 3, 4, 6, 32} {
		b.Run(fmt.Sprintf("bytes=%d", l), func(b *testing.B) {
			var buf []chainhash.Hash
			i := 0
			for b.Loop() {
				buf = p.AppendCandidates(buf[:0], ids[i][:l], 16)
				if i++; i == len(ids) {
					i = 0
				}
			}
		})
	}
}

func BenchmarkAdd(b *testing.B) {
	ids := bigIDs()
	p := New()
	i := 0
	for b.Loop() {
		if _, err := p.insert(ids[i], fakeRaw); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(ids) {
			i = 0
			p = New()
		}
	}
}

func BenchmarkNewEncoder10k(b *testing.B) {
	p := benchPool(b)
	block := bigIDs()[:10_000]
	for b.Loop() {
		if _, err := p.NewEncoder(block, nil, 2); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResolve1024(b *testing.B) {
	p := benchPool(b)
	block := bigIDs()[:1024]
	g := groupsOf(block, 10)[0]
	enc, err := p.NewEncoder(block, nil, 2)
	if err != nil {
		b.Fatal(err)
	}
	seq, _, err := enc.WithSize(3).EncodeLeaves(0, len(block))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, u, err := resolveGroup(p, g, seq); err != nil || u != nil {
			b.Fatal(u, err)
		}
	}
}
