package node_test

import (
	"bytes"
	"context"
	"net/netip"
	"runtime"
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
// tests of falsified data (wrong hash, sibling, body) and of forged or
// replayed datagrams are in adversary_test.go. Subnets 100-149 are theirs.

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
		st, err := victim.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
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
		st, err := victim.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
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
		st, err := victim.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := findPeer(t, st, ip); !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the victim still lists the banned attacker %v as a peer", ip)
		}
		time.Sleep(10 * time.Millisecond)
	}
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
	got := nw.Block(ctx, i, hash)
	if got == nil || !bytes.Equal(serialize(t, got), serialize(t, blk)) {
		t.Fatalf("node %d holds a different block", i)
	}
}

// checkHonest fails the test if the victim penalised, banned or dropped
// the honest node at ip.
func checkHonest(ctx context.Context, t *testing.T, victim *node.Node, ip netip.Addr) {
	t.Helper()
	st, err := victim.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
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
	waitBan(ctx, t, victim, ip, job.ReasonMutated)
	waitDropped(ctx, t, victim, a, ip)
	checkRejected(t, victim, job.ReasonMutated)

	// Rejected at the OPEN_JOB: the victim never asked for the mutated
	// tree or bodies.
	if n := a.Answered(); n != 0 {
		t.Errorf("the victim asked the attacker for the mutated block %d times", n)
	}

	// The honest source opens the same block hash, with the real count.
	if err := nw.Nodes[attackHonest].Submit(ctx, blk); err != nil {
		t.Fatal(err)
	}
	waitExactBlock(ctx, t, nw, attackVictim, blk)
	st, err := victim.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
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
	waitBan(ctx, t, victim, ip, job.ReasonBadPoW)
	waitDropped(ctx, t, victim, a, ip)
	checkRejected(t, victim, job.ReasonBadPoW)

	if err := nw.Nodes[attackHonest].Submit(ctx, blk); err != nil {
		t.Fatal(err)
	}
	waitExactBlock(ctx, t, nw, attackVictim, blk)
	checkHonest(ctx, t, victim, lab.IP(subnet, attackHonest))
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
	st := waitBan(ctx, t, victim, ip, job.ReasonProtocol)
	waitDropped(ctx, t, victim, a, ip)
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
	if err := nw.Nodes[attackHonest].Submit(ctx, blk); err != nil {
		t.Fatal(err)
	}
	waitExactBlock(ctx, t, nw, attackVictim, blk)
	checkHonest(ctx, t, victim, lab.IP(subnet, attackHonest))
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
	if err := nw.Nodes[attackHonest].Submit(ctx, blk); err != nil {
		t.Fatal(err)
	}
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
	// Datagrams may be lost on a loaded machine: go on sending, in
	// bounded rounds, until the victim bans the attacker.
	deadline := time.Now().Add(attackWait)
	for round := 0; round < 200 && time.Now().Before(deadline); round++ {
		if err := a.SendUDP(bad[round%len(bad)]); err != nil {
			break // the victim has closed the session
		}
		if round%len(bad) == len(bad)-1 {
			st, err := victim.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := findBan(st, ip); ok {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitBan(ctx, t, victim, ip, job.ReasonProtocol)
	waitDropped(ctx, t, victim, a, ip)
	// Pushes are possible (the attacker accepts them), answers are not:
	// the requests named nothing that exists.
	if n := a.Answers(); n != 0 {
		t.Errorf("the victim answered %d datagrams to requests for nothing", n)
	}
	waitExactBlock(ctx, t, nw, attackVictim, blk)
	checkHonest(ctx, t, victim, lab.IP(subnet, attackHonest))
}

// TestAttackUnrequestedData sends the victim job data it never asked for.
// First NODES and TXS for a job it never opened: they are dropped
// unstored and counted as wasted bytes, and not scored, because the
// protocol lets a peer name a job before its OPEN_JOB has arrived
// (docs/protocol.md §6: crossing OPEN_JOBs, a UDP copy overtaken) and a job
// may have just been closed. Then, once the victim has the honest block's
// job, genuine leaf hashes pushed unsolicited past the victim's
// MAX_UNSOLICITED (set to 16 KiB here; the default is no limit): each
// datagram past it is `unrequested` (10), the tenth bans the attacker. The
// honest source respects the limit and is not scored.
func TestAttackUnrequestedData(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const subnet = 104
	nw := startAttackNet(ctx, t, subnet, func(cfg *node.Config) {
		cfg.Params.MaxUnsolicited = 16 << 10
	})
	victim := nw.Nodes[attackVictim]
	a := dialAttacker(ctx, t, victim, subnet, 0)
	ip := attackerIP(subnet, 0)

	// 1. Data for a job that does not exist.
	other := attackBlock(t, 200, 1040)
	osb, err := lab.NewServedBlock(other.Header, other.Transactions)
	if err != nil {
		t.Fatal(err)
	}
	oid := osb.JobID()
	var body bytes.Buffer
	if err := other.Transactions[1].Serialize(&body); err != nil {
		t.Fatal(err)
	}
	wasted0 := plainCounter(t, victim, "blocktorrent_wasted_bytes_total")
	const stray = 20
	for i := range stray {
		nodes := &wire.Nodes{JobID: oid, Runs: wire.Workout{Runs: []wire.Run{osb.Leaves(uint32(32*(i%6)), 32)}}}
		txs := &wire.Txs{JobID: oid, Fragments: []wire.TxFragment{{Leaf: 1, Total: uint32(body.Len()), Data: body.Bytes()}}}
		for _, m := range []wire.Message{nodes, txs} {
			if err := a.SendUDP(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(attackWait)
	for plainCounter(t, victim, "blocktorrent_wasted_bytes_total") <= wasted0 {
		if time.Now().After(deadline) {
			t.Fatal("the victim counted no wasted bytes for data of an unknown job")
		}
		time.Sleep(10 * time.Millisecond)
	}
	st, err := victim.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range st.Jobs {
		if j.Block == other.BlockHash().String() {
			t.Errorf("the victim holds a job for data it never opened: %+v", j)
		}
	}
	if p, ok := findPeer(t, st, ip); !ok || p.Score != 0 {
		t.Errorf("data for an unknown job: attacker connected %v, score %d %v, want connected and unscored", ok, p.Score, p.Penalties)
	}

	// 2. Genuine data pushed past MAX_UNSOLICITED.
	blk := attackBlock(t, 1000, 104)
	sb, err := lab.NewServedBlock(blk.Header, blk.Transactions)
	if err != nil {
		t.Fatal(err)
	}
	if err := nw.Nodes[attackHonest].Submit(ctx, blk); err != nil {
		t.Fatal(err)
	}
	waitOffered(t, a, blk)
	id := sb.JobID()
	deadline = time.Now().Add(attackWait)
	for i := 0; i < 2000 && time.Now().Before(deadline); i++ {
		m := &wire.Nodes{JobID: id, Runs: wire.Workout{Runs: []wire.Run{sb.Leaves(uint32(32*(i%31)), 32)}}}
		if err := a.SendUDP(m); err != nil {
			break // the victim has closed the session
		}
		if i%8 == 7 {
			st, err := victim.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := findBan(st, ip); ok {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitBan(ctx, t, victim, ip, job.ReasonUnrequested)
	waitDropped(ctx, t, victim, a, ip)
	checkRejected(t, victim, job.ReasonUnrequested)
	waitExactBlock(ctx, t, nw, attackVictim, blk)
	checkHonest(ctx, t, victim, lab.IP(subnet, attackHonest))
}

// oversized returns datagram payloads whose counts claim far more than the
// datagram holds or the protocol allows: each must fail to decode, before
// anything of the claimed size is allocated.
func oversized(t *testing.T) []struct {
	name    string
	typ     wire.MsgType
	payload []byte
} {
	t.Helper()
	blk := attackBlock(t, 3, 105)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	id := make([]byte, 8)
	reqID := wire.AppendUint32(nil, 7)
	huge64 := wire.AppendVarint(nil, ^uint64(0))
	huge32 := wire.AppendVarint(nil, 1<<32-1)
	return []struct {
		name    string
		typ     wire.MsgType
		payload []byte
	}{
		{"NODES run count 2^64-1", wire.TypeNodes, cat(id, reqID, huge64)},
		// One flat run at level 10 from 0 claiming 2^32-1 full hashes.
		{"NODES hash count 2^32-1", wire.TypeNodes, cat(id, reqID, []byte{1, 10, 0}, huge32, []byte{32, 0})},
		{"TXS fragment count 2^32-1", wire.TypeTxs, cat(id, reqID, huge32)},
		// One fragment of a 4,000,000-byte body claiming 4,000,000 bytes
		// with one byte present.
		{"TXS fragment length 4,000,000", wire.TypeTxs, cat(id, reqID, []byte{1, 0},
			wire.AppendVarint(nil, 4_000_000), []byte{0}, wire.AppendVarint(nil, 4_000_000), []byte{0xaa})},
		{"GET_NODES run count 2^64-1", wire.TypeGetNodes, cat(id, reqID, []byte{0}, huge64)},
		{"GET_TXS run count 2^32-1", wire.TypeGetTxs, cat(id, reqID, huge32)},
		{"JOB_STATE run count 2^64-1", wire.TypeJobState, cat(id, reqID, []byte{0}, huge64)},
		{"OPEN_JOB TX_COUNT 2^32-1", wire.TypeOpenJobUDP, cat(wire.AppendHeader(nil, &blk.Header), huge32, []byte{0, 0})},
	}
}

// TestAttackOversizedCounts has the attacker send datagrams with a valid
// header (its token, fresh SEQs) whose payloads claim huge counts. The
// decoder must reject each before allocating what it claims (checked here
// on the decoder itself: a few kilobytes at most per decode, not
// gigabytes); the victim scores each `protocol` (20), bans the attacker at
// the fifth, does not crash, and still completes the honest block.
func TestAttackOversizedCounts(t *testing.T) {
	cases := oversized(t)
	for _, c := range cases {
		if _, err := wire.DecodeMessage(c.typ, c.payload); err == nil {
			t.Fatalf("%s: decodes", c.name)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 100 {
			_, _ = wire.DecodeMessage(c.typ, c.payload)
		}
		runtime.ReadMemStats(&after)
		// Other goroutines of the process allocate too: the bound is loose,
		// but the claims are of gigabytes.
		if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
			t.Errorf("%s: 100 decodes allocated %d bytes", c.name, got)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const subnet = 105
	nw := startAttackNet(ctx, t, subnet, nil)
	victim := nw.Nodes[attackVictim]
	a := dialAttacker(ctx, t, victim, subnet, 0)
	ip := attackerIP(subnet, 0)
	deadline := time.Now().Add(attackWait)
	for round := 0; round < 100 && time.Now().Before(deadline); round++ {
		c := cases[round%len(cases)]
		if err := a.SendRawUDP(c.typ, c.payload); err != nil {
			break // the victim has closed the session
		}
		if round%len(cases) == len(cases)-1 {
			st, err := victim.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := findBan(st, ip); ok {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitBan(ctx, t, victim, ip, job.ReasonProtocol)
	waitDropped(ctx, t, victim, a, ip)

	blk := attackBlock(t, 1000, 105)
	if err := nw.Nodes[attackHonest].Submit(ctx, blk); err != nil {
		t.Fatal(err)
	}
	waitExactBlock(ctx, t, nw, attackVictim, blk)
	checkHonest(ctx, t, victim, lab.IP(subnet, attackHonest))
}

// TestAttackWrongGenesis has peers of other networks try to connect: one
// with another network's magic and genesis (mainnet), one with the
// victim's magic but another genesis hash. docs/protocol.md §5: the
// victim answers BTVERSION with DISCONNECT wrong-genesis, closes the
// connection and bans the address (reason wrong-genesis), so the next
// attempt from that address is closed before any handshake. The honest
// block still arrives and the honest peer is not scored.
func TestAttackWrongGenesis(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const subnet = 106
	nw := startAttackNet(ctx, t, subnet, nil)
	victim := nw.Nodes[attackVictim]

	otherGenesis := chaincfg.RegressionNetParams
	otherGenesis.GenesisHash = chaincfg.MainNetParams.GenesisHash
	tests := []struct {
		name   string
		params *chaincfg.Params
	}{
		{"mainnet", &chaincfg.MainNetParams},
		{"regtest magic, mainnet genesis", &otherGenesis},
	}
	for k, tt := range tests {
		ip := attackerIP(subnet, k)
		m, err := lab.ProbeHandshake(ctx, victim.Addr(), ip, lab.NewVersion(tt.params, 1))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		d, ok := m.(*wire.Disconnect)
		if !ok || d.Reason != wire.ReasonWrongGenesis {
			t.Fatalf("%s: the victim answered %v %+v, want DISCONNECT wrong-genesis", tt.name, m.Type(), m)
		}
		waitBan(ctx, t, victim, ip, "wrong-genesis")
		// Banned: the next attempt, even with the right network, gets no
		// handshake.
		if m, err := lab.ProbeHandshake(ctx, victim.Addr(), ip, lab.NewVersion(&chaincfg.RegressionNetParams, 1)); err == nil {
			t.Errorf("%s: a banned address was answered %v %+v", tt.name, m.Type(), m)
		}
	}
	st, err := victim.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Peers) != 1 {
		t.Errorf("the victim has %d peers, want only the honest one: %+v", len(st.Peers), st.Peers)
	}

	blk := attackBlock(t, 1000, 106)
	if err := nw.Nodes[attackHonest].Submit(ctx, blk); err != nil {
		t.Fatal(err)
	}
	waitExactBlock(ctx, t, nw, attackVictim, blk)
	checkHonest(ctx, t, victim, lab.IP(subnet, attackHonest))
}
