package node_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
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

// mainnetTip is block 14131 of Bitcoin's main chain, the last block of
// btcd's blockchain/testdata/blk_0_to_14131.dat.
const mainnetTipHeight = 14131

// btcdBlocks returns the path of btcd's file of mainnet blocks 0..14131.
func btcdBlocks(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/btcsuite/btcd").Output()
	if err != nil {
		t.Fatalf("go list github.com/btcsuite/btcd: %v", err)
	}
	path := filepath.Join(strings.TrimSpace(string(out)), "blockchain", "testdata", "blk_0_to_14131.dat")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("btcd's mainnet test blocks are missing: %v", err)
	}
	return path
}

// mainnetStores makes n data directories holding mainnet blocks 0..14131
// (imported once, then copied) and returns them with the tip hash.
func mainnetStores(t testing.TB, n int) ([]string, chainhash.Hash) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "template")
	st, err := store.Open(src, &chaincfg.MainNetParams)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.ImportFile(context.Background(), st, btcdBlocks(t), uint32(chaincfg.MainNetParams.Net)); err != nil {
		t.Fatal(err)
	}
	tip, height, _ := st.Tip()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if height != mainnetTipHeight {
		t.Fatalf("imported tip height %d, want %d", height, mainnetTipHeight)
	}
	dirs := make([]string, n)
	for i := range dirs {
		dirs[i] = filepath.Join(t.TempDir(), fmt.Sprintf("node%d", i))
		if err := os.CopyFS(dirs[i], os.DirFS(src)); err != nil {
			t.Fatal(err)
		}
	}
	return dirs, tip
}

