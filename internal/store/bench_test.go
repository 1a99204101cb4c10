package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// benchChains caches generated chains across the benchmark's runs.
var benchChains = map[[2]int][]*btcwire.MsgBlock{}

// benchChain returns a chain of at least n blocks of txs transactions.
func benchChain(b *testing.B, n, txs int) []*btcwire.MsgBlock {
	key := [2]int{txs, 0}
	if c := benchChains[key]; len(c) >= n {
		return c[:n]
	}
	c := chain(b, *regtest.GenesisHash, 0, n, 99, txs)
	benchChains[key] = c
	return c
}

func reportRate(b *testing.B, blocks int, bytes int64) {
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(blocks)/secs, "blocks/s")
	b.ReportMetric(float64(bytes)/1e6/secs, "MB/s")
}

// BenchmarkPut stores one block per Put: one fsync of the block file and
// one bbolt commit each.
func BenchmarkPut(b *testing.B) {
	for _, txs := range []int{1, 250, 2500} {
		b.Run(fmt.Sprintf("txs=%d", txs), func(b *testing.B) {
			blks := benchChain(b, b.N, txs)
			var size int64
			for _, blk := range blks {
				size += int64(blk.SerializeSize())
			}
			s := openTest(b, b.TempDir(), regtest, Options{})
			b.ResetTimer()
			for _, blk := range blks {
				if _, err := s.Put(blk); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportRate(b, b.N, size)
		})
	}
}

// BenchmarkPutBatch stores blocks 100 to a PutBatch.
func BenchmarkPutBatch(b *testing.B) {
	const batch = 100
	for _, txs := range []int{1, 250} {
		b.Run(fmt.Sprintf("txs=%d", txs), func(b *testing.B) {
			blks := benchChain(b, b.N, txs)
			var size int64
			for _, blk := range blks {
				size += int64(blk.SerializeSize())
			}
			s := openTest(b, b.TempDir(), regtest, Options{})
			b.ResetTimer()
			for i := 0; i < len(blks); i += batch {
				if _, err := s.PutBatch(blks[i:min(i+batch, len(blks))]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportRate(b, b.N, size)
		})
	}
}

// BenchmarkImportMainnet imports btcd's mainnet blocks 0 to 14131 (small
// early blocks: the cost per block) into a new store per iteration. MB/s
// counts record bytes, not the file's zero padding.
func BenchmarkImportMainnet(b *testing.B) {
	data, err := os.ReadFile(mainnetFile(b))
	if err != nil {
		b.Fatal(err)
	}
	params := &chaincfg.MainNetParams
	var recBytes int64
	for rr := newRecordReader(bytes.NewReader(data), uint32(params.Net)); ; {
		raw, _, err := rr.next()
		if err != nil {
			break
		}
		recBytes += int64(recordPrefix + len(raw))
	}
	benchImport(b, params, data, recBytes)
}

// BenchmarkImportLarge imports 64 generated regtest blocks of about 1 MB
// (2,500 transactions) per iteration: the cost per byte.
func BenchmarkImportLarge(b *testing.B) {
	blks := chain(b, *regtest.GenesisHash, 0, 64, 98, 2500)
	var stream bytes.Buffer
	for _, blk := range blks {
		var raw bytes.Buffer
		blk.Serialize(&raw)
		writeRecord(&stream, uint32(regtest.Net), raw.Bytes())
	}
	benchImport(b, regtest, stream.Bytes(), int64(stream.Len()))
}

func benchImport(b *testing.B, params *chaincfg.Params, data []byte, recBytes int64) {
	blocks := 0
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		s := openTest(b, b.TempDir(), params, Options{})
		b.StartTimer()
		n, err := Import(context.Background(), s, bytes.NewReader(data), uint32(params.Net), nil)
		if err != nil {
			b.Fatal(err)
		}
		blocks += n
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	b.StopTimer()
	reportRate(b, blocks, recBytes*int64(b.N))
}
