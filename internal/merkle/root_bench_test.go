package merkle

import (
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
)

// bench1M holds the transactions and txids shared by the sub-benchmarks of
// BenchmarkRoot1M; building them takes a few seconds, so it happens once.
var bench1M struct {
	once sync.Once
	txs  []*btcutil.Tx
	ids  []chainhash.Hash
}

func load1M() ([]*btcutil.Tx, []chainhash.Hash) {
	bench1M.once.Do(func() {
		bench1M.txs = makeTxs(1_000_000, 1)
		bench1M.ids = txids(bench1M.txs)
	})
	return bench1M.txs, bench1M.ids
}

// BenchmarkRoot1M computes the merkle root of 1,000,000 transactions with
// btcd's blockchain.BuildMerkleTreeStore, with Root, and with RootParallel on
// two workers; all three see the same txids (btcd's are cached in each
// btcutil.Tx before the timer starts, so only the tree is timed).
//
// The hardware sets the limit. A tree of n leaves has n-1 internal nodes
// (here 999,999; the odd rule adds a few more, which the bound ignores), and
// each one is a double SHA-256 of 64 bytes: three SHA-256 compressions. The
// sha256d-node sub-benchmark measures the time of one such node as the tree
// code computes it, on the fast path (the SHA-NI assembly of hash_amd64.s
// where the CPU has it, two independent nodes interleaved by hashPairs2):
// it hashes a level of 4,096 independent sibling pairs that stays in the
// cache, so its time per node is the throughput of the hashing alone, with
// none of the tree's bookkeeping or memory traffic. It reports
//
//	limit-ms = (n-1) x (ns per node from sha256d-node) / 2 cores / 1e6,
//
// the time RootParallel would take if both cores did nothing but hash. The
// sha256d-node-stdlib sub-benchmark does the same with the crypto/sha256
// path (two sha256.Sum256 calls per node, the fallback on other CPUs) and
// reports its own limit-ms for reference. sha256d-node also reports
// latency-ns, the time of one HashPair whose input depends on the previous
// one: a single double hash is one chain of 96 dependent SHA256RNDS2
// instructions, so it takes longer than the per-node time of independent
// nodes, which the CPU overlaps.
//
// On the 2-core development machine (AMD EPYC with SHA-NI) sha256d-node
// measures about 70-77 ns per node (latency-ns about 125), so limit-ms is
// about 37; sha256d-node-stdlib measures about 210 ns, a limit of about 105
// ms. The targets are for parallel to be at least 5 times as fast as btcd
// and within 1.3 times of the fast-path limit. Serial Root should take about
// twice that limit. btcd's own time varies from run to run with the garbage
// collector: it allocates three objects per node (about 240 MB per tree) next
// to a heap of a million transactions.
func BenchmarkRoot1M(b *testing.B) {
	txs, ids := load1M()
	want, _ := Root(ids)

	b.Run("btcd", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			store := blockchain.BuildMerkleTreeStore(txs, false)
			if *store[len(store)-1] != want {
				b.Fatal("btcd root differs")
			}
		}
	})
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if r, _ := Root(ids); r != want {
				b.Fatal("serial root differs")
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if r, _ := RootParallel(ids, 2); r != want {
				b.Fatal("parallel root differs")
			}
		}
	})
	// The node sub-benchmarks hash a level of nodePairs independent
	// sibling pairs (256 KiB of children, 128 KiB of parents, which stay
	// in the L2 cache) levelRounds times per iteration, for 65,536 nodes
	// per iteration: -benchtime 3x could not time a single node. They
	// override ns/op with the time per node.
	const nodePairs, levelRounds = 1 << 12, 16
	level := func(b *testing.B, hash func(dst, src []chainhash.Hash)) {
		b.ReportAllocs()
		src := ids[:2*nodePairs]
		dst := make([]chainhash.Hash, nodePairs)
		for b.Loop() {
			for range levelRounds {
				hash(dst, src)
			}
		}
		sink = dst[nodePairs-1]
		node := float64(b.Elapsed().Nanoseconds()) / float64(b.N*levelRounds*nodePairs)
		b.ReportMetric(node, "ns/op")
		b.ReportMetric(node*float64(len(ids)-1)/2/1e6, "limit-ms")
	}
	b.Run("sha256d-node", func(b *testing.B) {
		level(b, func(dst, src []chainhash.Hash) {
			for i := 0; i < len(dst); i += 2 {
				hashPairs2((*[2]chainhash.Hash)(dst[i:i+2]), (*[4]chainhash.Hash)(src[2*i:2*i+4]))
			}
		})
		// The latency of one HashPair: every input is the previous output.
		const chain = 1 << 14
		l, r := ids[0], ids[1]
		start := time.Now()
		for range chain {
			l = HashPair(&l, &r)
		}
		sink = l
		b.ReportMetric(float64(time.Since(start).Nanoseconds())/chain, "latency-ns")
	})
	b.Run("sha256d-node-stdlib", func(b *testing.B) {
		level(b, func(dst, src []chainhash.Hash) {
			for i := range dst {
				hashPairGeneric(&dst[i], &src[2*i], &src[2*i+1])
			}
		})
	})
}

// sink keeps the results of the node benchmarks alive.
var sink chainhash.Hash
