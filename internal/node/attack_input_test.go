package node_test

import (
	"bytes"
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/job"
	"github.com/blocktorrent/blocktorrent/internal/lab"
	"github.com/blocktorrent/blocktorrent/internal/node"
	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chaincfg/v2"
)

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
	st := mustStatus(t, ctx, victim)
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
	submitHonest(ctx, t, nw, blk)
	waitOffered(t, a, blk)
	id := sb.JobID()
	sendUntilBanned(ctx, t, victim, ip, 2000, 8, 5*time.Millisecond, func(i int) error {
		return a.SendUDP(&wire.Nodes{JobID: id, Runs: wire.Workout{Runs: []wire.Run{sb.Leaves(uint32(32*(i%31)), 32)}}})
	})
	waitConvicted(ctx, t, victim, a, ip, job.ReasonUnrequested)
	checkRejected(t, victim, job.ReasonUnrequested)
	waitHonestBlock(ctx, t, nw, subnet, blk)
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
	sendUntilBanned(ctx, t, victim, ip, 100, len(cases), 20*time.Millisecond, func(round int) error {
		c := cases[round%len(cases)]
		return a.SendRawUDP(c.typ, c.payload)
	})
	waitConvicted(ctx, t, victim, a, ip, job.ReasonProtocol)

	blk := attackBlock(t, 1000, 105)
	submitHonest(ctx, t, nw, blk)
	waitHonestBlock(ctx, t, nw, subnet, blk)
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
	st := mustStatus(t, ctx, victim)
	if len(st.Peers) != 1 {
		t.Errorf("the victim has %d peers, want only the honest one: %+v", len(st.Peers), st.Peers)
	}

	blk := attackBlock(t, 1000, 106)
	submitHonest(ctx, t, nw, blk)
	waitHonestBlock(ctx, t, nw, subnet, blk)
}
