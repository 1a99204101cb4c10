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

// TestJoinWhileJobsLinger connects a node to a peer that has just relayed
// thirty blocks (completed jobs linger for a minute): the joiner must not
// be flooded with OPEN_JOBs past its job limit, so nobody is penalised.
func TestJoinWhileJobsLinger(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := func(ip string) *node.Node {
		cfg := node.DefaultConfig()
		cfg.Listen = netip.AddrPortFrom(netip.MustParseAddr(ip), 0).String()
		n, err := node.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Close)
		return n
	}
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
			st, err := n.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
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
