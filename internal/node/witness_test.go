package node_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/blockgen"
	"github.com/blocktorrent/blocktorrent/internal/lab"
	"github.com/btcsuite/btcd/chaincfg/v2"
)

// witnessSubnet is the third octet of TestAdversaryWrongWitness's nodes.
const witnessSubnet = 191

// TestAdversaryWrongWitness has an evil source send segwit bodies whose
// witness it altered: their txids, and so every merkle check, still hold,
// and only the block's witness commitment shows the lie, once the block is
// whole. The victim (node 2) opens the job from the evil node (1), which
// has the faster link, and also hears from an honest node (0). It must end
// with the exact block, witnesses included, and never penalise the honest
// node. After the mismatch it fetches every witness-bearing body again from
// one peer that announced the block complete: the evil node, whose link is
// faster. That round fails too, which convicts it (a complete peer has
// checked the commitment): it is banned for invalid-body, and the honest
// node serves the third round. Before this rule the victim refetched from
// the fastest peer, the liar, until chance let an honest body through
// (26.7 s and 70 MB for this 1,000-transaction block; now well under 1 s).
func TestAdversaryWrongWitness(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const honest, evil, victim = evilNetHonest, evilNetEvil, evilNetVictim
	var corruptor *lab.Corruptor
	nw := startEvilNet(ctx, t, witnessSubnet, 50e6, func(pc net.PacketConn) net.PacketConn {
		corruptor = lab.NewCorruptor(pc, lab.WrongWitness)
		return corruptor
	}, nil)
	blk, err := blockgen.Block(blockgen.Config{Txs: 1000, Seed: 191, Witness: 0.5, Prev: *chaincfg.RegressionNetParams.GenesisHash, Height: 1})
	if err != nil {
		t.Fatal(err)
	}
	hash := blk.BlockHash()
	submitEvilFirst(ctx, t, nw, blk)
	if missing, err := nw.WaitBlock(ctx, hash, 60*time.Second); err != nil {
		dumpStatus(ctx, t, "victim", nw.Nodes[victim])
		t.Fatalf("%v (missing %v, corrupted %d datagrams)", err, missing, corruptor.Corrupted())
	}
	if n := corruptor.Corrupted(); n < 1 {
		t.Fatal("the evil node corrupted no datagram: the attack did not happen")
	}
	checkExactBlock(ctx, t, nw, victim, blk)
	st := mustStatus(t, ctx, nw.Nodes[victim])
	t.Logf("corrupted %d datagrams; victim peers %+v bans %+v", corruptor.Corrupted(), st.Peers, st.Bans)
	if b, ok := findBan(st, lab.IP(witnessSubnet, evil)); !ok || b.Reason != "invalid-body" {
		t.Errorf("the evil node is not banned for invalid-body: %+v", st.Bans)
	}
	checkHonestIn(t, st, lab.IP(witnessSubnet, honest))
}
