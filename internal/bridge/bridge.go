package bridge

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/job"
	"github.com/blocktorrent/blocktorrent/internal/mempool"
	"github.com/blocktorrent/blocktorrent/internal/node"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/peer"
	"github.com/btcsuite/btcd/rpcclient"
	"github.com/btcsuite/btcd/wire/v2"
)

// Defaults of Config.
const (
	DefaultRemoveDelay  = 5 * time.Second
	DefaultRecentBlocks = 128
	DefaultMinBackoff   = 500 * time.Millisecond
	DefaultMaxBackoff   = 30 * time.Second

	// seenLimit bounds the set of block hashes the bridge remembers.
	seenLimit = 4096
	// queueLimit bounds the blocks waiting for the handover worker; the
	// oldest are dropped beyond it (the Bitcoin node is far behind).
	queueLimit = 256
	// askAgain is when a block asked for and not received may be asked
	// for again.
	askAgain = 30 * time.Second
	// handshakeTimeout bounds the P2P version handshake.
	handshakeTimeout = 15 * time.Second
	// submitTimeout bounds one Node.Submit.
	submitTimeout = 10 * time.Second
)

// Node is what the bridge needs of a Blocktorrent node (*node.Node).
type Node interface {
	// Submit relays a block the node has in full.
	Submit(ctx context.Context, blk *wire.MsgBlock) error
	// Mempool returns the node's mempool.
	Mempool() *mempool.Pool
}

// Config configures a Bridge.
type Config struct {
	// Network names the Bitcoin network (node.NetParams): mainnet,
	// testnet3, testnet4, signet, regtest or simnet.
	Network string
	// P2P is the Bitcoin node's P2P address, HOST:PORT (required).
	P2P string
	// RPC, if set, is the Bitcoin node's RPC address, HOST:PORT, used in
	// HTTP POST mode without TLS (meant for loopback).
	RPC     string
	RPCUser string
	RPCPass string
	// PollTemplate, if positive and RPC is set, polls getblocktemplate at
	// this interval and adds the template's transactions to the mempool.
	PollTemplate time.Duration
	// RemoveDelay is how long after a block was submitted or handed over
	// its transactions leave the mempool (default DefaultRemoveDelay;
	// negative: at once).
	RemoveDelay time.Duration
	// RecentBlocks is how many blocks handed over from Blocktorrent are
	// kept to answer getdata (default DefaultRecentBlocks).
	RecentBlocks int
	// MinBackoff and MaxBackoff bound the wait between P2P dials
	// (defaults DefaultMinBackoff and DefaultMaxBackoff).
	MinBackoff, MaxBackoff time.Duration
	// Log receives the bridge's logs (default slog.Default()).
	Log *slog.Logger
}

// Stats counts what a bridge has done.
type Stats struct {
	Connected        bool  `json:"connected"`
	Connects         int64 `json:"connects"`           // handshakes completed
	TxsAdded         int64 `json:"txs_added"`          // transactions new to the mempool, from P2P
	BlocksSubmitted  int64 `json:"blocks_submitted"`   // Bitcoin node → Blocktorrent jobs opened
	BlocksHandedOver int64 `json:"blocks_handed_over"` // Blocktorrent → Bitcoin node
	BlocksServed     int64 `json:"blocks_served"`      // getdata answered with a block
	RPCSubmitted     int64 `json:"rpc_submitted"`      // submitblock accepted
	RPCDuplicates    int64 `json:"rpc_duplicates"`     // submitblock: the node already had it
	RPCErrors        int64 `json:"rpc_errors"`
	TemplateTxs      int64 `json:"template_txs"` // transactions new to the mempool, from getblocktemplate
	TxsRemoved       int64 `json:"txs_removed"`  // confirmed transactions removed from the mempool
}

// removal is a block's transactions due to leave the mempool.
type removal struct {
	at    time.Time
	txids []chainhash.Hash
}

