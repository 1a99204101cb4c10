//go:build linux

package node_test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/lab"
	"github.com/blocktorrent/blocktorrent/internal/node"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// TestKillFrozenRelay: the relay R1 of S ── R1/R2 ── K (R1 a child process)
// is frozen with SIGSTOP while it has a job open, so its connections stay
// open but it answers nothing, as a host that hangs or drops off the
// network without closing its connections. Blocks keep coming: S, R2 and K
// must complete every one of them without R1 (the jobs route around the
// silent peer), and S and K must end their sessions with it once it has
// been silent for their idle timeout (killIdle). Then R1 is killed while
// frozen, restarted on the same data directory and address, and must
// catch up; nobody is banned or scored for anything but slowness.
func TestKillFrozenRelay(t *testing.T) {
	if os.Getenv(envKillDir) != "" {
		t.Skip("in the child")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 110*time.Second)
	defer cancel()
	start := time.Now()
	since := func() time.Duration { return time.Since(start).Round(time.Millisecond) }
	const subnet = 171 // 127.77.171.x
	ipS, ipR1, ipR2, ipK := lab.IP(subnet, 0), lab.IP(subnet, 1), lab.IP(subnet, 2), lab.IP(subnet, 3)
	r1Addr := netip.AddrPortFrom(ipR1, freePort(t, ipR1)).String()
	r1Dir := filepath.Join(t.TempDir(), "r1")
	_, logOf := killLogs(t)
	r1 := startKillChild(t, ctx, r1Dir, r1Addr, logOf("r1-run1"))
	r2 := startRegtest(t, ctx, filepath.Join(t.TempDir(), "r2"), ipR2, logOf("R2"), nil)
	src := startRegtest(t, ctx, filepath.Join(t.TempDir(), "s"), ipS, logOf("S"), nil, r1Addr, r2.Addr())
	sink := startRegtest(t, ctx, filepath.Join(t.TempDir(), "k"), ipK, logOf("K"), nil, r1Addr, r2.Addr())
	honest := map[string]*node.Node{"S": src, "R2": r2, "K": sink}
	waitReady(ctx, t, honest, 2)

	var chain []*btcwire.MsgBlock
	heightOf := map[string]int{}
	submit := func() {
		t.Helper()
		blk := nextKillBlock(t, 1710, &chain, heightOf)
		if err := src.Submit(ctx, blk); err != nil {
			t.Fatalf("submit block %d: %v", len(chain), err)
		}
	}

	// Blocks until R1 has one half done; then SIGSTOP.
	frozen := false
	last := time.Time{}
	for iter := 0; !frozen; iter++ {
		if ctx.Err() != nil || iter > 5000 || len(chain) >= killMaxBlks {
			t.Fatalf("%v: R1 never had a job open mid-way: %d blocks", since(), len(chain))
		}
		if len(chain) < 3 && time.Since(last) >= killEvery {
			submit()
			last = time.Now()
		}
		select {
		case ev, ok := <-r1.events:
			if !ok {
				t.Fatalf("R1 exited by itself; log:\n%s", tail(r1.log))
			}
			if ev.kind == "midjob" && heightOf[ev.fields[0]] >= 2 {
				if err := r1.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
					t.Fatal(err)
				}
				frozen = true
				t.Logf("%v: SIGSTOP R1 with block %d open, %s of %s bodies", since(), heightOf[ev.fields[0]], ev.fields[1], ev.fields[2])
			}
		case <-time.After(10 * time.Millisecond):
		}
		if len(chain) >= 3 && !frozen && time.Since(last) >= killEvery {
			submit() // R1 was too quick: one more block
			last = time.Now()
		}
	}
	frozenAt := time.Now()

	// More blocks while R1 is frozen: the others complete each of them.
	for range 4 {
		time.Sleep(killEvery)
		submit()
	}
	tip := chain[len(chain)-1].BlockHash()
	for name, nd := range honest {
		t.Logf("waiting for %s", name)
		waitTip(t, ctx, nd, tip, 60*time.Second)
	}
	t.Logf("%v: S, R2 and K hold all %d blocks, %v after R1 froze; S has %d and K %d sessions with it still",
		since(), len(chain), time.Since(frozenAt).Round(time.Millisecond), peersAt(t, ctx, src, ipR1), peersAt(t, ctx, sink, ipR1))

	// Silent past the idle timeout: S and K drop R1 (their redials hang
	// in the handshake, which a stopped process never answers).
	waitNoSession(t, ctx, ipR1, 1500, func() string {
		return fmt.Sprintf("S or K kept a session with the frozen R1 %v after it froze (idle timeout %v)", time.Since(frozenAt).Round(time.Millisecond), killIdle)
	}, src, sink)
	t.Logf("%v: S and K dropped the frozen R1 %v after it froze (idle timeout %v)", since(), time.Since(frozenAt).Round(time.Millisecond), killIdle)

	// Killed while frozen, restarted: R1 catches up.
	r1.kill(t)
	h := checkStoreChain(t, r1Dir, chain, rawsOf(t, chain), int32(max(0, r1.tipH.Load())))
	t.Logf("%v: R1 killed while frozen; its store reopens with tip height %d (it had reported %d)", since(), h, r1.tipH.Load())
	waitNoSession(t, ctx, ipR1, 1000, func() string { return "S or K kept a session with the dead R1" }, src, sink)
	restart := time.Now()
	r1 = startKillChild(t, ctx, r1Dir, r1Addr, logOf("r1-run2"))
	submit() // and one more block, relayed to everyone
	tip = chain[len(chain)-1].BlockHash()
	st := waitChildTip(t, ctx, r1, tip)
	t.Logf("%v: the restarted R1 holds all %d blocks, %v after its restart", since(), len(chain), time.Since(restart).Round(time.Millisecond))
	judgePenalties(t, "R1", st)
	for name, nd := range honest {
		waitTip(t, ctx, nd, tip, 60*time.Second)
		judgePenalties(t, name, mustStatus(t, ctx, nd))
	}
	r1.kill(t)
	checkStoreChain(t, r1Dir, chain, rawsOf(t, chain), int32(len(chain)))
	t.Logf("%v: R1 killed a last time; its store reopens with all %d blocks", since(), len(chain))
}

