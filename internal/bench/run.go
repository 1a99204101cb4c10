package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/blockgen"
	"github.com/blocktorrent/blocktorrent/internal/lab"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// env is what every protocol's run of one scenario shares.
type env struct {
	sc     *Scenario
	blk    *btcwire.MsgBlock
	hash   chainhash.Hash
	digest [32]byte // SHA-256 of the serialized block
	size   int
	txids  []chainhash.Hash
	// mempools[i] lists the block transactions (by index) in node i's
	// mempool; nil for sources and in cold scenarios.
	mempools    [][]int
	knownTxs    int64 // sum over receivers of len(mempools[i])
	lackedBytes int64 // sum over receivers of the bodies they lack
	opts        *Options
}

// newEnv makes the scenario's block and mempools.
func newEnv(sc *Scenario, o *Options) (*env, error) {
	blk, err := blockgen.Block(blockgen.Config{
		Txs: sc.Txs, AvgTxBytes: sc.AvgTxBytes, Seed: sc.Seed,
		Prev: *chaincfg.RegressionNetParams.GenesisHash, Height: 1,
	})
	if err != nil {
		return nil, err
	}
	e := &env{sc: sc, blk: blk, hash: blk.BlockHash(), size: blk.SerializeSize(), txids: txids(blk), opts: o}
	if e.size > btcwire.MaxBlockPayload {
		return nil, fmt.Errorf("bench: %s: block of %d bytes exceeds btcd's %d-byte limit", sc.Name, e.size, btcwire.MaxBlockPayload)
	}
	e.digest = blockDigest(blk)
	e.mempools = make([][]int, sc.Nodes)
	for i := range sc.Nodes {
		if slices.Contains(sc.Sources, i) {
			// A source mined the block from its own mempool: in a warm
			// scenario it holds every transaction but the coinbase.
			if sc.Warm > 0 {
				for k := 1; k < len(blk.Transactions); k++ {
					e.mempools[i] = append(e.mempools[i], k)
				}
			}
			continue
		}
		held := 0
		if sc.Warm > 0 {
			held = int(sc.Warm*float64(len(blk.Transactions)-1) + 0.5)
		}
		// Each receiver holds its own random subset (never the coinbase).
		rng := rand.New(rand.NewPCG(sc.Seed, uint64(i)+0x6d656d))
		perm := rng.Perm(len(blk.Transactions) - 1)[:held]
		in := make([]bool, len(blk.Transactions))
		for _, k := range perm {
			e.mempools[i] = append(e.mempools[i], k+1)
			in[k+1] = true
		}
		slices.Sort(e.mempools[i])
		e.knownTxs += int64(held)
		for k, tx := range blk.Transactions {
			if !in[k] {
				e.lackedBytes += int64(tx.SerializeSize())
			}
		}
	}
	return e, nil
}

func blockDigest(blk *btcwire.MsgBlock) [32]byte {
	var b bytes.Buffer
	_ = blk.Serialize(&b)
	return sha256.Sum256(b.Bytes())
}

// exact reports whether blk is byte for byte the scenario's block.
func (e *env) exact(blk *btcwire.MsgBlock) bool {
	return blk != nil && blk.BlockHash() == e.hash && blockDigest(blk) == e.digest
}

func (e *env) receivers() int { return e.sc.Nodes - len(e.sc.Sources) }

// tracker receives a protocol run's progress.
type tracker interface {
	set(done int)
}

var (
	labSubnet    atomic.Uint32
	legacySubnet atomic.Uint32
)

// nextSubnet cycles through third octets, so consecutive networks in one
// process never share addresses. Blocktorrent nets use 127.77.210-249.x
// (away from the subnets the other packages' tests and the demo use),
// baselines 127.78.1-250.x.
func nextSubnet(c *atomic.Uint32, base, span uint32) byte {
	return byte(base + (c.Add(1)-1)%span)
}

