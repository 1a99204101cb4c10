package job

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/blockgen"
	"github.com/blocktorrent/blocktorrent/internal/mempool"
	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chaincfg/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// TestWarmRelay relays a block along a line of engines whose mempools
// already hold most of its transactions. Known transactions must cross as
// short hashes (≤ 3 bytes each on average, counted) with their bodies
// taken from the mempool; when every transaction is known no body is
// requested at all.
func TestWarmRelay(t *testing.T) {
	tests := []struct {
		name  string
		known float64 // fraction of non-coinbase txs in every mempool
		txs   int
	}{
		{"all known", 1, 2000},
		{"99% known", 0.99, 2000},
		{"half known", 0.5, 600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				blk, err := blockgen.Block(blockgen.Config{Txs: tt.txs, Seed: 5, Prev: *chaincfg.RegressionNetParams.GenesisHash, Height: 1})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				const hops = 3
				got := make(chan *btcwire.MsgBlock, hops)
				rng := rand.New(rand.NewPCG(9, 9))
				known := make([]bool, tt.txs)
				for i := 1; i < tt.txs; i++ {
					known[i] = rng.Float64() < tt.known
				}
				engines := make([]*Engine, hops+1)
				for i := range engines {
					pool := mempool.New()
					for k, tx := range blk.Transactions {
						if known[k] {
							if _, err := pool.Add(tx); err != nil {
								t.Fatal(err)
							}
						}
					}
					local := wire.DefaultSetParams()
					local.MaxUnsolicited = wire.NoLimit
					engines[i] = New(Config{
						PowLimit: chaincfg.RegressionNetParams.PowLimit, Local: local, Push: true,
						Log: slog.New(slog.DiscardHandler), Mempool: pool,
						OnBlock: func(b *btcwire.MsgBlock) { got <- b },
					})
					go engines[i].Run(ctx)
				}
				for i := 0; i < hops; i++ {
					p, q := connect(engines[i], engines[i+1], PeerID(100+i), PeerID(200+i), 10*time.Millisecond, 50e6/8, 0, uint64(i))
					p.short, q.short = true, true
				}
				if err := engines[0].Submit(blk); err != nil {
					t.Fatal(err)
				}
				waitBlocks(t, got, hops, blk)
				nknown := 0
				for _, k := range known {
					if k {
						nknown++
					}
				}
				for i := 1; i <= hops; i++ {
					st, err := engines[i].Status(ctx)
					if err != nil {
						t.Fatal(err)
					}
					js := st[0]
					per := float64(js.ShortBytes) / float64(max(js.ShortLeaves, 1))
					t.Logf("engine %d: %d bodies from mempool of %d known, %d leaves by short hash at %.2f bytes each, %d bytes in, %d body requests",
						i, js.FromMempool, nknown, js.ShortLeaves, per, js.BytesIn, js.BodyRequests)
					if js.FromMempool != nknown {
						t.Errorf("engine %d took %d bodies from its mempool, want %d", i, js.FromMempool, nknown)
					}
					// With most leaves known a known transaction costs at
					// most 3 bytes; with half unknown the known ones go as
					// exceptions in runs of full hashes and cost more.
					limit := 3.0
					if tt.known < 0.9 {
						limit = 5
					}
					if js.ShortLeaves < nknown*9/10 || per > limit {
						t.Errorf("engine %d: %d short leaves at %.2f bytes each", i, js.ShortLeaves, per)
					}
					if tt.known == 1 && js.BodyRequests != 0 {
						t.Errorf("engine %d requested %d body groups with every transaction known", i, js.BodyRequests)
					}
				}
				cancel()
			})
		})
	}
}
