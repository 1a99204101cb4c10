package node_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/blockgen"
	"github.com/blocktorrent/blocktorrent/internal/lab"
	"github.com/blocktorrent/blocktorrent/internal/linkemu"
	"github.com/blocktorrent/blocktorrent/internal/node"
	"github.com/btcsuite/btcd/chaincfg/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// startNode starts a node listening on ip (any port) with the default
// configuration, logging nowhere, after configure (if set) adjusts it, and
// closes it when the test ends.
func startNode(ctx context.Context, t *testing.T, ip netip.Addr, configure func(cfg *node.Config)) *node.Node {
	t.Helper()
	cfg := node.DefaultConfig()
	cfg.Listen = netip.AddrPortFrom(ip, 0).String()
	cfg.Log = slog.New(slog.DiscardHandler)
	if configure != nil {
		configure(&cfg)
	}
	nd, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := nd.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nd.Close)
	return nd
}

// serialize returns a block's wire encoding.
func serialize(t *testing.T, b *btcwire.MsgBlock) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := b.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestTwoNodes sends a block across one clean link.
func TestTwoNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := linkemu.Profile{Delay: 5 * time.Millisecond, RateBps: 50e6}
	net, err := lab.Start(ctx, 2, lab.Line(2, p), lab.Options{Subnet: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	blk, err := blockgen.Block(blockgen.Config{Txs: 500, Seed: 1, Prev: *chaincfg.RegressionNetParams.GenesisHash, Height: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := net.Nodes[0].Submit(ctx, blk); err != nil {
		t.Fatal(err)
	}
	if missing, err := net.WaitBlock(ctx, blk.BlockHash(), 30*time.Second); err != nil {
		t.Fatalf("%v (missing %v)", err, missing)
	}
	got := net.Block(ctx, 1, blk.BlockHash())
	if got == nil || !bytes.Equal(serialize(t, got), serialize(t, blk)) {
		t.Fatal("node 1 holds a different block")
	}
}

// TestLineWithLoss sends a block down a line of six nodes whose links lose
// 2% of packets each way, plus a mesh of seven, and checks that every node
// ends with the exact block and that every intermediate node forwarded
// verified data before it held the whole block (cut-through).
func TestLineWithLoss(t *testing.T) {
	lossy := linkemu.Profile{Delay: 10 * time.Millisecond, Jitter: time.Millisecond, Loss: 0.02, RateBps: 50e6}
	mesh := []lab.Link{
		{A: 0, B: 1, Profile: lossy}, {A: 0, B: 2, Profile: lossy}, {A: 1, B: 3, Profile: lossy},
		{A: 2, B: 3, Profile: lossy}, {A: 3, B: 4, Profile: lossy}, {A: 2, B: 5, Profile: lossy},
		{A: 4, B: 6, Profile: lossy}, {A: 5, B: 6, Profile: lossy},
	}
	tests := []struct {
		name   string
		n      int
		links  []lab.Link
		relays []int // nodes that must forward before completing
	}{
		{"line6", 6, lab.Line(6, lossy), []int{1, 2, 3, 4}},
		{"mesh7", 7, mesh, nil},
	}
	for k, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			net, err := lab.Start(ctx, tt.n, tt.links, lab.Options{Subnet: byte(20 + k)})
			if err != nil {
				t.Fatal(err)
			}
			defer net.Close()
			blk, err := blockgen.Block(blockgen.Config{Txs: 2000, Seed: 2, Prev: *chaincfg.RegressionNetParams.GenesisHash, Height: 1})
			if err != nil {
				t.Fatal(err)
			}
			if err := net.Nodes[0].Submit(ctx, blk); err != nil {
				t.Fatal(err)
			}
			if missing, err := net.WaitBlock(ctx, blk.BlockHash(), 60*time.Second); err != nil {
				for _, i := range missing {
					st, _ := net.Nodes[i].Status(ctx)
					t.Logf("node %d: %+v peers %+v udp %+v bans %+v", i, st.Jobs, st.Peers, st.UDP, st.Bans)
				}
				t.Fatalf("%v (missing %v)", err, missing)
			}
			want := serialize(t, blk)
			for i := 1; i < tt.n; i++ {
				got := net.Block(ctx, i, blk.BlockHash())
				if got == nil || !bytes.Equal(serialize(t, got), want) {
					t.Fatalf("node %d holds a different block", i)
				}
			}
			for _, i := range tt.relays {
				st := mustStatus(t, ctx, net.Nodes[i])
				js := st.Jobs[0]
				t.Logf("node %d: complete %d ms, first forward %d ms, forwarded before complete %d bytes, in %d, dup %d",
					i, js.CompleteMs, js.FirstForwardMs, js.ForwardedEarlyBy, js.BytesIn, js.DuplicateBytes)
				if js.FirstForwardMs < 0 || js.FirstForwardMs >= js.CompleteMs || js.ForwardedEarlyBy == 0 {
					t.Errorf("node %d did not forward before completing: %+v", i, js)
				}
			}
		})
	}
}
