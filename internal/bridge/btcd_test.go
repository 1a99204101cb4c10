package bridge_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/bridge"
	"github.com/blocktorrent/blocktorrent/internal/job"
	"github.com/blocktorrent/blocktorrent/internal/lab"
	"github.com/blocktorrent/blocktorrent/internal/linkemu"
	"github.com/blocktorrent/blocktorrent/internal/mempool"
	"github.com/blocktorrent/blocktorrent/internal/node"
	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/rpcclient"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// batchSize is the number of transactions spent per batch (plus the one
// that splits a coinbase into their inputs).
const batchSize = 300

// TestBtcdBridge runs two btcd regtest nodes that are not connected to
// each other, each bridged to a Blocktorrent node; the Blocktorrent nodes
// are the only path between them. Blocks mined on btcd A must reach btcd
// B: coinbase-only blocks, a block of transactions B never saw, a warm
// block whose transactions B's mempool holds, and a warm block whose
// short hashes collide with junk crafted into B's mempool.
func TestBtcdBridge(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two btcd nodes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	bin := buildBtcd(t)

	key, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	params := &chaincfg.RegressionNetParams
	addr, err := address.NewAddressPubKeyHash(address.Hash160(key.PubKey().SerializeCompressed()), params)
	if err != nil {
		t.Fatal(err)
	}
	pkScript, err := txscript.PayToAddrScript(addr)
	if err != nil {
		t.Fatal(err)
	}
	btcA := startBtcd(t, bin, addr.EncodeAddress())
	btcB := startBtcd(t, bin, addr.EncodeAddress())

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var brs [2]*bridge.Bridge
	for i, b := range []*btcdProc{btcA, btcB} {
		brs[i], err = bridge.New(bridge.Config{
			Network: "regtest", P2P: b.p2p, RPC: b.rpcAddr, RPCUser: "u", RPCPass: "p",
			MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, RemoveDelay: 500 * time.Millisecond,
			Log: log.With("bridge", i),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// 127.77.60.1 (node 0, bridged to A) and 127.77.60.2 (node 1, bridged
	// to B, dialling node 0).
	link := []lab.Link{{A: 1, B: 0, Profile: linkemu.Profile{Delay: time.Millisecond}}}
	ln, err := lab.Start(ctx, 2, link, lab.Options{
		Subnet:    60,
		Configure: func(i int, cfg *node.Config) { cfg.OnBlock = brs[i].OnBlock },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nodeA, nodeB := ln.Nodes[0], ln.Nodes[1]
	for i, br := range brs {
		if err := br.Start(ctx, ln.Nodes[i]); err != nil {
			t.Fatal(err)
		}
		defer br.Close()
	}
	waitFor(t, ctx, 30*time.Second, "bridges connected", func() bool { return brs[0].Connected() && brs[1].Connected() })

	// (a) Coinbase-only blocks, one at a time.
	var early []*chainhash.Hash
	for range 5 {
		hs, err := btcA.rpc.Generate(1)
		if err != nil {
			t.Fatal(err)
		}
		early = append(early, hs[0])
		waitTip(t, ctx, btcB, hs[0])
	}
	t.Logf("(a) 5 coinbase-only blocks reached btcd B")

	// (b) Maturity, then a block of transactions only btcd A saw.
	hs, err := btcA.rpc.Generate(100)
	if err != nil {
		t.Fatal(err)
	}
	waitTip(t, ctx, btcB, hs[len(hs)-1])
	t.Logf("(b) 100 more blocks reached btcd B")
	coinbase := func(i int) *wire.MsgTx {
		blk, err := btcA.rpc.GetBlock(early[i])
		if err != nil {
			t.Fatal(err)
		}
		return blk.Transactions[0]
	}
	batch := makeBatch(t, coinbase(0), pkScript, key)
	sendAll(t, batch, btcA)
	// A third bridge with no P2P (its port is closed) learns btcd A's
	// transactions from getblocktemplate alone. It starts after the
	// transactions were sent: btcd rebuilds a template for new
	// transactions only once a minute.
	gbtNode := newFakeNode()
	gbt, err := bridge.New(bridge.Config{
		Network: "regtest", P2P: freePort(t), RPC: btcA.rpcAddr, RPCUser: "u", RPCPass: "p",
		PollTemplate: 200 * time.Millisecond, Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := gbt.Start(ctx, gbtNode); err != nil {
		t.Fatal(err)
	}
	defer gbt.Close()
	waitFor(t, ctx, 20*time.Second, "the template's transactions in the mempool", func() bool {
		for _, tx := range batch {
			if !gbtNode.pool.Has(tx.TxHash()) {
				return false
			}
		}
		return true
	})
	t.Logf("(b) getblocktemplate polling added %d transactions", gbt.Stats().TemplateTxs)
	gbt.Close()
	blockB := mineCheck(t, ctx, btcA, btcB, len(batch))
	t.Logf("(b) block %v with %d transactions reached btcd B", blockB, len(batch)+1)

	// (c) Warm: both Bitcoin nodes, and so both mempools, hold the
	// transactions before the block.
	batch = makeBatch(t, coinbase(1), pkScript, key)
	sendAll(t, batch, btcA, btcB)
	waitMempools(t, ctx, batch, nodeA, nodeB)
	blockC := mineCheck(t, ctx, btcA, btcB, len(batch))
	js := jobOf(t, ctx, nodeB, blockC)
	perTx := float64(js.ShortBytes) / float64(max(js.ShortLeaves, 1))
	t.Logf("(c) warm block %v: %d txs, bodies from mempool %d, short leaves %d, short leaf bytes %d: %.2f bytes per known tx; body requests %d, bytes in %d",
		blockC, js.Txs, js.FromMempool, js.ShortLeaves, js.ShortBytes, perTx, js.BodyRequests, js.BytesIn)
	if js.FromMempool != len(batch) {
		t.Errorf("(c) %d bodies from the mempool, want every non-coinbase transaction (%d)", js.FromMempool, len(batch))
	}
	if js.ShortLeaves == 0 || perTx > 3 {
		t.Errorf("(c) %d short leaves in %d bytes: want some, at most 3 bytes each", js.ShortLeaves, js.ShortBytes)
	}
	if js.BodyRequests != 0 {
		t.Errorf("(c) %d body requests, want 0", js.BodyRequests)
	}

	// (d) Warm block whose leaves collide, at the sender's short hash
	// size, with junk crafted into B's mempool only.
	batch = makeBatch(t, coinbase(2), pkScript, key)
	sendAll(t, batch, btcA, btcB)
	waitMempools(t, ctx, batch, nodeA, nodeB)
	txids := make([]chainhash.Hash, len(batch))
	for i, tx := range batch {
		txids[i] = tx.TxHash()
	}
	_, stats, err := nodeA.Mempool().EncodeLeaves(txids, nil, mempool.MinShortSize)
	if err != nil {
		t.Fatal(err)
	}
	size := stats.ShortSize
	junkN := 6
	switch {
	case size > 3:
		t.Logf("(d) the sender's short size is %d bytes: crafting collisions skipped", size)
		junkN = 0
	case size == 3:
		junkN = 1 // 2^24 tries each
	}
	for i := range junkN {
		target := txids[1+i*(len(txids)-1)/max(junkN, 1)]
		junk := grind(target[:size], uint32(i))
		if added, err := nodeB.Mempool().Add(junk); err != nil || !added {
			t.Fatalf("junk not added: %v", err)
		}
		if c := nodeB.Mempool().Candidates(target[:size], 8); len(c) < 2 {
			t.Fatalf("junk %v does not collide with %v at %d bytes", junk.TxHash(), target, size)
		}
	}
	t.Logf("(d) %d junk transactions in B's mempool share their first %d bytes with block transactions", junkN, size)
	unresolvedBefore := unresolved(t, nodeB)
	blockD := mineCheck(t, ctx, btcA, btcB, len(batch))
	js = jobOf(t, ctx, nodeB, blockD)
	t.Logf("(d) block %v: bodies from mempool %d, short leaves %d, short leaf bytes %d, body requests %d",
		blockD, js.FromMempool, js.ShortLeaves, js.ShortBytes, js.BodyRequests)
	t.Logf("(d) node B left %v short hashes unresolved (asked for them in full): the merkle check chose between the candidates",
		unresolved(t, nodeB)-unresolvedBefore)
	got, err := nodeB.Engine().Block(ctx, *blockD)
	if err != nil || got == nil {
		t.Fatalf("(d) node B lacks the block: %v", err)
	}
	want, err := btcA.rpc.GetBlock(blockD)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(serialize(t, got), serialize(t, want)) {
		t.Fatal("(d) node B holds a different block")
	}
	for i, nd := range ln.Nodes {
		st, err := nd.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range st.Peers {
			if p.Score != 0 {
				t.Errorf("node %d penalized peer %s: score %d %v", i, p.Address, p.Score, p.Penalties)
			}
		}
		if len(st.Bans) != 0 {
			t.Errorf("node %d banned %+v", i, st.Bans)
		}
	}
	// The confirmed transactions leave both mempools after RemoveDelay;
	// the junk stays.
	waitFor(t, ctx, 10*time.Second, "confirmed transactions to leave the mempools", func() bool {
		for _, nd := range ln.Nodes {
			for _, id := range txids {
				if nd.Mempool().Has(id) {
					return false
				}
			}
		}
		return true
	})
	for i, br := range brs {
		st := br.Stats()
		t.Logf("bridge %d: %+v", i, st)
		if st.Connects != 1 || st.RPCErrors != 0 {
			t.Errorf("bridge %d: %d connects, %d RPC errors; want 1 and 0", i, st.Connects, st.RPCErrors)
		}
	}
}

// btcdProc is a running btcd.
type btcdProc struct {
	p2p, rpcAddr string
	rpc          *rpcclient.Client
}

// buildBtcd builds the btcd of go.mod's tool directive (the same binary
// `go tool btcd` runs) into a temporary directory.
func buildBtcd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "btcd")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/btcsuite/btcd").CombinedOutput(); err != nil {
		t.Fatalf("building btcd: %v\n%s", err, out)
	}
	return bin
}

// freePort returns a loopback address with a free TCP port.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startBtcd starts a regtest btcd on loopback that connects to no one
// (--connect to a closed loopback port only, no DNS seeds) and waits for
// its RPC.
func startBtcd(t *testing.T, bin, miningAddr string) *btcdProc {
	t.Helper()
	dir := t.TempDir()
	p := &btcdProc{p2p: freePort(t), rpcAddr: freePort(t)}
	args := []string{
		"--regtest", "--datadir=" + dir, "--logdir=" + dir,
		"--listen=" + p.p2p, "--rpclisten=" + p.rpcAddr,
		"--rpcuser=u", "--rpcpass=p", "--notls",
		"--nodnsseed", "--connect=127.0.0.1:1", "--noonion", "--nocfilters",
		"--miningaddr=" + miningAddr, "--trickleinterval=50ms",
		"--utxocachemaxsize=16", "--debuglevel=" + debugLevel(),
	}
	cmd := exec.Command(bin, args...)
	logf, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if d := os.Getenv("BTCD_TEST_LOGS"); d != "" {
			b, _ := os.ReadFile(logf.Name())
			_ = os.WriteFile(filepath.Join(d, "btcd-"+strings.ReplaceAll(p.p2p, ":", "_")+".log"), b, 0o644)
		}
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			t.Logf("btcd %s, last lines:\n%s", p.p2p, strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	})
	c, err := rpcclient.New(&rpcclient.ConnConfig{Host: p.rpcAddr, User: "u", Pass: "p", HTTPPostMode: true, DisableTLS: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Shutdown)
	p.rpc = c
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err = c.GetBlockCount(); err == nil {
			return p
		}
		select {
		case <-done:
			t.Fatalf("btcd exited: see %s", logf.Name())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("btcd RPC not up: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFor polls cond.
func waitFor(t *testing.T, ctx context.Context, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitTip waits until btcd b's best block is want.
func waitTip(t *testing.T, ctx context.Context, b *btcdProc, want *chainhash.Hash) {
	t.Helper()
	waitFor(t, ctx, 60*time.Second, "btcd B tip "+want.String(), func() bool {
		h, err := b.rpc.GetBestBlockHash()
		return err == nil && *h == *want
	})
}

// mineCheck mines one block on a, checks it holds the n sent
// transactions besides the coinbase, and waits until it is b's tip.
func mineCheck(t *testing.T, ctx context.Context, a, b *btcdProc, n int) *chainhash.Hash {
	t.Helper()
	hs, err := a.rpc.Generate(1)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := a.rpc.GetBlock(hs[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(blk.Transactions) != n+1 {
		t.Fatalf("mined block has %d transactions, want %d", len(blk.Transactions), n+1)
	}
	waitTip(t, ctx, b, hs[0])
	return hs[0]
}

// waitMempools waits until every node's mempool holds every transaction.
func waitMempools(t *testing.T, ctx context.Context, txs []*wire.MsgTx, nodes ...*node.Node) {
	t.Helper()
	waitFor(t, ctx, 30*time.Second, "the mempools to hold the batch", func() bool {
		for _, nd := range nodes {
			for _, tx := range txs {
				if !nd.Mempool().Has(tx.TxHash()) {
					return false
				}
			}
		}
		return true
	})
}

// jobOf returns node n's job for a block.
func jobOf(t *testing.T, ctx context.Context, n *node.Node, hash *chainhash.Hash) job.JobStatus {
	t.Helper()
	var out job.JobStatus
	waitFor(t, ctx, 10*time.Second, "the job of "+hash.String(), func() bool {
		st, err := n.Status(ctx)
		if err != nil {
			return false
		}
		for _, j := range st.Jobs {
			if j.Block == hash.String() && j.State == "complete" {
				out = j
				return true
			}
		}
		return false
	})
	return out
}

// sendAll sends txs, in order, to every btcd.
func sendAll(t *testing.T, txs []*wire.MsgTx, to ...*btcdProc) {
	t.Helper()
	for _, b := range to {
		for _, tx := range txs {
			if _, err := b.rpc.SendRawTransaction(tx, true); err != nil {
				t.Fatalf("sendrawtransaction %v: %v", tx.TxHash(), err)
			}
		}
	}
}

// makeBatch splits coinbase output 0 into batchSize outputs and spends
// each: batchSize+1 signed P2PKH transactions, parents first.
func makeBatch(t *testing.T, coinbase *wire.MsgTx, pkScript []byte, key *btcec.PrivateKey) []*wire.MsgTx {
	t.Helper()
	const splitFee, spendFee = 200_000, 2_000
	in := coinbase.TxOut[0]
	if !bytes.Equal(in.PkScript, pkScript) {
		t.Fatal("coinbase does not pay the test's key")
	}
	split := wire.NewMsgTx(wire.TxVersion)
	split.AddTxIn(wire.NewTxIn(wire.NewOutPoint(ptr(coinbase.TxHash()), 0), nil, nil))
	each := (in.Value - splitFee) / batchSize
	for range batchSize {
		split.AddTxOut(wire.NewTxOut(each, pkScript))
	}
	sign(t, split, pkScript, key)
	out := []*wire.MsgTx{split}
	sh := split.TxHash()
	for i := range batchSize {
		tx := wire.NewMsgTx(wire.TxVersion)
		tx.AddTxIn(wire.NewTxIn(wire.NewOutPoint(&sh, uint32(i)), nil, nil))
		tx.AddTxOut(wire.NewTxOut(each-spendFee, pkScript))
		sign(t, tx, pkScript, key)
		out = append(out, tx)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// sign signs input 0 of tx, which spends a P2PKH output of key.
func sign(t *testing.T, tx *wire.MsgTx, pkScript []byte, key *btcec.PrivateKey) {
	t.Helper()
	sig, err := txscript.SignatureScript(tx, 0, pkScript, txscript.SigHashAll, key, true)
	if err != nil {
		t.Fatal(err)
	}
	tx.TxIn[0].SignatureScript = sig
}

// grind returns a junk transaction (one input from nowhere, one output)
// whose txid starts with prefix (internal byte order), found by varying
// the lock time. seed varies the input.
func grind(prefix []byte, seed uint32) *wire.MsgTx {
	tx := wire.NewMsgTx(1)
	var prev chainhash.Hash
	binary.LittleEndian.PutUint32(prev[:], 0xb17e0000+seed)
	tx.AddTxIn(wire.NewTxIn(wire.NewOutPoint(&prev, seed), []byte{0x51}, nil))
	tx.AddTxOut(wire.NewTxOut(1000, []byte{0x6a}))
	var buf bytes.Buffer
	if err := tx.SerializeNoWitness(&buf); err != nil {
		panic(err)
	}
	raw := buf.Bytes()
	lt := raw[len(raw)-4:]
	for n := uint32(0); ; n++ {
		binary.LittleEndian.PutUint32(lt, n)
		if h := chainhash.DoubleHashH(raw); bytes.HasPrefix(h[:], prefix) {
			tx.LockTime = n
			if tx.TxHash() != h {
				panic(errors.New("grind: txid mismatch"))
			}
			return tx
		}
		if n == ^uint32(0) {
			panic(fmt.Errorf("grind: no txid with prefix %x", prefix))
		}
	}
}

func serialize(t *testing.T, b *wire.MsgBlock) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := b.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// debugLevel is btcd's log level: BTCD_TEST_DEBUGLEVEL or info.
func debugLevel() string {
	if l := os.Getenv("BTCD_TEST_DEBUGLEVEL"); l != "" {
		return l
	}
	return "info"
}

// unresolved returns node n's count of short hashes it could not resolve.
func unresolved(t *testing.T, n *node.Node) float64 {
	t.Helper()
	mfs, err := n.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "blocktorrent_short_hashes_unresolved_total" && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}
