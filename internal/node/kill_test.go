package node_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/blockgen"
	"github.com/blocktorrent/blocktorrent/internal/lab"
	"github.com/blocktorrent/blocktorrent/internal/linkemu"
	"github.com/blocktorrent/blocktorrent/internal/node"
	"github.com/blocktorrent/blocktorrent/internal/session"
	"github.com/blocktorrent/blocktorrent/internal/store"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// Durability under faults: a relay is killed with SIGKILL while block
// relay jobs are in flight, restarted on the same data directory and
// address while blocks keep coming, and killed again; nothing may be lost.

// Environment of the child process of TestKillRelayMidJob.
const (
	envKillDir    = "BLOCKTORRENT_KILL_CHILD_DIR"
	envKillListen = "BLOCKTORRENT_KILL_CHILD_LISTEN"
)

const (
	killSubnet   = 170 // 127.77.170.x
	killTxs      = 1000
	killMaxBlks  = 40                     // the stream never exceeds this
	killEvery    = 350 * time.Millisecond // between two submitted blocks
	killAfter    = 5                      // blocks submitted after the last restart
	killJoinAt   = 6                      // the fresh node joins once this many blocks are out
	killKills    = 2                      // SIGKILLs mid-job
	killDownFor  = 2 * killEvery          // how long the child stays dead (at least)
	killChildRun = 90 * time.Second       // the child's own bound; the parent kills it long before
)

// killLink is every link of the network: slow enough that a job of a
// ~400 KB block takes a few hundred milliseconds per hop.
var killLink = linkemu.Profile{Delay: 5 * time.Millisecond, Jitter: time.Millisecond, RateBps: 12e6}

// killIdle is the in-process nodes' idle timeout: a peer that answers
// nothing (not even the ping sent every second) for this long is
// disconnected (30 s by default; short here so a frozen relay is dropped
// within the test).
const killIdle = 4 * time.Second

// judgePenalties fails the test if a node has banned a peer or scored one
// for misbehaviour, and reports whether all was well. Points for slowness
// (session.SoftReason: "stall") are logged, not failed, unless
// BLOCKTORRENT_KILL_STRICT is set: the job engine scores them on honest
// peers that are busy catching up or under CPU load, and they never ban.
func judgePenalties(t *testing.T, name string, st node.Status) bool {
	t.Helper()
	strict := os.Getenv("BLOCKTORRENT_KILL_STRICT") != ""
	ok := len(st.Bans) == 0
	if !ok {
		t.Errorf("%s banned %+v", name, st.Bans)
	}
	for _, p := range st.Peers {
		for reason, points := range p.Penalties {
			if session.SoftReason(reason) && !strict {
				t.Logf("%s scored %s %d %s points (soft)", name, p.Address, points, reason)
				continue
			}
			ok = false
			t.Errorf("%s scored %s %d %s points", name, p.Address, points, reason)
		}
	}
	return ok
}

// dumpLogs logs the warnings and the chain download's lines of every log
// in dir.
func dumpLogs(t *testing.T, dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		var keep []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") || strings.Contains(l, "component=sync") ||
				strings.Contains(l, "not stored") || strings.Contains(l, "unknown parent") {
				keep = append(keep, l)
			}
		}
		t.Logf("%s:\n%s", e.Name(), strings.Join(keep[max(0, len(keep)-60):], "\n"))
	}
}

// freePort returns a port free for both TCP and UDP on ip.
func freePort(t *testing.T, ip netip.Addr) uint16 {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
		if err != nil {
			t.Fatal(err)
		}
		port := uint16(ln.Addr().(*net.TCPAddr).Port)
		pc, err := net.ListenPacket("udp", netip.AddrPortFrom(ip, port).String())
		ln.Close()
		if err != nil {
			continue
		}
		pc.Close()
		return port
	}
	t.Fatal("no free port")
	return 0
}

// startRegtest starts an in-process regtest node with its store in dir,
// listening on ip, every link shaped by killLink, logging to logPath, and
// closes it when the test ends.
func startRegtest(t *testing.T, ctx context.Context, dir string, ip netip.Addr, logPath string, onBlock func(*btcwire.MsgBlock), peers ...string) *node.Node {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() }) // after the node's Close (cleanups run last first)
	return startNode(ctx, t, ip, func(cfg *node.Config) {
		cfg.Network, cfg.DataDir = "regtest", dir
		cfg.RedialInterval = 200 * time.Millisecond
		cfg.IdleTimeout = killIdle
		cfg.Link = func(netip.Addr) linkemu.Profile { return killLink }
		cfg.Log = slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelInfo}))
		cfg.Peers = peers
		cfg.OnBlock = onBlock
	})
}

