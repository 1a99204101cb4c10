package node_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/blockgen"
	"github.com/blocktorrent/blocktorrent/internal/lab"
	"github.com/blocktorrent/blocktorrent/internal/linkemu"
	"github.com/blocktorrent/blocktorrent/internal/node"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// discoverSubnet is the third octet of the discovery test's addresses.
const discoverSubnet = 190

// startDiscoverer starts a node at lab.IP(discoverSubnet, i) that dials
// peers and looks for up to target peers, and reports its blocks on got;
// it is closed when the test ends.
func startDiscoverer(ctx context.Context, t *testing.T, i, target int, got chan<- chainhash.Hash, peers ...string) *node.Node {
	t.Helper()
	return startNode(ctx, t, lab.IP(discoverSubnet, i), func(cfg *node.Config) {
		if testing.Verbose() {
			cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", i)
		}
		cfg.Peers = peers
		cfg.TargetPeers = target
		cfg.RedialInterval = 100 * time.Millisecond
		p := linkemu.Profile{Delay: 2 * time.Millisecond, RateBps: 50e6}
		cfg.Link = func(netip.Addr) linkemu.Profile { return p }
		cfg.OnBlock = func(b *btcwire.MsgBlock) {
			select {
			case got <- b.BlockHash():
			default:
			}
		}
	})
}

// TestDiscovery starts a hub and four nodes that know only the hub. Each
// asks the hub for addresses and dials the others until it has TargetPeers
// (4) peers: a full mesh. Then the hub vanishes, and a block submitted at
// one node still reaches the three others through the learnt links, and
// nobody is penalised.
func TestDiscovery(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hubGot := make(chan chainhash.Hash, 4)
	hub := startDiscoverer(ctx, t, 0, 0, hubGot)
	const leaves = 4
	var nodes []*node.Node
	var gots []chan chainhash.Hash
	for i := range leaves {
		got := make(chan chainhash.Hash, 4)
		nd := startDiscoverer(ctx, t, 1+i, leaves, got, hub.Addr())
		nodes, gots = append(nodes, nd), append(gots, got)
	}
	// Every leaf ends with the hub and the three other leaves. The hub
	// answers the first GET_BTADDR with the leaves connected then, so the
	// late ones learn the rest from the leaves they reach (askAddrs).
	meshed := func() bool {
		for _, nd := range nodes {
			if nd.Peers() < leaves {
				return false
			}
		}
		return true
	}
	for !meshed() {
		if ctx.Err() != nil {
			for i, nd := range nodes {
				t.Logf("leaf %d: %d peers", i, nd.Peers())
			}
			t.Fatal("the leaves never found one another")
		}
		time.Sleep(20 * time.Millisecond)
	}
	hub.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		ok := true
		for _, nd := range nodes {
			ok = ok && nd.Peers() == leaves-1
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the leaves did not notice the hub had gone")
		}
		time.Sleep(20 * time.Millisecond)
	}
	blk, err := blockgen.Block(blockgen.Config{Txs: 400, Seed: 190, Prev: *chaincfg.RegressionNetParams.GenesisHash, Height: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := nodes[0].Submit(ctx, blk); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < leaves; i++ {
		select {
		case h := <-gots[i]:
			if h != blk.BlockHash() {
				t.Fatalf("leaf %d completed %v, want %v", i, h, blk.BlockHash())
			}
		case <-ctx.Done():
			t.Fatalf("leaf %d never got the block", i)
		}
		b, err := nodes[i].Engine().Block(ctx, blk.BlockHash())
		if err != nil || b == nil || !bytes.Equal(serialize(t, b), serialize(t, blk)) {
			t.Fatalf("leaf %d holds a different block (%v)", i, err)
		}
	}
	for i, nd := range nodes {
		st := mustStatus(t, ctx, nd)
		for _, p := range st.Peers {
			if len(p.Penalties) != 0 {
				t.Errorf("leaf %d penalised %s: %v", i, p.Address, p.Penalties)
			}
		}
		if len(st.Bans) != 0 {
			t.Errorf("leaf %d banned %v", i, st.Bans)
		}
	}
}
