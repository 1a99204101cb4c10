package job

import (
	"context"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/mempool"
	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// Config configures an Engine.
type Config struct {
	// PowLimit is the network's proof-of-work limit.
	PowLimit *big.Int
	// CheckHeader, if set, checks a peer's OPEN_JOB header against the
	// chain after its proof of work (e.g. pow.CheckContext: bits no easier
	// than the chain allows). It runs on the engine goroutine and must be
	// fast; an error scores the peer bad-pow and the job is not opened.
	CheckHeader func(*btcwire.BlockHeader) error
	// Local is what this node accepts from peers; it is also what the
	// node sends in SET_PARAMS (MaxUnsolicited is enforced per job).
	Local wire.SetParams
	// Push enables unsolicited pushing of verified data to peers that
	// accept it. A node that only pulls sets it false.
	Push bool
	// OnBlock is called on the engine goroutine with every block that
	// completes through the network (not with locally submitted ones). It
	// must not block for long.
	OnBlock func(*btcwire.MsgBlock)
	// Linger is how long a completed job keeps serving before it closes
	// (default 60 s).
	Linger time.Duration
	// JobTimeout is how long an incomplete job may go without verified
	// progress before it is abandoned (default 30 s), so jobs opened with
	// valid headers whose data never comes do not pin memory.
	JobTimeout time.Duration
	// Log receives the engine's logs (default slog.Default()).
	Log *slog.Logger
	// Metrics, if set, receives the engine's counters.
	Metrics *Metrics
	// Mempool, if set, resolves short leaf hashes and supplies bodies
	// the node already has, and lets the engine send short hashes to
	// peers that accept them (docs/protocol.md §8).
	Mempool *mempool.Pool
}

// Engine moves blocks as verified pieces. Its exported methods are safe to
// call from any goroutine; all work happens on the Run goroutine.
type Engine struct {
	cfg    Config
	log    *slog.Logger
	events chan func()
	peers  map[PeerID]*peerState
	jobs   map[wire.JobID]*job
	order  []wire.JobID                 // jobs in opening order, for round robin
	recent map[chainhash.Hash]time.Time // block hash → when to forget it
	m      *Metrics
	salt   uint64 // random, spreads push starting points between nodes
}

// eventQueue bounds the engine's inbox. A full inbox drops datagrams, as a
// full socket buffer would.
const eventQueue = 8192

// New returns an engine; start it with Run.
func New(cfg Config) *Engine {
	if cfg.Linger == 0 {
		cfg.Linger = 60 * time.Second
	}
	if cfg.JobTimeout == 0 {
		cfg.JobTimeout = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	return &Engine{
		cfg:    cfg,
		log:    cfg.Log,
		events: make(chan func(), eventQueue),
		peers:  make(map[PeerID]*peerState),
		jobs:   make(map[wire.JobID]*job),
		recent: make(map[chainhash.Hash]time.Time),
		m:      cfg.Metrics,
		salt:   rand.Uint64(),
	}
}

// Run is the engine goroutine. It returns when ctx ends.
func (e *Engine) Run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := e.step(time.Now())
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case f := <-e.events:
			f()
			// Handle what else has queued up before deciding what to send,
			// so a burst of datagrams is verified as a batch.
			for i := 0; i < 256; i++ {
				select {
				case f := <-e.events:
					f()
					continue
				default:
				}
				break
			}
		case <-timer.C:
		}
	}
}

// do runs f on the engine goroutine, waiting for room in the inbox.
func (e *Engine) do(f func()) { e.events <- f }

// try runs f on the engine goroutine unless the inbox is full.
func (e *Engine) try(f func()) bool {
	select {
	case e.events <- f:
		return true
	default:
		return false
	}
}

