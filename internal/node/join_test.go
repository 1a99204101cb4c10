package node_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/blockgen"
	"github.com/blocktorrent/blocktorrent/internal/node"
	"github.com/btcsuite/btcd/chaincfg/v2"
)

// startJoinNode starts a regtest node with the default configuration at
// ip, closed when the test ends.
func startJoinNode(ctx context.Context, t *testing.T, ip string) *node.Node {
	t.Helper()
	return startNode(ctx, t, netip.MustParseAddr(ip), nil)
}

// TestJoinWhileJobsLinger connects a node to a peer that has just relayed
// thirty blocks (completed jobs linger for a minute): the joiner must not
// be flooded with OPEN_JOBs past its job limit, so nobody is penalised.
func TestJoinWhileJobsLinger(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := func(ip string) *node.Node { return startJoinNode(ctx, t, ip) }
	a := start("127.77.88.1")
	prev := *chaincfg.RegressionNetParams.GenesisHash
	for h := 1; h <= 30; h++ {
		blk, err := blockgen.Block(blockgen.Config{Txs: 20, Seed: uint64(h), Prev: prev, Height: int32(h)})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Submit(ctx, blk); err != nil {
			t.Fatal(err)
		}
		prev = blk.BlockHash()
	}
	b := start("127.77.88.2")
	b.AddPeer(a.Addr())
	deadline := time.Now().Add(3 * time.Second)
	connected := false
	for time.Now().Before(deadline) {
		for _, n := range []*node.Node{a, b} {
			st := mustStatus(t, ctx, n)
			for _, p := range st.Peers {
				connected = true
				if p.Score != 0 {
					t.Fatalf("%s penalised %s: %v", st.Addr, p.Address, p.Penalties)
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !connected {
		t.Fatal("the nodes never connected")
	}
}

// TestCatchUpIsNotPassedOn has a node that joined late pass on no old news.
// A relays three blocks; B joins A at once and is offered them as catch-up
// (completed within seconds: OPEN_JOB with the late flag), and completes
// them; then C joins B alone. B must not offer C those blocks: before the
// late flag each joiner found them fresh and offered them to the next, so
// in the churn soak old blocks circulated among newcomers for ever (a
// newcomer ended holding every block of the run). A fourth block, relayed
// after C joined, must reach C through B.
func TestCatchUpIsNotPassedOn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := func(ip string) *node.Node { return startJoinNode(ctx, t, ip) }
	jobs := func(n *node.Node) int {
		st := mustStatus(t, ctx, n)
		return len(st.Jobs)
	}
	waitJobs := func(name string, n *node.Node, want int) {
		for i := 0; jobs(n) < want; i++ {
			if i > 500 {
				t.Fatalf("%s has %d jobs, want %d", name, jobs(n), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	a := start("127.77.192.1")
	prev := *chaincfg.RegressionNetParams.GenesisHash
	submit := func(h int) {
		blk, err := blockgen.Block(blockgen.Config{Txs: 20, Seed: uint64(h), Prev: prev, Height: int32(h)})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Submit(ctx, blk); err != nil {
			t.Fatal(err)
		}
		prev = blk.BlockHash()
	}
	for h := 1; h <= 3; h++ {
		submit(h)
	}
	b := start("127.77.192.2")
	b.AddPeer(a.Addr())
	waitJobs("B", b, 3) // the catch-up offers
	c := start("127.77.192.3")
	c.AddPeer(b.Addr())
	for i := 0; c.Peers() == 0; i++ {
		if i > 500 {
			t.Fatal("C never connected to B")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // time for offers, if any
	if n := jobs(c); n != 0 {
		t.Fatalf("C was offered %d old blocks by B, which joined late itself", n)
	}
	submit(4)
	waitJobs("C", c, 1)
}