// Bridge connects a Blocktorrent node to its Bitcoin node. Make it with
// New, give its OnBlock to the node's Config.OnBlock, and Start it once
// the node runs.
type Bridge struct {
	cfg    Config
	params *chaincfg.Params
	log    *slog.Logger
	rpc    *rpcclient.Client
	// allowSelfConns is for tests whose Bitcoin node is a btcd peer of
	// the same process (export_test.go).
	allowSelfConns bool

	node   Node
	pool   *mempool.Pool
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{} // capacity 1: the handover worker has work

	mu       sync.Mutex
	started  bool
	closed   bool
	peer     *peer.Peer // nil while not connected
	queue    []*wire.MsgBlock
	recent   window[*wire.MsgBlock]       // the last RecentBlocks handed over
	seen     window[struct{}]             // blocks the bridge holds or has handled
	asked    map[chainhash.Hash]time.Time // blocks asked for with getdata
	removals []removal
	stats    Stats
}

// New checks cfg and returns a bridge that is not yet running.
func New(cfg Config) (*Bridge, error) {
	params, err := node.NetParams(cfg.Network)
	if err != nil {
		return nil, errorf(ErrConfig, "%v", err)
	}
	if cfg.P2P == "" {
		return nil, errorf(ErrConfig, "no Bitcoin P2P address")
	}
	if _, _, err := net.SplitHostPort(cfg.P2P); err != nil {
		return nil, errorf(ErrConfig, "Bitcoin P2P address %q: %v", cfg.P2P, err)
	}
	if cfg.RPC != "" {
		if _, _, err := net.SplitHostPort(cfg.RPC); err != nil {
			return nil, errorf(ErrConfig, "Bitcoin RPC address %q: %v", cfg.RPC, err)
		}
	}
	if cfg.RemoveDelay == 0 {
		cfg.RemoveDelay = DefaultRemoveDelay
	}
	if cfg.RecentBlocks <= 0 {
		cfg.RecentBlocks = DefaultRecentBlocks
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	b := &Bridge{
		cfg: cfg, params: params, log: cfg.Log.With("component", "bridge"),
		wake:   make(chan struct{}, 1),
		recent: newWindow[*wire.MsgBlock](cfg.RecentBlocks),
		seen:   newWindow[struct{}](seenLimit),
		asked:  make(map[chainhash.Hash]time.Time),
	}
	if cfg.RPC != "" {
		c, err := rpcclient.New(&rpcclient.ConnConfig{
			Host: cfg.RPC, User: cfg.RPCUser, Pass: cfg.RPCPass,
			HTTPPostMode: true, DisableTLS: true,
		}, nil)
		if err != nil {
			return nil, errorf(ErrConfig, "RPC client: %v", err)
		}
		b.rpc = c
	}
	return b, nil
}

// Start runs the bridge for n until ctx ends or Close. Blocks given to
// OnBlock before Start are handed over once it runs.
func (b *Bridge) Start(ctx context.Context, n Node) error {
	if n == nil || n.Mempool() == nil {
		return errorf(ErrConfig, "no node")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if b.started {
		return errorf(ErrConfig, "already started")
	}
	b.started = true
	b.node, b.pool = n, n.Mempool()
	b.ctx, b.cancel = context.WithCancel(ctx)
	b.goFunc(func() { b.connLoop(b.ctx) })
	b.goFunc(func() { b.worker(b.ctx) })
	if b.rpc != nil && b.cfg.PollTemplate > 0 {
		b.goFunc(func() { b.pollTemplates(b.ctx) })
	}
	b.signal()
	return nil
}

func (b *Bridge) goFunc(f func()) {
	b.wg.Add(1)
	go func() { defer b.wg.Done(); f() }()
}

// Close stops the bridge, disconnects from the Bitcoin node and waits for
// the bridge's goroutines.
func (b *Bridge) Close() {
	b.mu.Lock()
	b.closed = true
	p := b.peer
	cancel := b.cancel
	b.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if p != nil {
		p.Disconnect()
	}
	b.wg.Wait()
	if b.rpc != nil {
		b.rpc.Shutdown()
	}
}

// Connected reports whether the P2P connection is up (handshake done).
func (b *Bridge) Connected() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peer != nil
}

// Stats returns the bridge's counters.
func (b *Bridge) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.stats
	s.Connected = b.peer != nil
	return s
}