// peersAt returns how many of nd's sessions are with ip.
func peersAt(t *testing.T, ctx context.Context, nd *node.Node, ip netip.Addr) int {
	t.Helper()
	n := 0
	for _, p := range mustStatus(t, ctx, nd).Peers {
		if ap, err := netip.ParseAddrPort(p.Address); err == nil && ap.Addr() == ip {
			n++
		}
	}
	return n
}

// checkStoreChain checks that the store in dir opens, that its tip is
// within chain (at height >= minHeight) and that every block up to the tip
// is readable and equal to chain's.
func checkStoreChain(t *testing.T, dir string, chain []*btcwire.MsgBlock, raws [][]byte, minHeight int32) int32 {
	t.Helper()
	st, err := store.Open(dir, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatalf("the store does not reopen: %v", err)
	}
	defer st.Close()
	_, h, _ := st.Tip()
	if h < minHeight || int(h) > len(chain) {
		t.Fatalf("store tip at height %d, want %d..%d", h, minHeight, len(chain))
	}
	for i := int32(1); i <= h; i++ {
		want := chain[i-1].BlockHash()
		if got, err := st.HashAtHeight(i); err != nil || got != want {
			t.Fatalf("height %d: %v %v, want %v", i, got, err, want)
		}
		raw, err := st.RawBlock(want)
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		if !bytes.Equal(raw, raws[i-1]) {
			t.Fatalf("block %d differs", i)
		}
	}
	return h
}

// nextKillBlock makes the next block of a kill test's regtest chain (block
// h from seed+h), appends it to chain and records its height by hash.
func nextKillBlock(t *testing.T, seed uint64, chain *[]*btcwire.MsgBlock, heightOf map[string]int) *btcwire.MsgBlock {
	t.Helper()
	prev := *chaincfg.RegressionNetParams.GenesisHash
	if n := len(*chain); n > 0 {
		prev = (*chain)[n-1].BlockHash()
	}
	h := len(*chain) + 1
	blk, err := blockgen.Block(blockgen.Config{Txs: killTxs, Seed: seed + uint64(h), Prev: prev, Height: int32(h)})
	if err != nil {
		t.Fatal(err)
	}
	*chain = append(*chain, blk)
	heightOf[blk.BlockHash().String()] = h
	return blk
}

