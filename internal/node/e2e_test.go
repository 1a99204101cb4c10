package node_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/blockgen"
	"github.com/blocktorrent/blocktorrent/internal/lab"
	"github.com/blocktorrent/blocktorrent/internal/linkemu"
	"github.com/btcsuite/btcd/chaincfg/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

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
