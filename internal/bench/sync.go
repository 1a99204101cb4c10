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
	// Fraction is the download rate over the peers' aggregate link rate,
	// from starting the network (handshakes and probes included).
	OneFraction   float64 `json:"one_peer_fraction"`
	EightFraction float64 `json:"eight_peers_fraction"`
	// DownloadFraction is the same over the download alone: from the
	// moment every session is up and measured to the tip, counting only
	// the blocks not yet written at that moment.
	OneDownloadFraction   float64 `json:"one_peer_download_fraction"`
	EightDownloadFraction float64 `json:"eight_peers_download_fraction"`
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
	tip, sizes, err := makeChain(filepath.Join(dir, "template"), blocks, txs)
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
	size := 0
	for _, n := range sizes {
		size += n
	}
	eight, err := timeSync(ctx, servers, filepath.Join(dir, "fresh8"), tip, sizes, p, 245)
	if err != nil {
		return ScenarioResult{}, err
	}
	one, err := timeSync(ctx, servers[:1], filepath.Join(dir, "fresh1"), tip, sizes, p, 246)
	if err != nil {
		return ScenarioResult{}, err
	}
	rate := float64(p.RateBps)
	dl := func(t syncTiming, peers int) float64 {
		return float64(t.rest) * 8 / t.download.Seconds() / (float64(peers) * rate)
	}
	sr := &SyncResult{
		Blocks: blocks, ChainBytes: size, LinkMbit: rate / 1e6,
		OnePeerMs: ms(one.total), EightMs: ms(eight.total), Speedup: one.total.Seconds() / eight.total.Seconds(),
		OneFraction:           float64(size) * 8 / one.total.Seconds() / rate,
		EightFraction:         float64(size) * 8 / eight.total.Seconds() / (8 * rate),
		OneDownloadFraction:   dl(one, 1),
		EightDownloadFraction: dl(eight, 8),
	}
	fmt.Fprintf(w, "  1 peer: %v (%.0f%% of the link; %.0f%% during the download)   8 peers: %v (%.0f%% of the 8 links; %.0f%% during the download)   speed-up %.2f×\n",
		one.total.Round(time.Millisecond), 100*sr.OneFraction, 100*sr.OneDownloadFraction,
		eight.total.Round(time.Millisecond), 100*sr.EightFraction, 100*sr.EightDownloadFraction, sr.Speedup)
	limit := p.Delay + time.Duration(float64(size)*8/(8*rate)*float64(time.Second))
	max8 := ms(eight.total)
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
// returns its tip and the size of each block (index 0 is height 1).
func makeChain(dir string, blocks, txs int) (chainhash.Hash, []int, error) {
	st, err := store.Open(dir, &chaincfg.RegressionNetParams)
	if err != nil {
		return chainhash.Hash{}, nil, err
	}
	defer st.Close()
	prev := *chaincfg.RegressionNetParams.GenesisHash
	var sizes []int
	batch := make([]*btcwire.MsgBlock, 0, 20)
	for h := 1; h <= blocks; h++ {
		blk, err := blockgen.Block(blockgen.Config{Txs: txs, Seed: uint64(h), Prev: prev, Height: int32(h)})
		if err != nil {
			return chainhash.Hash{}, nil, err
		}
		batch = append(batch, blk)
		prev = blk.BlockHash()
		sizes = append(sizes, blk.SerializeSize())
		if len(batch) == cap(batch) || h == blocks {
			if _, err := st.PutBatch(batch); err != nil {
				return chainhash.Hash{}, nil, err
			}
			batch = batch[:0]
		}
	}
	return prev, sizes, nil
}

// syncTiming is one sync's times: the whole run, and the download from the
// moment every session was up and measured, with the bytes of the blocks
// not yet written at that moment.
type syncTiming struct {
	total, download time.Duration
	rest            int
}

// timeSync starts the serving nodes and a fresh node linked to each of
// them and returns how long the fresh node took to reach tip, handshakes
// included (the download starts as soon as the sessions are up).
func timeSync(ctx context.Context, servers []string, fresh string, tip chainhash.Hash, sizes []int, p linkemu.Profile, subnet byte) (syncTiming, error) {
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
		return syncTiming{}, err
	}
	defer net.Close()
	up := time.Now()
	_, h0, _ := net.Nodes[f].Tip()
	rest := 0
	for h := int(h0); h < len(sizes); h++ {
		rest += sizes[h]
	}
	for {
		if best, _, _ := net.Nodes[f].Tip(); best == tip {
			now := time.Now()
			return syncTiming{total: now.Sub(start), download: now.Sub(up), rest: rest}, nil
		}
		if ctx.Err() != nil {
			_, h, _ := net.Nodes[f].Tip()
			return syncTiming{}, fmt.Errorf("bench: %s: the fresh node reached height %d only", SyncName, h)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