// OnBlock hands a block that completed over Blocktorrent to the Bitcoin
// node. It is meant for node Config.OnBlock: it runs on the job engine's
// goroutine, so it only records the block and queues it, never blocking.
// The block is not modified.
func (b *Bridge) OnBlock(blk *wire.MsgBlock) {
	if blk == nil {
		return
	}
	hash := blk.BlockHash()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	if _, ok := b.recent.m[hash]; ok {
		b.mu.Unlock()
		return
	}
	b.markSeenLocked(hash)
	b.recent.add(hash, blk)
	b.queue = append(b.queue, blk)
	if len(b.queue) > queueLimit {
		b.queue = b.queue[len(b.queue)-queueLimit:]
	}
	b.mu.Unlock()
	b.signal()
}

// signal wakes the handover worker.
func (b *Bridge) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// markSeenLocked records that the bridge holds block hash. It reports
// whether the hash was new. The caller holds b.mu.
func (b *Bridge) markSeenLocked(hash chainhash.Hash) bool {
	delete(b.asked, hash)
	if _, ok := b.seen.m[hash]; ok {
		return false
	}
	b.seen.add(hash, struct{}{})
	return true
}

// window holds the last limit hashes added, each with a value, in the
// order they came.
type window[V any] struct {
	m     map[chainhash.Hash]V
	order []chainhash.Hash
	limit int
}

func newWindow[V any](limit int) window[V] {
	return window[V]{m: make(map[chainhash.Hash]V), limit: limit}
}

// add records hash with v (the caller checks it is not there yet) and
// forgets the oldest hashes beyond the limit.
func (w *window[V]) add(hash chainhash.Hash, v V) {
	w.m[hash] = v
	w.order = append(w.order, hash)
	if drop := len(w.order) - w.limit; drop > 0 {
		for _, h := range w.order[:drop] {
			delete(w.m, h)
		}
		w.order = append([]chainhash.Hash(nil), w.order[drop:]...)
	}
}

// wantBlock reports whether to ask for block hash, and records the ask.
func (b *Bridge) wantBlock(hash chainhash.Hash, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.seen.m[hash]; ok {
		return false
	}
	if at, ok := b.asked[hash]; ok && now.Sub(at) < askAgain {
		return false
	}
	if len(b.asked) > seenLimit {
		for h, at := range b.asked {
			if now.Sub(at) >= askAgain {
				delete(b.asked, h)
			}
		}
	}
	b.asked[hash] = now
	return true
}

// scheduleRemoval removes blk's transactions from the mempool after
// RemoveDelay.
func (b *Bridge) scheduleRemoval(blk *wire.MsgBlock) {
	txids := make([]chainhash.Hash, len(blk.Transactions))
	for i, tx := range blk.Transactions {
		txids[i] = tx.TxHash()
	}
	if b.cfg.RemoveDelay < 0 {
		n := b.pool.RemoveBlock(txids)
		b.mu.Lock()
		b.stats.TxsRemoved += int64(n)
		b.mu.Unlock()
		return
	}
	b.mu.Lock()
	b.removals = append(b.removals, removal{at: time.Now().Add(b.cfg.RemoveDelay), txids: txids})
	b.mu.Unlock()
	b.signal()
}

// worker hands queued blocks over and runs due mempool removals.
func (b *Bridge) worker(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		b.mu.Lock()
		q := b.queue
		b.queue = nil
		p := b.peer
		b.mu.Unlock()
		for _, blk := range q {
			if ctx.Err() != nil {
				return
			}
			b.handOver(ctx, p, blk)
		}
		next := b.runRemovals(time.Now())
		timer.Reset(next)
		select {
		case <-ctx.Done():
			return
		case <-b.wake:
		case <-timer.C:
		}
	}
}