// waitReady waits until every node has want measured peers.
func waitReady(ctx context.Context, t *testing.T, nodes map[string]*node.Node, want int) {
	t.Helper()
	for name, nd := range nodes {
		for i := 0; !nd.Ready(want); i++ {
			if i > 1000 || ctx.Err() != nil {
				t.Fatalf("%s has %d peers, want %d", name, nd.Peers(), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// killLogs returns the directory of a kill test's node logs (a temporary
// one, or BLOCKTORRENT_KILL_LOGDIR to keep them for a look after the test)
// and the path of a node's log in it; if the test fails, the warnings of
// every log are dumped at its end.
func killLogs(t *testing.T) (dir string, logOf func(name string) string) {
	t.Helper()
	dir = t.TempDir()
	if d := os.Getenv("BLOCKTORRENT_KILL_LOGDIR"); d != "" {
		dir = d
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpLogs(t, dir)
		}
	})
	return dir, func(name string) string { return filepath.Join(dir, name+".log") }
}

// waitNoSession waits until none of nodes has a session with ip, polling
// every 20 ms; after tries polls, or when ctx ends, it fails the test with
// msg().
func waitNoSession(t *testing.T, ctx context.Context, ip netip.Addr, tries int, msg func() string, nodes ...*node.Node) {
	t.Helper()
	for i := 0; ; i++ {
		n := 0
		for _, nd := range nodes {
			n += peersAt(t, ctx, nd, ip)
		}
		if n == 0 {
			return
		}
		if i > tries || ctx.Err() != nil {
			t.Fatal(msg())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKillRelayMidJob: a source S relays a stream of regtest blocks to a
// sink K through two relays, R1 (a child process) and R2 (in-process):
//
//	S ── R1 ── K
//	S ── R2 ── K      and, once a few blocks are out, a fresh node J
//	                  dials K, R2 and R1.
//
// Twice, R1 is killed with SIGKILL while it has a job open with part of a
// block's transactions; its store must reopen with every block it had
// indexed, and it is restarted on the same data directory and address while
// blocks keep coming. S and K, which dial R1, must notice the dead session
// and dial it again. In the end every node holds every block, byte for
// byte, R1 included (it catches up by chain download after each restart),
// and no honest node has banned another or scored it for misbehaviour
// (points for slowness are logged: see judgePenalties). J, which joins
// mid-stream, must complete later blocks by relay and download the earlier
// ones.
func TestKillRelayMidJob(t *testing.T) {
	if os.Getenv(envKillDir) != "" {
		t.Skip("in the child")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 110*time.Second)
	defer cancel()
	start := time.Now()
	since := func() time.Duration { return time.Since(start).Round(time.Millisecond) }

	ipS, ipR1, ipR2, ipK, ipJ := lab.IP(killSubnet, 0), lab.IP(killSubnet, 1), lab.IP(killSubnet, 2), lab.IP(killSubnet, 3), lab.IP(killSubnet, 4)
	r1Addr := netip.AddrPortFrom(ipR1, freePort(t, ipR1)).String()
	r1Dir := filepath.Join(t.TempDir(), "r1")
	_, logOf := killLogs(t)
	runs := 0
	child := func() *killChild {
		runs++
		return startKillChild(t, ctx, r1Dir, r1Addr, logOf(fmt.Sprintf("r1-run%d", runs)))
	}
	r1 := child()

	r2 := startRegtest(t, ctx, filepath.Join(t.TempDir(), "r2"), ipR2, logOf("R2"), nil)
	src := startRegtest(t, ctx, filepath.Join(t.TempDir(), "s"), ipS, logOf("S"), nil, r1Addr, r2.Addr())
	sink := startRegtest(t, ctx, filepath.Join(t.TempDir(), "k"), ipK, logOf("K"), nil, r1Addr, r2.Addr())
	honest := map[string]*node.Node{"S": src, "R2": r2, "K": sink}
	waitReady(ctx, t, honest, 2)
	t.Logf("%v: network up (R1 at %s, child pid %d)", since(), r1Addr, r1.cmd.Process.Pid)

	// The chain, made as it goes.
	var chain []*btcwire.MsgBlock
	var raws [][]byte
	heightOf := map[string]int{}
	next := func() *btcwire.MsgBlock {
		blk := nextKillBlock(t, 1700, &chain, heightOf)
		raws = append(raws, serialize(t, blk))
		return blk
	}

	var (
		joiner     *node.Node
		kills      int
		down       bool      // R1 is dead
		downAt     time.Time // when it was killed
		gone       bool      // S and K have dropped their sessions to it
		restartAt  time.Time
		restartH   int // source height at the last restart
		minKillH   = 3
		lastSubmit time.Time
		catchUps   []string
		redialed   bool // S and K have sessions with the restarted R1
	)
	// J counts the blocks it completes by relay (the others it gets by
	// chain download).
	var jmu sync.Mutex
	relayedToJ := map[chainhash.Hash]bool{}
	onJoinerBlock := func(blk *btcwire.MsgBlock) {
		jmu.Lock()
		relayedToJ[blk.BlockHash()] = true
		jmu.Unlock()
	}
	joinedAt := 0
	checkGone := func() bool {
		return peersAt(t, ctx, src, ipR1) == 0 && peersAt(t, ctx, sink, ipR1) == 0
	}
	for iter := 0; ; iter++ {
		if ctx.Err() != nil || iter > 20000 {
			t.Fatalf("%v: the stream did not finish: %d blocks, %d kills, down %v; last R1 log:\n%s", since(), len(chain), kills, down, tail(r1.log))
		}
		if kills == killKills && !down && len(chain) >= restartH+killAfter {
			break
		}
		if len(chain) >= killMaxBlks {
			t.Fatalf("%d blocks submitted and only %d kills mid-job: the child never had a job open long enough", len(chain), kills)
		}
		// Submit the next block on time.
		if time.Since(lastSubmit) >= killEvery {
			blk := next()
			if err := src.Submit(ctx, blk); err != nil {
				t.Fatalf("submit block %d: %v", len(chain), err)
			}
			lastSubmit = time.Now()
		}
		if joiner == nil && len(chain) >= killJoinAt {
			joiner = startRegtest(t, ctx, filepath.Join(t.TempDir(), "j"), ipJ, logOf("J"), onJoinerBlock, sink.Addr(), r2.Addr(), r1Addr)
			honest["J"] = joiner
			joinedAt = len(chain)
			t.Logf("%v: fresh node J joins at height %d", since(), len(chain))
		}
		if down {
			if !gone && checkGone() {
				gone = true
				t.Logf("%v: S and K dropped their sessions to R1 %v after the kill", since(), time.Since(downAt).Round(time.Millisecond))
			}
			if gone && time.Since(downAt) >= killDownFor {
				// Every block R1 reported as its tip is durable.
				h := checkStoreChain(t, r1Dir, chain, raws, int32(max(0, r1.tipH.Load())))
				t.Logf("%v: R1's store reopens after SIGKILL %d with tip height %d (it had reported %d), every block intact", since(), kills, h, r1.tipH.Load())
				r1 = child()
				down, restartAt, restartH, redialed = false, time.Now(), len(chain), false
				minKillH = restartH + 2
				t.Logf("%v: R1 restarted (pid %d) at source height %d", since(), r1.cmd.Process.Pid, restartH)
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		// R1 is up: watch it.
		if !redialed && runs > 1 && peersAt(t, ctx, src, ipR1) == 1 && peersAt(t, ctx, sink, ipR1) == 1 {
			redialed = true
			t.Logf("%v: S and K have dialled the restarted R1 again", since())
		}
		select {
		case ev, ok := <-r1.events:
			if !ok {
				t.Fatalf("%v: R1 exited by itself; log:\n%s", since(), tail(r1.log))
			}
			switch ev.kind {
			case "tip":
				var h int
				_, _ = fmt.Sscan(ev.fields[0], &h)
				if !restartAt.IsZero() && h >= restartH {
					catchUps = append(catchUps, fmt.Sprintf("run %d reached height %d (the source's at its restart) %v after it", runs, restartH, ev.at.Sub(restartAt).Round(time.Millisecond)))
					restartAt = time.Time{} // once per run
				}
			case "midjob":
				h := heightOf[ev.fields[0]]
				if kills < killKills && h >= minKillH && (runs == 1 || redialed) {
					r1.kill(t)
					kills++
					down, downAt, gone = true, time.Now(), false
					t.Logf("%v: SIGKILL %d of R1 with block %d open, %s of %s bodies (source height %d)", since(), kills, h, ev.fields[1], ev.fields[2], len(chain))
				}
			}
		case <-time.After(10 * time.Millisecond):
		}
	}
	last := chain[len(chain)-1].BlockHash()
	t.Logf("%v: stream done: %d blocks of %d txs; waiting for every node", since(), len(chain), killTxs)

	// Every in-process node ends with every block, byte for byte.
	for name, nd := range honest {
		t.Logf("waiting for %s", name)
		waitTip(t, ctx, nd, last, 60*time.Second)
		s := nd.Store()
		for i, blk := range chain {
			raw, err := s.RawBlock(blk.BlockHash())
			if err != nil || !bytes.Equal(raw, raws[i]) {
				t.Fatalf("%s: block %d: %v (or bytes differ)", name, i+1, err)
			}
		}
	}
	jmu.Lock()
	relayed := 0
	for _, blk := range chain[joinedAt:] {
		if relayedToJ[blk.BlockHash()] {
			relayed++
		}
	}
	jmu.Unlock()
	t.Logf("%v: S, R2, K and J hold all %d blocks; J, joining at height %d, completed %d of the %d later blocks by relay",
		since(), len(chain), joinedAt, relayed, len(chain)-joinedAt)
	if relayed == 0 {
		t.Errorf("J got none of the blocks submitted after it joined by relay")
	}

	// R1 catches up too.
	r1st := waitChildTip(t, ctx, r1, last)
	t.Logf("%v: R1 holds the tip; catch-up: %v", since(), catchUps)

	// The survivors dialled R1 again, and nobody penalised or banned
	// anybody.
	for name, nd := range map[string]*node.Node{"S": src, "K": sink} {
		for i := 0; peersAt(t, ctx, nd, ipR1) != 1; i++ {
			if i > 1000 || ctx.Err() != nil {
				t.Fatalf("%s has %d sessions with R1 after its restart", name, peersAt(t, ctx, nd, ipR1))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	judge := func(name string, st node.Status) {
		if !judgePenalties(t, name, st) && name != "R1" {
			t.Logf("%s's log:\n%s", name, tail(logOf(name)))
		}
	}
	for name, nd := range honest {
		judge(name, mustStatus(t, ctx, nd))
	}
	judge("R1", r1st)
	if n := len(r1st.Peers); n != 3 {
		t.Errorf("R1 has %d peers, want 3 (S, K, J)", n)
	}

	// A last SIGKILL: R1's store reopens with the whole chain.
	r1.kill(t)
	h := checkStoreChain(t, r1Dir, chain, raws, int32(len(chain)))
	t.Logf("%v: R1 killed a last time; its store reopens at height %d with every block equal", since(), h)
}
