package node_test

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/blockgen"
	"github.com/blocktorrent/blocktorrent/internal/job"
	"github.com/blocktorrent/blocktorrent/internal/lab"
	"github.com/blocktorrent/blocktorrent/internal/linkemu"
	"github.com/blocktorrent/blocktorrent/internal/node"
	"github.com/blocktorrent/blocktorrent/internal/pow"
	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chaincfg/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// End-to-end attack tests: real nodes over loopback UDP and TCP (lab.Start)
// and an evil peer, either a lab.Attacker (a real session speaking any
// message the test chooses) or a real node whose socket a lab wrapper
// falsifies. Each test ends with the victim holding the exact honest block
// and, for provable lies and protocol violations, the attacker banned for
// the right reason and disconnected; no honest peer may be penalised. The
// input attacks (unrequested data, oversized counts, wrong genesis) are in
// attack_input_test.go and the stalling source in attack_stall_test.go
// (subnets 100-149 are theirs); the tests of falsified data (wrong hash,
// sibling, body) and of forged or replayed datagrams are in
// adversary_test.go, of falsified witnesses in witness_test.go, and of a
// datagram flood in flood_test.go.

// attackWait bounds each wait for an event of the victim.
const attackWait = 20 * time.Second

// Roles of the two-node attack nets.
const (
	attackHonest = 0
	attackVictim = 1
)