// runRemovals removes the transactions of blocks whose delay has passed
// and returns the wait until the next removal.
func (b *Bridge) runRemovals(now time.Time) time.Duration {
	b.mu.Lock()
	var due [][]chainhash.Hash
	keep := b.removals[:0]
	next := time.Hour
	for _, r := range b.removals {
		if !r.at.After(now) {
			due = append(due, r.txids)
			continue
		}
		keep = append(keep, r)
		next = min(next, r.at.Sub(now))
	}
	clear(b.removals[len(keep):])
	b.removals = keep
	b.mu.Unlock()
	removed := 0
	for _, txids := range due {
		removed += b.pool.RemoveBlock(txids)
	}
	if removed > 0 {
		b.mu.Lock()
		b.stats.TxsRemoved += int64(removed)
		b.mu.Unlock()
	}
	return next
}

// handOver gives the Bitcoin node a block from Blocktorrent: an inv over
// P2P (the node asks with getdata, answered from the recent map) and, with
// RPC, submitblock.
func (b *Bridge) handOver(ctx context.Context, p *peer.Peer, blk *wire.MsgBlock) {
	hash := blk.BlockHash()
	if p != nil && p.Connected() {
		inv := wire.NewMsgInv()
		_ = inv.AddInvVect(wire.NewInvVect(wire.InvTypeBlock, &hash))
		p.QueueMessage(inv, nil)
	}
	if b.rpc != nil {
		err := b.submitBlock(ctx, blk)
		b.mu.Lock()
		switch {
		case err == nil:
			b.stats.RPCSubmitted++
		case isDuplicate(err):
			b.stats.RPCDuplicates++
		default:
			b.stats.RPCErrors++
		}
		b.mu.Unlock()
		switch {
		case err == nil:
		case isDuplicate(err):
			b.log.Debug("submitblock: already known (it came over P2P first)", "block", hash)
		default:
			b.log.Warn("submitblock failed", "block", hash, "err", err)
		}
	}
	b.mu.Lock()
	b.stats.BlocksHandedOver++
	b.mu.Unlock()
	b.log.Debug("block handed over", "block", hash, "p2p", p != nil, "rpc", b.rpc != nil)
	b.scheduleRemoval(blk)
}

// submitBlock calls submitblock, giving up when ctx ends.
func (b *Bridge) submitBlock(ctx context.Context, blk *wire.MsgBlock) error {
	f := b.rpc.SubmitBlockAsync(btcutil.NewBlock(blk), nil)
	done := make(chan error, 1)
	go func() { done <- f.Receive() }()
	select {
	case err := <-done:
		if err != nil {
			return errorf(ErrRPC, "submitblock: %v", err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// isDuplicate reports whether a submitblock error says the node already
// has the block.
func isDuplicate(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "duplicate") || strings.Contains(s, "already have")
}

// submit opens a Blocktorrent job for a block from the Bitcoin node.
func (b *Bridge) submit(blk *wire.MsgBlock) {
	hash := blk.BlockHash()
	b.mu.Lock()
	isNew := b.markSeenLocked(hash)
	b.mu.Unlock()
	if !isNew {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, submitTimeout)
	defer cancel()
	err := b.node.Submit(ctx, blk)
	switch {
	case err == nil:
		b.mu.Lock()
		b.stats.BlocksSubmitted++
		b.mu.Unlock()
		b.log.Debug("block submitted", "block", hash, "txs", len(blk.Transactions))
	case errors.Is(err, job.ErrDuplicate):
		b.log.Debug("block already relayed", "block", hash)
	default:
		b.log.Warn("submitting block failed", "block", hash, "err", err)
		return
	}
	b.scheduleRemoval(blk)
}