// runLegacy runs a baseline protocol over sc's links; nodes that lack the
// block after sc.Timeout, or at until, count as incomplete.
func runLegacy(ctx context.Context, e *env, proto string, until time.Time, tr tracker) (ProtocolResult, error) {
	pr := ProtocolResult{Protocol: proto}
	seed := e.sc.Seed
	newHandler := func(i int) handler {
		if proto == ProtoTCPBlock {
			return &tcpBlock{}
		}
		return &compactRelay{nonce: rand.New(rand.NewPCG(seed, uint64(i))).Uint64()}
	}
	ln, err := startLegacy(ctx, e.sc, e.blk, nextSubnet(&legacySubnet, 1, 250), newHandler)
	if err != nil {
		return pr, err
	}
	defer ln.close()
	for i, idx := range e.mempools {
		mp := make(map[chainhash.Hash]*btcwire.MsgTx, len(idx))
		for _, k := range idx {
			mp[e.txids[k]] = e.blk.Transactions[k]
		}
		ln.nodes[i].mempool = mp
	}
	for _, s := range e.sc.Sources {
		ln.nodes[s].txids = e.txids // a source knows its block's txids
	}
	start := ln.submit(e.sc.Sources)
	timeout := time.NewTimer(min(e.sc.Timeout, time.Until(until)))
	defer timeout.Stop()
	done := 0
wait:
	for done < e.receivers() {
		select {
		case <-ln.done:
			done++
			tr.set(done)
		case <-timeout.C:
			break wait
		case <-ctx.Done():
			return pr, ctx.Err()
		}
	}
	pr.BytesSent = ln.bytesSent()
	for _, n := range ln.nodes {
		n.mu.Lock()
		nr := NodeResult{Node: n.id, Source: slices.Contains(e.sc.Sources, n.id), Arrival: -1}
		if n.block != nil {
			nr.Arrival = n.at.Sub(start)
			nr.Exact = e.exact(n.block)
		}
		if n.err != nil && pr.Note == "" {
			pr.Note = fmt.Sprintf("node %d: %v", n.id, n.err)
		}
		n.mu.Unlock()
		pr.Nodes = append(pr.Nodes, nr)
	}
	summarize(&pr, e.knownTxs, e.lackedBytes)
	return pr, nil
}

// runBlocktorrent runs the real nodes over sc's links; nodes that lack
// the block after sc.Timeout, or at until, count as incomplete.
func runBlocktorrent(ctx context.Context, e *env, until time.Time, tr tracker) (ProtocolResult, error) {
	pr := ProtocolResult{Protocol: ProtoBlocktorrent}
	sc := e.sc
	net, err := lab.Start(ctx, sc.Nodes, sc.Links, lab.Options{Subnet: nextSubnet(&labSubnet, 210, 40)})
	if err != nil {
		return pr, err
	}
	defer net.Close()
	for i, idx := range e.mempools {
		pool := net.Nodes[i].Mempool()
		for _, j := range idx {
			if _, err := pool.Add(e.blk.Transactions[j]); err != nil {
				return pr, fmt.Errorf("bench: filling node %d's mempool: %w", i, err)
			}
		}
	}
	before, err := trafficOut(ctx, net)
	if err != nil {
		return pr, err
	}
	drops := udpRcvbufErrors()
	start := time.Now()
	errs := make(chan error, len(sc.Sources))
	for _, s := range sc.Sources {
		go func() { errs <- net.Nodes[s].Submit(ctx, e.blk) }()
	}
	for range sc.Sources {
		if err := <-errs; err != nil {
			return pr, fmt.Errorf("bench: submit: %w", err)
		}
	}
	deadline := start.Add(min(sc.Timeout, time.Until(until)))
	have := make([]bool, sc.Nodes)
	for _, s := range sc.Sources {
		have[s] = true
	}
	done := 0
	for done < e.receivers() && time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return pr, err
		}
		for i, nd := range net.Nodes {
			if !have[i] {
				if tip, _, _ := nd.Tip(); tip == e.hash {
					have[i] = true
					done++
					tr.set(done)
				}
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	after, err := trafficOut(ctx, net)
	if err != nil {
		return pr, err
	}
	pr.BytesSent = after - before
	pr.KernelUDPDrops = -1
	if d := udpRcvbufErrors(); drops >= 0 && d >= 0 {
		pr.KernelUDPDrops = d - drops
	}
	var jobBytes int64
	for i, nd := range net.Nodes {
		nr := NodeResult{Node: i, Source: slices.Contains(sc.Sources, i), Arrival: -1}
		st, err := nd.Status(ctx)
		if err != nil {
			return pr, err
		}
		for _, js := range st.Jobs {
			if js.Block != e.hash.String() {
				continue
			}
			pr.DuplicateBytes += js.DuplicateBytes
			pr.DuplicatePushed += js.DuplicatePushed
			pr.DuplicateFromComplete += js.DuplicateFromComplete
			jobBytes += js.BytesOut
			if !js.CompletedAt.IsZero() {
				nr.Arrival = max(0, js.CompletedAt.Sub(start))
				nr.Exact = e.exact(net.Block(ctx, i, e.hash))
			}
		}
		pr.Nodes = append(pr.Nodes, nr)
	}
	// The sessions' counters include the jobs' bytes and the control
	// traffic; the jobs' own counters are a floor should they disagree.
	pr.BytesSent = max(pr.BytesSent, jobBytes)
	summarize(&pr, e.knownTxs, e.lackedBytes)
	return pr, nil
}

// trafficOut sums the bytes every node has sent to its peers (TCP and UDP,
// job data and control).
func trafficOut(ctx context.Context, net *lab.Net) (int64, error) {
	var sum int64
	for _, nd := range net.Nodes {
		st, err := nd.Status(ctx)
		if err != nil {
			return 0, err
		}
		for _, p := range st.Peers {
			sum += p.BytesOut
		}
	}
	return sum, nil
}