// waitTip waits until nd's tip is hash.
func waitTip(t *testing.T, ctx context.Context, nd *node.Node, hash chainhash.Hash, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		best, height, _ := nd.Tip()
		if best == hash {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("node did not reach %v: tip %v at height %d; sync %+v", hash, best, height, nd.SyncStatus(ctx))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSyncMainnet downloads mainnet blocks 0..14131 from four serving nodes
// behind emulated links into a fresh node.
func TestSyncMainnet(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const servers = 4
	dirs, tip := mainnetStores(t, servers)
	dirs = append(dirs, filepath.Join(t.TempDir(), "fresh"))
	fresh := servers
	var links []lab.Link
	for i := range servers {
		links = append(links, lab.Link{A: i, B: fresh, Profile: linkemu.Profile{Delay: 10 * time.Millisecond, RateBps: 20e6}})
	}
	net, err := lab.Start(ctx, servers+1, links, lab.Options{Subnet: 60, Configure: func(i int, cfg *node.Config) {
		cfg.Network = "mainnet"
		cfg.DataDir = dirs[i]
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	start := time.Now()
	waitTip(t, ctx, net.Nodes[fresh], tip, 50*time.Second)
	t.Logf("synced %d blocks from %d peers in %v", mainnetTipHeight, servers, time.Since(start).Round(time.Millisecond))
	st, err := net.Nodes[fresh].Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Height != mainnetTipHeight || st.BestHash != tip.String() {
		t.Fatalf("status height %d best %s, want %d %v", st.Height, st.BestHash, mainnetTipHeight, tip)
	}
	// Every block is stored, not only the tip's index entry.
	s := net.Nodes[fresh].Store()
	for h := int32(0); h <= mainnetTipHeight; h += 997 {
		hash, err := s.HashAtHeight(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.RawBlock(hash); err != nil {
			t.Fatalf("block %d: %v", h, err)
		}
	}
	for i := range servers {
		for _, p := range mustStatus(t, ctx, net.Nodes[i]).Peers {
			if p.Score != 0 {
				t.Errorf("server %d penalized the fresh node: %+v", i, p)
			}
		}
	}
	for _, p := range st.Peers {
		if p.Score != 0 {
			t.Errorf("fresh node penalized a server: %+v", p)
		}
	}
}

// mustStatus returns nd's status; an error fails the test.
func mustStatus(t *testing.T, ctx context.Context, nd *node.Node) node.Status {
	t.Helper()
	st, err := nd.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Environment of the child process of TestSyncKillRestart.
const (
	envChildDir   = "BLOCKTORRENT_SYNC_CHILD_DIR"
	envChildPeers = "BLOCKTORRENT_SYNC_CHILD_PEERS"
)

// TestSyncChild is the syncing node that TestSyncKillRestart runs in a
// child process and kills; it is skipped otherwise. It prints its tip
// height whenever it changes.
func TestSyncChild(t *testing.T) {
	dir := os.Getenv(envChildDir)
	if dir == "" {
		t.Skip("run by TestSyncKillRestart")
	}
	nd := startMainnet(t, context.Background(), dir, netip.MustParseAddr("127.77.61.100"), func(cfg *node.Config) {
		cfg.Peers = strings.Split(os.Getenv(envChildPeers), ",")
	})
	last := int64(-1)
	for range 60 * 50 { // the parent kills it long before
		_, h, _ := nd.Tip()
		if int64(h) != last {
			last = int64(h)
			fmt.Printf("height %d\n", h)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSyncKillRestart kills a syncing node with SIGKILL halfway and restarts
// it on the same data directory: it keeps every block it had written and
// completes the download.
func TestSyncKillRestart(t *testing.T) {
	if os.Getenv(envChildDir) != "" {
		t.Skip("in the child")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const servers = 2
	dirs, tip := mainnetStores(t, servers)
	var addrs []string
	var srv []*node.Node
	for i := range servers {
		nd := startMainnet(t, ctx, dirs[i], lab.IP(61, i), func(cfg *node.Config) {
			// Slow links, so the child is killed midway.
			cfg.Link = func(netip.Addr) linkemu.Profile {
				return linkemu.Profile{Delay: 5 * time.Millisecond, RateBps: 8e6}
			}
		})
		srv = append(srv, nd)
		addrs = append(addrs, nd.Addr())
	}
	dir := filepath.Join(t.TempDir(), "child")
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSyncChild$", "-test.v")
	cmd.Env = append(os.Environ(), envChildDir+"="+dir, envChildPeers+"="+strings.Join(addrs, ","))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reached := int64(-1)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var h int64
		if _, err := fmt.Sscanf(sc.Text(), "height %d", &h); err == nil {
			reached = h
			if h >= 3000 {
				break
			}
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if reached < 3000 || reached >= mainnetTipHeight {
		t.Fatalf("child reached height %d before the kill; want 3000..%d", reached, mainnetTipHeight-1)
	}
	t.Logf("child killed at height %d", reached)

	// Every block the child reported as its tip (durable) is still there.
	st, err := store.Open(dir, &chaincfg.MainNetParams)
	if err != nil {
		t.Fatal(err)
	}
	_, h, _ := st.Tip()
	if int64(h) < reached {
		t.Fatalf("after the kill the store's tip is %d, the child had reached %d", h, reached)
	}
	for i := int32(0); i <= h; i++ {
		hash, err := st.HashAtHeight(i)
		if err == nil {
			_, err = st.RawBlock(hash)
		}
		if err != nil {
			t.Fatalf("block %d after the kill: %v", i, err)
		}
	}
	st.Close()

	nd := startMainnet(t, ctx, dir, netip.MustParseAddr("127.77.61.101"), func(cfg *node.Config) { cfg.Peers = addrs })
	waitTip(t, ctx, nd, tip, 50*time.Second)
	_, height, _ := nd.Tip()
	t.Logf("restarted node resumed from %d and reached %s", h, strconv.Itoa(int(height)))
	_ = srv
}

// regtestChain makes n valid regtest blocks of txs transactions each on top
// of the genesis block and stores them in a data directory per server.
func regtestStores(t testing.TB, servers, n, txs int) ([]string, chainhash.Hash, int) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "template")
	st, err := store.Open(src, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	prev := *chaincfg.RegressionNetParams.GenesisHash
	bytes := 0
	for h := 1; h <= n; h++ {
		blk, err := blockgen.Block(blockgen.Config{Txs: txs, Seed: uint64(h), Prev: prev, Height: int32(h)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.PutBatch([]*btcwire.MsgBlock{blk}); err != nil {
			t.Fatal(err)
		}
		prev = blk.BlockHash()
		bytes += blk.SerializeSize()
	}
	st.Close()
	dirs := make([]string, servers)
	for i := range dirs {
		dirs[i] = filepath.Join(t.TempDir(), fmt.Sprintf("node%d", i))
		if err := os.CopyFS(dirs[i], os.DirFS(src)); err != nil {
			t.Fatal(err)
		}
	}
	return dirs, prev, bytes
}

// syncFrom syncs a fresh regtest node from the servers' data directories
// over links of profile p and returns how long it took.
func syncFrom(t *testing.T, subnet byte, dirs []string, tip chainhash.Hash, p linkemu.Profile) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	all := append(append([]string{}, dirs...), filepath.Join(t.TempDir(), "fresh"))
	fresh := len(dirs)
	var links []lab.Link
	for i := range dirs {
		links = append(links, lab.Link{A: i, B: fresh, Profile: p})
	}
	// The download starts as soon as the sessions are up, before lab.Start
	// returns, so the time includes the handshakes.
	start := time.Now()
	net, err := lab.Start(ctx, len(all), links, lab.Options{Subnet: subnet, Configure: func(i int, cfg *node.Config) {
		cfg.Network = "regtest"
		cfg.DataDir = all[i]
		if i == fresh && os.Getenv("BLOCKTORRENT_SYNC_LOG") != "" {
			cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	waitTip(t, ctx, net.Nodes[fresh], tip, 110*time.Second)
	return time.Since(start)
}

// TestSyncSpeedup compares a download from 8 peers with one from 1 peer over
// equal emulated links (20 Mbit/s, 10 ms each way) on a chain of large
// regtest blocks. It is slow, so it runs only with
// BLOCKTORRENT_SYNC_BENCH=1.
func TestSyncSpeedup(t *testing.T) {
	if os.Getenv("BLOCKTORRENT_SYNC_BENCH") == "" {
		t.Skip("set BLOCKTORRENT_SYNC_BENCH=1 to run")
	}
	const blocks, txs = 200, 1000
	p := linkemu.Profile{Delay: 10 * time.Millisecond, RateBps: 20e6}
	if v, err := strconv.ParseFloat(os.Getenv("BLOCKTORRENT_SYNC_BENCH_MBIT"), 64); err == nil {
		p.RateBps = int64(v * 1e6) // 0: unlimited, to see where the CPU limits
	}
	dirs, tip, size := regtestStores(t, 8, blocks, txs)
	t.Logf("chain: %d blocks, %.1f MB", blocks, float64(size)/1e6)
	one := syncFrom(t, 62, dirs[:1], tip, p)
	eight := syncFrom(t, 63, dirs, tip, p)
	for _, r := range []struct {
		peers int
		d     time.Duration
	}{{1, one}, {8, eight}} {
		mbit := float64(size) * 8 / r.d.Seconds() / 1e6
		if p.RateBps == 0 {
			t.Logf("%d peer(s): %v, %.1f Mbit/s over unlimited links", r.peers, r.d.Round(time.Millisecond), mbit)
			continue
		}
		t.Logf("%d peer(s): %v, %.1f Mbit/s, %.0f%% of the aggregate %d Mbit/s", r.peers, r.d.Round(time.Millisecond),
			mbit, 100*mbit/(float64(r.peers)*float64(p.RateBps)/1e6), r.peers*int(p.RateBps/1e6))
	}
	t.Logf("speed-up of 8 peers over 1: %.2fx", one.Seconds()/eight.Seconds())
}

// TestSyncCatchUpOnRelay: two regtest nodes meet at the genesis block; the
// server then gets 30 blocks straight into its store (its peer does not
// hear of them) and relays block 31. The other node cannot store block 31
// without its parent, so it downloads the headers back from it and the
// blocks, and ends on block 31.
func TestSyncCatchUpOnRelay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dirs := []string{filepath.Join(t.TempDir(), "server"), filepath.Join(t.TempDir(), "other")}
	net, err := lab.Start(ctx, 2, lab.Line(2, linkemu.Profile{Delay: 5 * time.Millisecond, RateBps: 50e6}), lab.Options{Subnet: 66,
		Configure: func(i int, cfg *node.Config) { cfg.DataDir = dirs[i] }})
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	prev := *chaincfg.RegressionNetParams.GenesisHash
	var blks []*btcwire.MsgBlock
	for h := 1; h <= 31; h++ {
		blk, err := blockgen.Block(blockgen.Config{Txs: 20, Seed: uint64(h), Prev: prev, Height: int32(h)})
		if err != nil {
			t.Fatal(err)
		}
		blks = append(blks, blk)
		prev = blk.BlockHash()
	}
	if _, err := net.Nodes[0].Store().PutBatch(blks[:30]); err != nil {
		t.Fatal(err)
	}
	if err := net.Nodes[0].Submit(ctx, blks[30]); err != nil {
		t.Fatal(err)
	}
	waitTip(t, ctx, net.Nodes[1], prev, 30*time.Second)
}

// startMainnet starts a mainnet node at ip with its store in dir
// (re-dialling peers every 200 ms, logging to the default logger), after
// configure adjusts the configuration, and closes it when the test ends.
func startMainnet(t *testing.T, ctx context.Context, dir string, ip netip.Addr, configure func(*node.Config)) *node.Node {
	t.Helper()
	return startNode(ctx, t, ip, func(cfg *node.Config) {
		cfg.Network, cfg.DataDir = "mainnet", dir
		cfg.Log = slog.Default()
		cfg.RedialInterval = 200 * time.Millisecond
		if configure != nil {
			configure(cfg)
		}
	})
}
