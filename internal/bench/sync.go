package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/blockgen"
	"github.com/blocktorrent/blocktorrent/internal/lab"
	"github.com/blocktorrent/blocktorrent/internal/linkemu"
	"github.com/blocktorrent/blocktorrent/internal/node"
	"github.com/blocktorrent/blocktorrent/internal/store"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// SyncName is the chain-download scenario: a fresh node syncs a chain from
// 8 peers and, in the same run, from 1 peer, over equal links.
const SyncName = "sync8"

// SyncResult is the sync8 scenario's outcome (the "sync" field of its JSON
// record).
type SyncResult struct {
	Blocks     int     `json:"blocks"`
	ChainBytes int     `json:"chain_bytes"`
	LinkMbit   float64 `json:"link_mbit"`
	OnePeerMs  float64 `json:"one_peer_ms"`
	EightMs    float64 `json:"eight_peers_ms"`
	Speedup    float64 `json:"speedup"`
	// Fraction is the download rate over the peers' aggregate link rate.
	OneFraction   float64 `json:"one_peer_fraction"`
	EightFraction float64 `json:"eight_peers_fraction"`
}

// syncShape is the chain and links of sync8.
func syncShape(quick bool) (blocks, txs int, p linkemu.Profile) {
	p = linkemu.Profile{Delay: 10 * time.Millisecond, RateBps: 20e6}
	if quick {
		return 30, 500, p
	}
	return 120, 1000, p
}

// RunSync runs sync8 and reports it as a ScenarioResult.
func RunSync(ctx context.Context, w io.Writer, quick bool) (ScenarioResult, error) {
	blocks, txs, p := syncShape(quick)
	dir, err := os.MkdirTemp("", "blocktorrent-sync8-")
	if err != nil {
		return ScenarioResult{}, err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(w, "\n%s: a fresh node syncs %d blocks of %d transactions from 8 peers, then from 1 peer; every link %v one way, %s\n",
		SyncName, blocks, txs, p.Delay, mbit(p.RateBps))
	tip, size, err := makeChain(filepath.Join(dir, "template"), blocks, txs)
	if err != nil {
		return ScenarioResult{}, err
	}
	servers := make([]string, 8)
	for i := range servers {
		servers[i] = filepath.Join(dir, fmt.Sprintf("server%d", i))
		if err := os.CopyFS(servers[i], os.DirFS(filepath.Join(dir, "template"))); err != nil {
			return ScenarioResult{}, err
		}
	}
	eight, err := timeSync(ctx, servers, filepath.Join(dir, "fresh8"), tip, p, 245)
	if err != nil {
		return ScenarioResult{}, err
	}
	one, err := timeSync(ctx, servers[:1], filepath.Join(dir, "fresh1"), tip, p, 246)
	if err != nil {
		return ScenarioResult{}, err
	}
	rate := float64(p.RateBps)
	sr := &SyncResult{
		Blocks: blocks, ChainBytes: size, LinkMbit: rate / 1e6,
		OnePeerMs: ms(one), EightMs: ms(eight), Speedup: one.Seconds() / eight.Seconds(),
		OneFraction:   float64(size) * 8 / one.Seconds() / rate,
		EightFraction: float64(size) * 8 / eight.Seconds() / (8 * rate),
	}
	fmt.Fprintf(w, "  1 peer: %v (%.0f%% of the link)   8 peers: %v (%.0f%% of the 8 links)   speed-up %.2f×\n",
		one.Round(time.Millisecond), 100*sr.OneFraction, eight.Round(time.Millisecond), 100*sr.EightFraction, sr.Speedup)
	limit := p.Delay + time.Duration(float64(size)*8/(8*rate)*float64(time.Second))
	max8 := ms(eight)
	return ScenarioResult{
		Scenario: SyncName, BlockBytes: size, Txs: blocks * txs, LimitMs: ms(limit),
		Title: fmt.Sprintf("fresh node syncs %d blocks (%.1f MB) from 8 peers vs 1", blocks, float64(size)/1e6),
		Results: []ProtocolResult{{
			Protocol: ProtoBlocktorrent, P50Ms: &max8, P90Ms: &max8, MaxMs: &max8, Complete: 1,
		}},
		Sync: sr,
	}, nil
}

// makeChain writes a chain of blocks regtest blocks into a store at dir and
// returns its tip and size in bytes.
func makeChain(dir string, blocks, txs int) (chainhash.Hash, int, error) {
	st, err := store.Open(dir, &chaincfg.RegressionNetParams)
	if err != nil {
		return chainhash.Hash{}, 0, err
	}
	defer st.Close()
	prev := *chaincfg.RegressionNetParams.GenesisHash
	size := 0
	batch := make([]*btcwire.MsgBlock, 0, 20)
	for h := 1; h <= blocks; h++ {
		blk, err := blockgen.Block(blockgen.Config{Txs: txs, Seed: uint64(h), Prev: prev, Height: int32(h)})
		if err != nil {
			return chainhash.Hash{}, 0, err
		}
		batch = append(batch, blk)
		prev = blk.BlockHash()
		size += blk.SerializeSize()
		if len(batch) == cap(batch) || h == blocks {
			if _, err := st.PutBatch(batch); err != nil {
				return chainhash.Hash{}, 0, err
			}
			batch = batch[:0]
		}
	}
	return prev, size, nil
}

// timeSync starts the serving nodes and a fresh node linked to each of
// them and returns how long the fresh node took to reach tip, handshakes
// included (the download starts as soon as the sessions are up).
func timeSync(ctx context.Context, servers []string, fresh string, tip chainhash.Hash, p linkemu.Profile, subnet byte) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, ScenarioBudget)
	defer cancel()
	dirs := append(append([]string{}, servers...), fresh)
	f := len(servers)
	var links []lab.Link
	for i := range servers {
		links = append(links, lab.Link{A: i, B: f, Profile: p})
	}
	start := time.Now()
	net, err := lab.Start(ctx, len(dirs), links, lab.Options{Subnet: subnet, Configure: func(i int, cfg *node.Config) {
		cfg.Network = "regtest"
		cfg.DataDir = dirs[i]
	}})
	if err != nil {
		return 0, err
	}
	defer net.Close()
	for {
		if best, _, _ := net.Nodes[f].Tip(); best == tip {
			return time.Since(start), nil
		}
		if ctx.Err() != nil {
			_, h, _ := net.Nodes[f].Tip()
			return 0, fmt.Errorf("bench: %s: the fresh node reached height %d only", SyncName, h)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
