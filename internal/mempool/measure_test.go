package mempool

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chainhash/v2"
)

// The measurements below log the figures quoted in doc.go. They use random
// txids, which is what SHA-256d txids look like, and fail only when a
// figure leaves the range the package documentation promises.

// skipMeasure skips a measurement in -short mode and under the race
// detector.
func skipMeasure(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("measurement: skipped in -short mode and under -race")
	}
}

// bigN is the mempool size of the measurements: a full 300 MB mempool.
const bigN = 300_000

// bigIDs are the txids of the measurement mempool, in arrival order.
var bigIDs = sync.OnceValue(func() []chainhash.Hash { return randomHashes(bigN, 0xb17) })

// blockFrom returns a block of n leaves: a coinbase nobody had, then n-1
// distinct txids drawn from pool.
func blockFrom(rng *rand.Rand, pool []chainhash.Hash, n int) []chainhash.Hash {
	block := make([]chainhash.Hash, 1, n)
	fillRandom(rng, &block[0])
	for _, i := range rng.Perm(len(pool))[:n-1] {
		block = append(block, pool[i])
	}
	return block
}

// encodeBlock encodes block in flat runs of up to 1,024 leaves and returns
// the totals.
func encodeBlock(t testing.TB, enc *Encoder) SizeStats {
	t.Helper()
	var total SizeStats
	for start := 0; start < enc.Len(); start += 1024 {
		_, st, err := enc.EncodeLeaves(start, min(1024, enc.Len()-start))
		if err != nil {
			t.Fatal(err)
		}
		total.Add(st)
	}
	return total
}

func TestMeasureBytesPerKnownTx(t *testing.T) {
	skipMeasure(t)
	ids := bigIDs()
	rng := rand.New(rand.NewPCG(41, 42))
	checkpoints := []int{20_000, 50_000, 262_144, bigN}
	blocks := []int{2_000, 10_000}
	p := New()
	added := 0
	var b strings.Builder
	fmt.Fprintf(&b, "\n%8s %6s | %-22s | %s\n", "mempool", "block", "§8 size: bytes/known", "bytes/known at size 2, 3, 4 | collision-free size | lengthened at 3")
	for _, n := range checkpoints {
		addHashes(t, p, ids[added:n])
		added = n
		for _, bn := range blocks {
			block := blockFrom(rng, ids[:n], bn)
			enc, err := p.NewEncoder(block, nil, 2)
			if err != nil {
				t.Fatal(err)
			}
			per := func(e *Encoder) (float64, SizeStats) {
				st := encodeBlock(t, e)
				if st.Known != bn-1 || st.Full != 1 {
					t.Fatalf("stats %+v", st)
				}
				return float64(st.KnownBytes()) / float64(st.Known), st
			}
			s8, _ := per(enc)
			at2, _ := per(enc.WithSize(2))
			at3, st3 := per(enc.WithSize(3))
			at4, _ := per(enc.WithSize(4))
			fmt.Fprintf(&b, "%8d %6d | size %d: %5.3f         | %5.3f %5.3f %5.3f | %d | %d\n",
				n, bn, enc.Size(), s8, at2, at3, at4, enc.CollisionFreeSize(), st3.Lengthened)
			if n == bigN {
				// 300,000 entries stay under 2^24/4, so §8's rule keeps
				// 3 bytes, and lengthened collisions stay near 3.
				if enc.Size() != 3 || s8 > 3.1 || at3 > 3.1 {
					t.Errorf("mempool %d, block %d: size %d, %.3f bytes/known (%.3f at size 3)", n, bn, enc.Size(), s8, at3)
				}
			}
		}
	}
	t.Log(b.String())
}

// outcome counts what a receiver makes of a block's groups.
type outcome struct {
	groups    int
	clean     int // verified at once, no leaf ambiguous
	merkle    int // verified at once, the merkle check chose among candidates
	fetch     int // verified after fetching the listed leaves' full hashes
	refetch   int // every short leaf had to be fetched again as a full hash
	ambLeaves int // short leaves with several candidates
	short     int // short leaves
	known     int // leaves the sender sent short
	extra     int // bytes of full hashes fetched afterwards
}

func (o outcome) String() string {
	pct := func(a, b int) float64 { return 100 * float64(a) / float64(max(b, 1)) }
	return fmt.Sprintf("amb %6.2f%% | clean %5.1f%% merkle %5.1f%% fetch %5.1f%% refetch %5.1f%% | +%.3f B/known",
		pct(o.ambLeaves, o.short), pct(o.clean, o.groups), pct(o.merkle, o.groups),
		pct(o.fetch, o.groups), pct(o.refetch, o.groups), float64(o.extra)/float64(max(o.known, 1)))
}

// seqWithSizes builds the sequence of leaves with the given sizes.
func seqWithSizes(leaves []chainhash.Hash, sizes []int, def int) wire.HashSeq {
	seq := wire.HashSeq{Count: len(leaves), DefaultSize: uint8(def)}
	for i, h := range leaves {
		if sizes[i] != def {
			seq.Exceptions = append(seq.Exceptions, wire.Exception{Index: i, Size: uint8(sizes[i])})
		}
		seq.Data = append(seq.Data, h[:sizes[i]]...)
	}
	return seq
}