// startAttackNet starts an honest source (node 0) and the victim (node 1),
// linked at 5 ms and 50 Mbit/s. configure, if set, adjusts the victim's
// configuration.
func startAttackNet(ctx context.Context, t *testing.T, subnet byte, configure func(cfg *node.Config)) *lab.Net {
	t.Helper()
	p := linkemu.Profile{Delay: 5 * time.Millisecond, RateBps: 50e6}
	nw, err := lab.Start(ctx, 2, lab.Line(2, p), lab.Options{
		Subnet: subnet,
		Configure: func(i int, cfg *node.Config) {
			if i == attackVictim && configure != nil {
				configure(cfg)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nw.Close)
	return nw
}

// attackerIP returns the k-th attacker address of a subnet, apart from the
// nodes' addresses.
func attackerIP(subnet byte, k int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, 77, subnet, byte(200 + k)})
}

// dialAttacker connects an attacker from attackerIP(subnet, k) to the
// victim and waits until the victim lists it as a peer.
func dialAttacker(ctx context.Context, t *testing.T, victim *node.Node, subnet byte, k int) *lab.Attacker {
	t.Helper()
	ip := attackerIP(subnet, k)
	a, err := lab.DialAttacker(ctx, victim.Addr(), lab.AttackerConfig{IP: ip})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	deadline := time.Now().Add(attackWait)
	for {
		st := mustStatus(t, ctx, victim)
		if _, ok := findPeer(t, st, ip); ok {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("the victim does not list the attacker %v as a peer", ip)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitBan waits until the victim has banned ip for reason and returns its
// status then. A ban for another reason fails the test at once.
func waitBan(ctx context.Context, t *testing.T, victim *node.Node, ip netip.Addr, reason string) node.Status {
	t.Helper()
	deadline := time.Now().Add(attackWait)
	for {
		st := mustStatus(t, ctx, victim)
		if b, ok := findBan(st, ip); ok {
			if b.Reason != reason {
				t.Fatalf("the victim banned %v for %q, want %q", ip, b.Reason, reason)
			}
			return st
		}
		if time.Now().After(deadline) {
			dumpStatus(ctx, t, "victim", victim)
			t.Fatalf("the victim did not ban %v for %q", ip, reason)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitDropped waits until the victim has ended the attacker's session and
// no longer lists it as a peer.
func waitDropped(ctx context.Context, t *testing.T, victim *node.Node, a *lab.Attacker, ip netip.Addr) {
	t.Helper()
	select {
	case <-a.Done():
	case <-time.After(attackWait):
		t.Fatalf("the victim did not disconnect the attacker %v", ip)
	}
	deadline := time.Now().Add(attackWait)
	for {
		st := mustStatus(t, ctx, victim)
		if _, ok := findPeer(t, st, ip); !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the victim still lists the banned attacker %v as a peer", ip)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitConvicted waits until the victim has banned the attacker a at ip for
// reason and ended its session, and returns the victim's status at the
// ban.
func waitConvicted(ctx context.Context, t *testing.T, victim *node.Node, a *lab.Attacker, ip netip.Addr, reason string) node.Status {
	t.Helper()
	st := waitBan(ctx, t, victim, ip, reason)
	waitDropped(ctx, t, victim, a, ip)
	return st
}

// sendUntilBanned calls send(round) for up to rounds rounds, or until
// attackWait has passed, and after every every-th round stops if the
// victim has banned ip, else pauses. Datagrams may be lost on a loaded
// machine: the attacker goes on sending, in bounded rounds, until the ban.
// A send error ends the rounds (the victim has closed the session).
func sendUntilBanned(ctx context.Context, t *testing.T, victim *node.Node, ip netip.Addr, rounds, every int, pause time.Duration, send func(round int) error) {
	t.Helper()
	deadline := time.Now().Add(attackWait)
	for round := 0; round < rounds && time.Now().Before(deadline); round++ {
		if err := send(round); err != nil {
			return
		}
		if round%every == every-1 {
			st := mustStatus(t, ctx, victim)
			if _, ok := findBan(st, ip); ok {
				return
			}
			time.Sleep(pause)
		}
	}
}

// submitHonest submits blk to the honest source of an attack net.
func submitHonest(ctx context.Context, t *testing.T, nw *lab.Net, blk *btcwire.MsgBlock) {
	t.Helper()
	if err := nw.Nodes[attackHonest].Submit(ctx, blk); err != nil {
		t.Fatal(err)
	}
}

// waitHonestBlock waits until the victim of an attack net holds the exact
// blk and checks that it has not penalised, banned or dropped the honest
// source.
func waitHonestBlock(ctx context.Context, t *testing.T, nw *lab.Net, subnet byte, blk *btcwire.MsgBlock) {
	t.Helper()
	waitExactBlock(ctx, t, nw, attackVictim, blk)
	checkHonest(ctx, t, nw.Nodes[attackVictim], lab.IP(subnet, attackHonest))
}

// waitExactBlock waits until node i of nw holds blk and checks that it is
// byte for byte the honest block.
func waitExactBlock(ctx context.Context, t *testing.T, nw *lab.Net, i int, blk *btcwire.MsgBlock) {
	t.Helper()
	hash := blk.BlockHash()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if best, _, _ := nw.Nodes[i].Tip(); best == hash {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			dumpStatus(ctx, t, "node", nw.Nodes[i])
			t.Fatalf("node %d does not have block %v", i, hash)
		}
		time.Sleep(5 * time.Millisecond)
	}
	checkExactBlock(ctx, t, nw, i, blk)
}

// checkExactBlock fails the test unless the block node i of nw holds for
// blk's hash is byte for byte blk.
func checkExactBlock(ctx context.Context, t *testing.T, nw *lab.Net, i int, blk *btcwire.MsgBlock) {
	t.Helper()
	got := nw.Block(ctx, i, blk.BlockHash())
	if got == nil || !bytes.Equal(serialize(t, got), serialize(t, blk)) {
		t.Fatalf("node %d holds a different block", i)
	}
}

// checkHonest fails the test if the victim penalised, banned or dropped
// the honest node at ip.
func checkHonest(ctx context.Context, t *testing.T, victim *node.Node, ip netip.Addr) {
	t.Helper()
	st := mustStatus(t, ctx, victim)
	checkHonestIn(t, st, ip)
}

// checkHonestIn fails the test if the victim's status st shows the honest
// node at ip penalised, banned or dropped.
func checkHonestIn(t *testing.T, st node.Status, ip netip.Addr) {
	t.Helper()
	if b, ok := findBan(st, ip); ok {
		t.Errorf("the honest node %v is banned: %+v", ip, b)
	}
	p, ok := findPeer(t, st, ip)
	switch {
	case !ok:
		t.Errorf("the honest node %v is no longer connected to the victim", ip)
	case p.Score != 0:
		t.Errorf("the honest node %v was penalised: score %d %v", ip, p.Score, p.Penalties)
	}
}

// checkRejected fails the test unless the victim counted a rejection for
// reason.
func checkRejected(t *testing.T, victim *node.Node, reason string) {
	t.Helper()
	if v := counterValue(t, victim.Registry(), "blocktorrent_rejected_total", "reason", reason); v <= 0 {
		t.Errorf("blocktorrent_rejected_total{reason=%q} = %v, want > 0", reason, v)
	}
}

// plainCounter returns the value of a counter without labels of nd's
// registry (0 when it does not exist).
func plainCounter(t *testing.T, nd *node.Node, name string) float64 {
	t.Helper()
	mfs, err := nd.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// attackBlock returns a regtest block of n transactions on the genesis
// block.
func attackBlock(t *testing.T, n int, seed uint64) *btcwire.MsgBlock {
	t.Helper()
	blk, err := blockgen.Block(blockgen.Config{Txs: n, Seed: seed, Prev: *chaincfg.RegressionNetParams.GenesisHash, Height: 1})
	if err != nil {
		t.Fatal(err)
	}
	return blk
}

// TestAttackMutatedTree is CVE-2012-2459 done for real. The honest block
// has 999 transactions; the mutated block has the same header and the last
// transaction twice (1,000 leaves), so the same merkle root and block hash.
// The attacker opens the job for that hash first, with TX_COUNT 1,000, the
// root lap of the mutated tree, and is ready to serve the mutated tree and
// bodies. The OPEN_JOB lap holds the right edge down to the last leaf, so
// the two equal real siblings are in the lap itself: the victim rejects the
// OPEN_JOB as "mutated" and bans the attacker. It must not remember the
// block hash as invalid (Bitcoin Core's bug): when the honest source opens
// the job with the real count afterwards, the victim completes the exact
// honest block.
func TestAttackMutatedTree(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const subnet = 100
	nw := startAttackNet(ctx, t, subnet, nil)
	victim := nw.Nodes[attackVictim]
	a := dialAttacker(ctx, t, victim, subnet, 0)

	blk := attackBlock(t, 999, 100)
	txs := blk.Transactions
	mutated := append(txs[:len(txs):len(txs)], txs[len(txs)-1])
	sb, err := lab.NewServedBlock(blk.Header, mutated)
	if err != nil {
		t.Fatal(err)
	}
	if sb.Root() != blk.Header.MerkleRoot {
		t.Fatal("the mutated tree does not have the honest merkle root")
	}
	oj, err := sb.OpenJob()
	if err != nil {
		t.Fatal(err)
	}
	if oj.TxCount != uint32(len(txs)+1) {
		t.Fatalf("mutated OPEN_JOB TX_COUNT %d, want %d", oj.TxCount, len(txs)+1)
	}
	a.Serve(sb)
	// Both copies, UDP first, as a node sends them. Whichever the victim
	// handles first gets the attacker banned, and the session may be gone
	// before the second is sent: its error does not matter.
	if err := a.SendUDP(oj); err != nil {
		t.Fatal(err)
	}
	_ = a.SendTCP(oj)
	ip := attackerIP(subnet, 0)
	waitConvicted(ctx, t, victim, a, ip, job.ReasonMutated)
	checkRejected(t, victim, job.ReasonMutated)

	// Rejected at the OPEN_JOB: the victim never asked for the mutated
	// tree or bodies.
	if n := a.Answered(); n != 0 {
		t.Errorf("the victim asked the attacker for the mutated block %d times", n)
	}

	// The honest source opens the same block hash, with the real count.
	submitHonest(ctx, t, nw, blk)
	waitExactBlock(ctx, t, nw, attackVictim, blk)
	st := mustStatus(t, ctx, victim)
	for _, j := range st.Jobs {
		if j.Block == blk.BlockHash().String() && j.Txs != uint32(len(txs)) {
			t.Errorf("the victim's job has %d transactions, want %d", j.Txs, len(txs))
		}
	}
	checkHonest(ctx, t, victim, lab.IP(subnet, attackHonest))
}

// TestAttackBadPoW has the attacker open a job whose header fails its
// proof of work on regtest (the honest header with a nonce whose hash is
// above the target; the lap is the honest one, so only the proof of work
// is wrong). The victim must score it bad-pow (100: banned and
// disconnected) and still take the honest block from the honest source.
func TestAttackBadPoW(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const subnet = 101
	nw := startAttackNet(ctx, t, subnet, nil)
	victim := nw.Nodes[attackVictim]
	a := dialAttacker(ctx, t, victim, subnet, 0)

	blk := attackBlock(t, 500, 101)
	hdr := blk.Header
	powLimit := chaincfg.RegressionNetParams.PowLimit
	found := false
	for range 10_000 { // half of all nonces fail on regtest
		hdr.Nonce++
		if err := pow.Check(&hdr, powLimit); err != nil {
			found = true
			break
		}
	}
	if !found {
		t.Fatal("no nonce failing the proof of work found")
	}
	sb, err := lab.NewServedBlock(hdr, blk.Transactions)
	if err != nil {
		t.Fatal(err)
	}
	oj, err := sb.OpenJob()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SendTCP(oj); err != nil {
		t.Fatal(err)
	}
	ip := attackerIP(subnet, 0)
	waitConvicted(ctx, t, victim, a, ip, job.ReasonBadPoW)
	checkRejected(t, victim, job.ReasonBadPoW)

	submitHonest(ctx, t, nw, blk)
	waitHonestBlock(ctx, t, nw, subnet, blk)
}

// TestAttackJobFlood has the attacker open many jobs, each with a valid
// proof of work and a valid root lap, for blocks whose data never comes.
// The victim opens at most its MAX_JOBS (8) of them for that peer, ignores
// the rest, scores the excess `protocol` (20 for every 17 ignored past the
// limit, docs/protocol.md §10), so 93 OPEN_JOBs ban the flooder. The
// honest block, opened afterwards by the honest source, must still arrive:
// the per-peer cap keeps the flood from taking the global one.
func TestAttackJobFlood(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const subnet = 102
	nw := startAttackNet(ctx, t, subnet, nil)
	victim := nw.Nodes[attackVictim]
	a := dialAttacker(ctx, t, victim, subnet, 0)

	const flood = 110
	bogus := make(map[string]bool)
	for i := range flood {
		b := attackBlock(t, 3, uint64(1000+i))
		sb, err := lab.NewServedBlock(b.Header, b.Transactions)
		if err != nil {
			t.Fatal(err)
		}
		oj, err := sb.OpenJob()
		if err != nil {
			t.Fatal(err)
		}
		bogus[b.BlockHash().String()] = true
		// TCP only: each copy of an ignored OPEN_JOB counts, and TCP
		// delivers every one exactly once. The victim bans the flooder
		// after 93; the session may end before the rest are queued.
		if err := a.SendTCP(oj); err != nil {
			t.Logf("OPEN_JOB %d not sent: %v", i+1, err)
			break
		}
	}
	ip := attackerIP(subnet, 0)
	st := waitConvicted(ctx, t, victim, a, ip, job.ReasonProtocol)
	opened := 0
	for _, j := range st.Jobs {
		if bogus[j.Block] {
			opened++
		}
	}
	t.Logf("the victim opened %d of %d flood jobs", opened, flood)
	if opened > 8 {
		t.Errorf("the victim opened %d jobs of one peer, limit 8", opened)
	}

	blk := attackBlock(t, 1000, 102)
	submitHonest(ctx, t, nw, blk)
	waitHonestBlock(ctx, t, nw, subnet, blk)
}

// waitOffered waits until the victim has offered the attacker the job of
// blk (its OPEN_JOB) and returns it.
func waitOffered(t *testing.T, a *lab.Attacker, blk *btcwire.MsgBlock) *wire.OpenJob {
	t.Helper()
	id := wire.JobIDOf(blk.BlockHash())
	deadline := time.Now().Add(attackWait)
	for {
		if oj, ok := a.OpenJob(id); ok {
			return oj
		}
		if time.Now().After(deadline) {
			t.Fatalf("the victim did not offer the attacker job %v", id)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAttackRequestsOutsideTree has the attacker, once the victim offers
// it the honest block's job, ask for nodes and leaves that do not exist:
// GET_NODES past the end of a level and below the leaves, GET_TXS past the
// last leaf. Each is a protocol violation (20); the fifth bans the
// attacker. The victim must answer none of them and complete the honest
// block.
func TestAttackRequestsOutsideTree(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const subnet = 103
	nw := startAttackNet(ctx, t, subnet, nil)
	victim := nw.Nodes[attackVictim]
	a := dialAttacker(ctx, t, victim, subnet, 0)

	blk := attackBlock(t, 1000, 103)
	submitHonest(ctx, t, nw, blk)
	oj := waitOffered(t, a, blk)
	n := oj.TxCount
	d := uint8(0)
	for uint32(1)<<d < n {
		d++
	}
	id := oj.JobID()
	bad := []wire.Message{
		&wire.GetNodes{JobID: id, ReqID: 1, Want: wire.Workout{Runs: []wire.Run{wire.HashlessFlat(d, n, 4)}}},
		&wire.GetTxs{JobID: id, ReqID: 2, Leaves: wire.Workout{Runs: []wire.Run{wire.HashlessFlat(d, n-1, 8)}}},
		&wire.GetNodes{JobID: id, ReqID: 3, Want: wire.Workout{Runs: []wire.Run{wire.HashlessFlat(d+1, 0, 2)}}},
		&wire.GetTxs{JobID: id, ReqID: 4, Leaves: wire.Workout{Runs: []wire.Run{wire.HashlessFlat(d, 1<<d, 1)}}},
		&wire.GetNodes{JobID: id, ReqID: 5, Want: wire.Workout{Runs: []wire.Run{wire.HashlessFlat(1, 2, 1)}}},
	}
	ip := attackerIP(subnet, 0)
	sendUntilBanned(ctx, t, victim, ip, 200, len(bad), 20*time.Millisecond, func(round int) error {
		return a.SendUDP(bad[round%len(bad)])
	})
	waitConvicted(ctx, t, victim, a, ip, job.ReasonProtocol)
	// Pushes are possible (the attacker accepts them), answers are not:
	// the requests named nothing that exists.
	if n := a.Answers(); n != 0 {
		t.Errorf("the victim answered %d datagrams to requests for nothing", n)
	}
	waitHonestBlock(ctx, t, nw, subnet, blk)
}