// call runs f on the engine goroutine and waits for it, or for ctx.
func (e *Engine) call(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case e.events <- func() { f(); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// AddPeer makes a handshaken peer known to the engine. Open jobs are
// offered to it at once.
func (e *Engine) AddPeer(p Peer) {
	e.do(func() {
		ps := &peerState{p: p, since: time.Now()}
		e.peers[p.ID()] = ps
		// Offer the newest jobs first, only those still moving or just
		// finished, and no more than the peer accepts: completed jobs
		// linger for a minute, and a joining peer offered all of them
		// would ignore the newest and count the rest as a flood. Older
		// blocks reach it through the chain download.
		now, offered := time.Now(), 0
		for k := len(e.order) - 1; k >= 0 && offered < jobLimit(p.Params()); k-- {
			j := e.jobs[e.order[k]]
			if j == nil || !catchUp(j, now) {
				continue
			}
			e.offerJob(j, ps, now)
			offered++
		}
	})
}

// freshJob is how long after completing a job is still offered to a peer
// that connects.
const freshJob = 10 * time.Second

// RemovePeer forgets a peer; its in-flight requests go to other peers.
func (e *Engine) RemovePeer(id PeerID) {
	e.do(func() {
		delete(e.peers, id)
		for _, j := range e.jobs {
			j.dropPeer(id)
		}
	})
}

// Deliver hands the engine a job message from a peer (OPEN_JOB,
// CLOSE_JOB, JOB_STATE, JOB_STATE_ACK, GET_NODES, NODES, GET_TXS, TXS). It
// never blocks: when the inbox is full the message is dropped and counted.
// size is the datagram (or frame) size, for accounting.
func (e *Engine) Deliver(from PeerID, m wire.Message, size int) {
	if !e.try(func() { e.handle(from, m, size, time.Now()) }) {
		e.m.Dropped.Inc()
	}
}

// Submit opens a job for a block this node has in full (mined, or heard
// from its Bitcoin node) and starts sending it. It waits for the engine to
// open the job (so Run must be running), and returns its error.
func (e *Engine) Submit(blk *btcwire.MsgBlock) error {
	return e.SubmitWait(context.Background(), blk)
}

// SubmitWait is Submit that waits until the job is open, returning its
// error.
func (e *Engine) SubmitWait(ctx context.Context, blk *btcwire.MsgBlock) error {
	var err error
	if cerr := e.call(ctx, func() { err = e.openLocal(blk, time.Now()) }); cerr != nil {
		return cerr
	}
	return err
}

// handle dispatches one message on the engine goroutine.
func (e *Engine) handle(from PeerID, m wire.Message, size int, now time.Time) {
	ps := e.peers[from]
	if ps == nil {
		return
	}
	ps.lastRecv = now
	switch m := m.(type) {
	case *wire.OpenJob:
		e.onOpenJob(ps, m, now)
	case *wire.CloseJob:
		if j := e.jobs[m.JobID]; j != nil {
			j.peer(ps).closed = true
		}
	case *wire.JobState:
		e.onJobState(ps, m, now)
	case *wire.JobStateAck:
		e.onJobStateAck(ps, m)
	case *wire.GetNodes:
		e.onGetNodes(ps, m, now)
	case *wire.Nodes:
		e.onNodes(ps, m, size, now)
	case *wire.GetTxs:
		e.onGetTxs(ps, m, now)
	case *wire.Txs:
		e.onTxs(ps, m, size, now)
	}
}

// step does the timed work (job state, requests, timeouts, linger) and the
// paced sends, and returns how long the engine may sleep.
func (e *Engine) step(now time.Time) time.Duration {
	wait := 100 * time.Millisecond
	e.sumInflight()
	for _, id := range e.order {
		j := e.jobs[id]
		if j == nil {
			continue
		}
		if w := e.tick(j, now); w < wait {
			wait = w
		}
	}
	e.expire(now)
	e.offerPending(now)
	if w := e.sendAll(now); w < wait {
		wait = w
	}
	return max(wait, 50*time.Microsecond)
}

// expire closes jobs that have lingered long enough after completion,
// abandons incomplete jobs that made no verified progress for
// cfg.JobTimeout, and forgets old hashes.
func (e *Engine) expire(now time.Time) {
	kept := e.order[:0]
	for _, id := range e.order {
		j := e.jobs[id]
		reason := wire.CloseComplete
		switch {
		case j.completeAt.IsZero() && now.Sub(j.progressAt) >= e.cfg.JobTimeout:
			reason = wire.CloseAbandoned
		case j.completeAt.IsZero() || now.Sub(j.completeAt) < e.cfg.Linger:
			kept = append(kept, id)
			continue
		}
		for _, ps := range e.peers {
			if jp := j.peers[ps.p.ID()]; jp != nil && jp.knows {
				_ = ps.p.SendTCP(&wire.CloseJob{JobID: j.id, Reason: reason})
			}
		}
		j.clearFrags()
		delete(e.jobs, id)
		if reason == wire.CloseAbandoned {
			// Remembered for a while, so the peers that opened it cannot
			// reopen it at once; an honest source may offer it again later.
			e.recent[j.hash] = now.Add(e.cfg.JobTimeout)
			e.m.JobsExpired.Inc()
			e.log.Info("job abandoned: no progress", "block", j.hash,
				"leaves_verified", j.st.LeavesVerified(), "bodies", j.st.BodyCount())
			continue
		}
		e.recent[j.hash] = now.Add(time.Hour)
	}
	e.order = kept
	for h, t := range e.recent {
		if now.After(t) {
			delete(e.recent, h)
		}
	}
}