// simulate sends block to receiver in groups of 2^height leaves, each
// with the sizes sizeOf gives, and classifies the groups. A group left
// unresolved is sent again with the listed leaves as full hashes, as a
// receiver asks for them, and then it must verify.
func simulate(t testing.TB, receiver *Pool, block []chainhash.Hash, height int, sizeOf func(leaf int) int) outcome {
	t.Helper()
	var o outcome
	for _, g := range groupsOf(block, height) {
		leaves := block[g.first : g.first+g.n]
		sizes := make([]int, g.n)
		shorts, amb := 0, false
		for i := range sizes {
			sizes[i] = sizeOf(g.first + i)
			if g.first+i > 0 {
				o.known++
			}
			if sizes[i] < chainhash.HashSize {
				shorts++
				if len(receiver.Candidates(leaves[i][:sizes[i]], 2)) > 1 {
					o.ambLeaves++
					amb = true
				}
			}
		}
		o.short += shorts
		o.groups++
		def := sizes[len(sizes)/2]
		resolve := func() []int {
			got, unresolved, err := resolveGroup(receiver, g, seqWithSizes(leaves, sizes, def))
			if err != nil {
				t.Fatal(err)
			}
			if unresolved == nil && !slices.Equal(got, leaves) {
				t.Fatal("resolved to the wrong txids")
			}
			for _, i := range unresolved {
				sizes[i] = chainhash.HashSize
				o.extra += chainhash.HashSize
			}
			return unresolved
		}
		u := resolve()
		switch {
		case u == nil && amb:
			o.merkle++
		case u == nil:
			o.clean++
		default:
			// Fetching the listed leaves settles the group unless a
			// stranger matched uniquely: then every short leaf is listed.
			refetch := len(u) == shorts
			for round := 0; u != nil; round++ {
				if round == 3 {
					t.Fatalf("group %v unresolved after fetching every leaf: %v", g.parent, u)
				}
				if u = resolve(); u != nil {
					refetch = true
				}
			}
			if refetch {
				o.refetch++
			} else {
				o.fetch++
			}
		}
	}
	return o
}

func TestMeasureReceiverResolution(t *testing.T) {
	skipMeasure(t)
	ids := bigIDs()
	rng := rand.New(rand.NewPCG(43, 44))
	var b strings.Builder
	fmt.Fprintf(&b, "\nA block of 10,000 (2,000 for the small mempool; leaf 0 an unknown coinbase) drawn from the sender's mempool. The receiver holds the sender's mempool plus extra transactions, and in the second line of each pair lacks 0.5%% of the block.\n")
	fmt.Fprintf(&b, "amb: short leaves with several candidates; groups verified at once (clean, or merkle when the check chose), after fetching the listed leaves (fetch), or after refetching every short leaf (refetch); +B/known: full hashes fetched afterwards\n")
	for _, sc := range []struct{ n, extra int }{{4_000, 200}, {50_000, 2_500}, {bigN, 15_000}, {bigN, 150_000}} {
		n := sc.n
		sender := poolOf(t, ids[:n])
		block := blockFrom(rng, ids[:n], min(10_000, n/2))
		receiver := poolOf(t, ids[:n], randomHashes(sc.extra, uint64(sc.extra)))
		enc, err := sender.NewEncoder(block, nil, 2)
		if err != nil {
			t.Fatal(err)
		}
		var lack []chainhash.Hash
		for range len(block) / 200 {
			lack = append(lack, block[1+rng.IntN(len(block)-1)])
		}
		type mode struct {
			name string
			size func(int) int
		}
		modes := []mode{{"2 uniform", func(i int) int {
			if i == 0 {
				return chainhash.HashSize
			}
			return 2
		}}}
		for _, s := range []int{2, 3, 4} {
			name := fmt.Sprint(s)
			if s == enc.Size() {
				name += " (§8)"
			}
			modes = append(modes, mode{name, enc.WithSize(s).leafSize})
		}
		for _, lacking := range []bool{false, true} {
			if lacking {
				receiver.RemoveBlock(lack)
			}
			for _, m := range modes {
				for _, h := range []int{5, 10} {
					o := simulate(t, receiver, block, h, m.size)
					fmt.Fprintf(&b, "mempool %6d +%6d lacks %-5v size %-9s groups %4d: %v\n", n, sc.extra, lacking, m.name, 1<<h, o)
				}
			}
		}
	}
	t.Log(b.String())
}

func TestMeasureIndex(t *testing.T) {
	skipMeasure(t)
	ids := bigIDs()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	p := poolOf(t, ids)
	runtime.GC()
	runtime.ReadMemStats(&after)
	perEntry := float64(after.HeapAlloc-before.HeapAlloc) / bigN
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d transactions: %.1f bytes per entry besides the serialization (EntryOverhead %d)\n", bigN, perEntry, EntryOverhead)
	if perEntry > EntryOverhead {
		t.Errorf("%.1f bytes per entry exceed EntryOverhead %d", perEntry, EntryOverhead)
	}
	rng := rand.New(rand.NewPCG(45, 46))
	var buf []chainhash.Hash
	for _, l := range []int{1, 2, 3, 4, 6, 8, 32} {
		const lookups = 50_000
		found := 0
		t0 := time.Now()
		for range lookups {
			h := &ids[rng.IntN(len(ids))]
			buf = p.AppendCandidates(buf[:0], h[:l], 1024)
			found += len(buf)
		}
		el := time.Since(t0)
		fmt.Fprintf(&b, "prefix %2d bytes: %6.0f ns per lookup, %.3f candidates\n", l, float64(el.Nanoseconds())/lookups, float64(found)/lookups)
	}
	t.Log(b.String())
	runtime.KeepAlive(p)
}