// rawsOf serializes a chain.
func rawsOf(t *testing.T, chain []*btcwire.MsgBlock) [][]byte {
	t.Helper()
	out := make([][]byte, len(chain))
	for i, b := range chain {
		out[i] = serialize(t, b)
	}
	return out
}

// TestKillOnlyPath: in a line S ── R1 ── K, R1 (a child process) is the
// sink's only path. It is killed with SIGKILL while it has a job open; two
// more blocks are submitted while it is down (nobody can carry them to K);
// then it is restarted, and no block follows. K must still end with every
// block: the half-done job, and the blocks it never heard of, come through
// R1 once it is back (the source offers it the blocks it relayed lately,
// and the chain download fills what the jobs do not).
func TestKillOnlyPath(t *testing.T) {
	if os.Getenv(envKillDir) != "" {
		t.Skip("in the child")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 110*time.Second)
	defer cancel()
	start := time.Now()
	since := func() time.Duration { return time.Since(start).Round(time.Millisecond) }
	const subnet = 172 // 127.77.172.x
	ipS, ipR1, ipK := lab.IP(subnet, 0), lab.IP(subnet, 1), lab.IP(subnet, 2)
	r1Addr := netip.AddrPortFrom(ipR1, freePort(t, ipR1)).String()
	r1Dir := filepath.Join(t.TempDir(), "r1")
	_, logOf := killLogs(t)
	r1 := startKillChild(t, ctx, r1Dir, r1Addr, logOf("r1-run1"))
	src := startRegtest(t, ctx, filepath.Join(t.TempDir(), "s"), ipS, logOf("S"), nil, r1Addr)
	sink := startRegtest(t, ctx, filepath.Join(t.TempDir(), "k"), ipK, logOf("K"), nil, r1Addr)
	waitReady(ctx, t, map[string]*node.Node{"S": src, "K": sink}, 1)

	var chain []*btcwire.MsgBlock
	heightOf := map[string]int{}
	submit := func() {
		t.Helper()
		blk := nextKillBlock(t, 1720, &chain, heightOf)
		if err := src.Submit(ctx, blk); err != nil {
			t.Fatalf("submit block %d: %v", len(chain), err)
		}
	}

	killed := false
	last := time.Time{}
	for iter := 0; !killed; iter++ {
		if ctx.Err() != nil || iter > 5000 || len(chain) >= killMaxBlks {
			t.Fatalf("%v: R1 never had a job open mid-way: %d blocks", since(), len(chain))
		}
		if time.Since(last) >= killEvery && (len(chain) < 3 || time.Since(last) >= 3*killEvery) {
			submit()
			last = time.Now()
		}
		select {
		case ev, ok := <-r1.events:
			if !ok {
				t.Fatalf("R1 exited by itself; log:\n%s", tail(r1.log))
			}
			if ev.kind == "midjob" && heightOf[ev.fields[0]] >= 2 {
				r1.kill(t)
				killed = true
				t.Logf("%v: SIGKILL R1 with block %d open, %s of %s bodies; K is at height %d", since(),
					heightOf[ev.fields[0]], ev.fields[1], ev.fields[2], tipHeight(sink))
			}
		case <-time.After(10 * time.Millisecond):
		}
	}
	waitNoSession(t, ctx, ipR1, 1000, func() string { return "S or K kept a session with the dead R1" }, src, sink)
	for range 2 {
		time.Sleep(killEvery)
		submit()
	}
	h := checkStoreChain(t, r1Dir, chain, rawsOf(t, chain), int32(max(0, r1.tipH.Load())))
	t.Logf("%v: %d blocks submitted; R1's store reopens with tip height %d; K is at height %d", since(), len(chain), h, tipHeight(sink))
	restart := time.Now()
	r1 = startKillChild(t, ctx, r1Dir, r1Addr, logOf("r1-run2"))
	tip := chain[len(chain)-1].BlockHash()
	waitTip(t, ctx, sink, tip, 60*time.Second)
	t.Logf("%v: K holds all %d blocks %v after R1's restart", since(), len(chain), time.Since(restart).Round(time.Millisecond))
	raws := rawsOf(t, chain)
	for i, blk := range chain {
		raw, err := sink.Store().RawBlock(blk.BlockHash())
		if err != nil || !bytes.Equal(raw, raws[i]) {
			t.Fatalf("K: block %d: %v (or bytes differ)", i+1, err)
		}
	}
	judgePenalties(t, "R1", waitChildTip(t, ctx, r1, tip))
	for name, nd := range map[string]*node.Node{"S": src, "K": sink} {
		judgePenalties(t, name, mustStatus(t, ctx, nd))
	}
}

// tipHeight returns a node's tip height.
func tipHeight(nd *node.Node) uint32 {
	_, h, _ := nd.Tip()
	return h
}
