package chainsync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
	"github.com/blocktorrent/blocktorrent/internal/pow"
	"github.com/blocktorrent/blocktorrent/internal/store"
	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// Peer is what the Syncer needs of a session (*session.Session has it).
type Peer interface {
	ID() uint64
	Version() *wire.BTVersion
	SendTCP(m wire.Message) error
	Penalize(reason string, points int)
	Disconnect(reason wire.DisconnectReason, msg string)
	String() string
}

// Store is the part of *store.Store the Syncer uses.
type Store interface {
	Has(hash chainhash.Hash) bool
	Info(hash chainhash.Hash) (store.BlockInfo, error)
	Tip() (chainhash.Hash, int32, *big.Int)
	PutBatch(blks []*btcwire.MsgBlock) (int, error)
}

// Defaults of Config.
const (
	DefaultWindow       = 1024
	DefaultTargetRTT    = 500 * time.Millisecond
	DefaultStallTimeout = 2 * time.Second
	DefaultMinTimeout   = 2 * time.Second
	DefaultProgress     = 5 * time.Second
	DefaultMaxBuffered  = 64 << 20

	initialBatch   = 2
	maxOutstanding = 2 // GET_BLOCKS requests per peer
	maxFIFO        = 4 // including timed-out ones still owed
	stallTimeouts  = 4 // timeouts in a row that drop a peer
	maxWriteBatch  = 1000
	maxWriteBytes  = 32 << 20
	headerTimeout  = 30 * time.Second
)

// Config configures a Syncer.
type Config struct {
	Store  Store
	Params *chaincfg.Params
	Log    *slog.Logger
	// Window is how many blocks ahead of the last written one may be
	// requested (default 1,024).
	Window int
	// MaxBuffered bounds the bytes of blocks received but not yet written
	// (default 64 MiB); no new requests go out above it.
	MaxBuffered int
	// TargetRTT is how long one GET_BLOCKS reply should take to arrive
	// (default 500 ms); batch sizes follow each peer's rate times it.
	TargetRTT time.Duration
	// StallTimeout is how long a peer may hold the window back before its
	// blocks move to others (default 2 s).
	StallTimeout time.Duration
	// MinTimeout is the floor of the per-peer request timeout (default 2 s).
	MinTimeout time.Duration
	// ProgressInterval is the period of the progress log (default 5 s).
	ProgressInterval time.Duration
	// OnWritten, if set, is called on the writer goroutine after each batch
	// is durable, with the last block's hash and height.
	OnWritten func(hash chainhash.Hash, height int32)
}

// Status is a snapshot of the download.
type Status struct {
	Syncing      bool    `json:"syncing"`
	TargetHeight int32   `json:"target_height"`
	Written      int32   `json:"written_height"`
	Peers        int     `json:"peers"`
	BlocksPerSec float64 `json:"blocks_per_sec"`
	MBPerSec     float64 `json:"mb_per_sec"`
	Dropped      int     `json:"dropped_peers"`
	Stalls       int     `json:"stalls"`
}

// Syncer is the chain downloader. Its state is owned by the Run goroutine;
// the other methods hand events to it.
type Syncer struct {
	cfg    Config
	log    *slog.Logger
	events chan func()
	done   chan struct{} // closed when Run returns

	// Owned by Run.
	peers    map[uint64]*peerState
	pool     map[chainhash.Hash]*hdr // verified headers not yet written
	chain    []*hdr                  // target chain; chain[0]'s parent is stored
	state    map[chainhash.Hash]*blkState
	next     int // index in chain of the first block not handed to the writer
	writing  int // blocks handed to the writer, not yet durable (next-writing = written)
	buffered int // bytes received but not yet written
	writeCh  chan []*btcwire.MsgBlock
	stallAt  time.Time
	st       Status
	target   int32     // height of the last target
	started  time.Time // when the current download began
	// progress
	lastLog      time.Time
	lastLogBlks  int64
	lastLogBytes int64
	doneBlks     int64
	doneBytes    int64
	statusReq    chan chan Status
	orphans      []*orphanHint // queued Orphan hints, oldest first
}

type hdr struct {
	hash   chainhash.Hash
	header btcwire.BlockHeader
	height int32
	work   *big.Int // cumulative
	parent *hdr     // nil when the parent is stored
}

type blkState struct {
	h     *hdr
	peer  *peerState // in flight to, nil if in the pool
	blk   *btcwire.MsgBlock
	size  int
	given bool // handed to the writer
	dup   bool // asked of a second peer in the end game
}

type request struct {
	hashes  []chainhash.Hash
	sent    time.Time
	expired bool
}

type peerState struct {
	p         Peer
	td        *big.Int
	best      *hdr  // verified best header, nil until headers are in
	top       int32 // highest height of the target chain it can serve
	batch     int
	rate      float64 // blocks/s EWMA
	srtt      time.Duration
	fifo      []*request
	lastRep   time.Time
	expiredAt time.Time // when the last request to it timed out
	timeouts  int
	lacks     map[chainhash.Hash]bool
	dropped   bool
	stalled   bool // gets no new requests until it has answered the old ones
	services  uint64
	// header download
	hdl *headerDownload
}

type headerDownload struct {
	cursor       chainhash.Hash
	cursorHeight int64
	max          uint32
	got          []btcwire.BlockHeader // youngest first
	hashes       []chainhash.Hash
	seen         map[chainhash.Hash]bool
	shorts       int
	sent         time.Time
	hint         bool // started by Orphan: no TD to check, height unknown
}

// New makes a Syncer; Run runs it.
func New(cfg Config) *Syncer {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.MaxBuffered <= 0 {
		cfg.MaxBuffered = DefaultMaxBuffered
	}
	if cfg.TargetRTT <= 0 {
		cfg.TargetRTT = DefaultTargetRTT
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.MinTimeout <= 0 {
		cfg.MinTimeout = DefaultMinTimeout
	}
	if cfg.ProgressInterval <= 0 {
		cfg.ProgressInterval = DefaultProgress
	}
	return &Syncer{
		cfg: cfg, log: cfg.Log.With("component", "sync"),
		events:    make(chan func(), 4096),
		peers:     make(map[uint64]*peerState),
		pool:      make(map[chainhash.Hash]*hdr),
		state:     make(map[chainhash.Hash]*blkState),
		writeCh:   make(chan []*btcwire.MsgBlock, 1),
		statusReq: make(chan chan Status),
		done:      make(chan struct{}),
	}
}

// post hands f to the Run goroutine, waiting for room or the end.
func (s *Syncer) post(f func()) {
	select {
	case s.events <- f:
	case <-s.done:
	}
}

// Run runs the Syncer until ctx ends.
func (s *Syncer) Run(ctx context.Context) {
	defer close(s.done)
	written := make(chan writeResult, 1)
	go s.writer(ctx, written)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	s.lastLog = time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-s.events:
			f()
		case r := <-written:
			s.onWritten(r)
		case now := <-tick.C:
			s.onTick(now)
		case c := <-s.statusReq:
			c <- s.status()
			continue
		}
		now := time.Now()
		s.assign(now)
		s.feedWriter()
		s.nextOrphan(now)
	}
}

// Status returns a snapshot, or the zero Status if ctx ends first.
func (s *Syncer) Status(ctx context.Context) Status {
	c := make(chan Status, 1)
	select {
	case s.statusReq <- c:
		return <-c
	case <-ctx.Done():
	case <-s.done:
	}
	return Status{}
}

func (s *Syncer) status() Status {
	st := s.st
	st.Peers = len(s.peers)
	st.TargetHeight = s.target
	st.Syncing = s.next < len(s.chain) || s.writing > 0 || s.headerDownloads() > 0
	_, h, _ := s.cfg.Store.Tip()
	st.Written = h
	return st
}

func (s *Syncer) headerDownloads() int {
	n := 0
	for _, ps := range s.peers {
		if ps.hdl != nil {
			n++
		}
	}
	return n
}

// AddPeer starts syncing from p if it announces more work than ours. It
// copies p's BTVERSION on the caller's goroutine, so the Run goroutine
// reads a copy of its own (a session's BTVERSION does not alias its frame
// buffer: the handshake decodes a clone).
func (s *Syncer) AddPeer(p Peer) {
	v := *p.Version()
	v.TD = bytes.Clone(v.TD)
	s.post(func() { s.addPeer(p, &v) })
}

// RemovePeer forgets a peer; its blocks go back to the pool.
func (s *Syncer) RemovePeer(id uint64) {
	s.post(func() { s.removePeer(id) })
}

// Deliver hands a HEADERS or BLOCKS message from p to the Syncer. It checks
// block bodies on the caller's goroutine.
func (s *Syncer) Deliver(p Peer, m wire.Message) {
	switch m := m.(type) {
	case *wire.Headers:
		s.post(func() { s.onHeaders(p, m) })
	case *wire.Blocks:
		got := checkBodies(m.Blocks)
		s.post(func() { s.onBlocks(p, got) })
	}
}

// checked is a decoded block and the result of its body check.
type checked struct {
	hash chainhash.Hash
	blk  *btcwire.MsgBlock
	size int
	err  error
	pen  string // penalty reason when err != nil
}

// checkBodies decodes blocks and checks each merkle root against its header.
func checkBodies(raws [][]byte) []checked {
	out := make([]checked, len(raws))
	for i, raw := range raws {
		c := &out[i]
		c.size = len(raw)
		blk := new(btcwire.MsgBlock)
		r := bytes.NewReader(raw)
		if err := blk.Deserialize(r); err != nil || r.Len() != 0 || len(blk.Transactions) == 0 {
			c.err, c.pen = fmt.Errorf("undecodable block %d: %v", i, err), "invalid-body"
			continue
		}
		c.hash = blk.Header.BlockHash()
		c.blk = blk
		ids := make([]chainhash.Hash, len(blk.Transactions))
		for j, tx := range blk.Transactions {
			ids[j] = tx.TxHash()
		}
		root, mutated := merkle.Root(ids)
		switch {
		case mutated:
			c.err, c.pen = fmt.Errorf("block %v: mutated merkle tree", c.hash), "mutated"
		case root != blk.Header.MerkleRoot:
			c.err, c.pen = fmt.Errorf("block %v: merkle root does not match its header", c.hash), "invalid-body"
		}
	}
	return out
}

func (s *Syncer) addPeer(p Peer, v *wire.BTVersion) {
	if _, ok := s.peers[p.ID()]; ok {
		return
	}
	ps := &peerState{p: p, td: v.TDInt(), services: v.Services, batch: initialBatch, lacks: map[chainhash.Hash]bool{}, top: -1}
	s.peers[p.ID()] = ps
	_, _, ours := s.cfg.Store.Tip()
	if ps.td.Cmp(ours) <= 0 {
		return // nothing to get from it (it may sync from us)
	}
	if h := s.pool[v.BestHash]; h != nil {
		s.adoptBest(ps, h)
		return
	}
	if s.cfg.Store.Has(v.BestHash) {
		return
	}
	s.log.Info("syncing headers from peer", "peer", p, "height", v.BestHeight, "td", ps.td)
	ps.hdl = &headerDownload{cursor: v.BestHash, cursorHeight: int64(v.BestHeight), seen: map[chainhash.Hash]bool{}}
	s.requestHeaders(ps)
}

// Orphan tells the Syncer about a block that arrived by relay but whose
// parent is unknown: peers that were not ahead when they connected may have
// moved on since. It downloads the headers back from hash from one peer that
// serves blocks (no TD to check: the proof of work and the links are), and
// then the blocks. Such hints wait in a short queue while another is being
// followed, and a hint that a peer does not know is tried at the others, so
// none is lost (the last block of a burst is often the one whose parent is
// still on its way).
func (s *Syncer) Orphan(hash chainhash.Hash) {
	s.post(func() { s.orphan(hash) })
}

// Bounds of the orphan hints.
const (
	maxOrphans      = 16                     // hints queued; when full, the oldest is dropped
	orphanRounds    = 5                      // rounds of every peer a hint gets
	orphanRoundWait = 500 * time.Millisecond // between two rounds
)

// orphanHint is a queued Orphan hash.
type orphanHint struct {
	hash      chainhash.Hash
	tried     map[uint64]bool // peers asked in this round
	rounds    int
	notBefore time.Time
}

func (s *Syncer) orphan(hash chainhash.Hash) {
	if s.known(hash) {
		return
	}
	for _, o := range s.orphans {
		if o.hash == hash {
			return
		}
	}
	if len(s.orphans) >= maxOrphans {
		s.orphans = s.orphans[1:]
	}
	s.orphans = append(s.orphans, &orphanHint{hash: hash, tried: map[uint64]bool{}})
	s.nextOrphan(time.Now())
}

// nextOrphan follows the newest queued hint (its headers lead back through
// the older ones of the same chain) unless one is being followed already.
func (s *Syncer) nextOrphan(now time.Time) {
	if len(s.orphans) == 0 {
		return
	}
	for _, ps := range s.peers {
		if ps.hdl != nil && ps.hdl.hint {
			return // one at a time
		}
	}
	for len(s.orphans) > 0 {
		o := s.orphans[len(s.orphans)-1]
		if s.known(o.hash) {
			s.orphans = s.orphans[:len(s.orphans)-1]
			continue
		}
		if now.Before(o.notBefore) {
			return
		}
		var pick *peerState
		untried := false
		for _, ps := range s.peers {
			if ps.dropped || ps.services&wire.ServiceBlocks == 0 || o.tried[ps.p.ID()] {
				continue
			}
			untried = true
			if ps.hdl != nil {
				continue // busy with its own headers; maybe later
			}
			if pick == nil || ps.td.Cmp(pick.td) > 0 {
				pick = ps
			}
		}
		if pick == nil {
			if !untried && len(o.tried) > 0 {
				// Every peer was asked and none knew the block (yet):
				// another round a little later, within bounds.
				o.rounds++
				if o.rounds >= orphanRounds {
					s.orphans = s.orphans[:len(s.orphans)-1]
					continue
				}
				clear(o.tried)
				o.notBefore = now.Add(orphanRoundWait)
			}
			return
		}
		o.tried[pick.p.ID()] = true
		s.log.Info("block with unknown parent; syncing headers", "block", o.hash, "peer", pick.p)
		pick.hdl = &headerDownload{cursor: o.hash, cursorHeight: math.MaxInt32, seen: map[chainhash.Hash]bool{}, hint: true}
		s.requestHeaders(pick)
		return
	}
}

func (s *Syncer) requestHeaders(ps *peerState) {
	d := ps.hdl
	d.max = uint32(min(int64(wire.MaxHeaders), max(d.cursorHeight+1, 1)))
	d.sent = time.Now()
	if err := ps.p.SendTCP(&wire.GetHeaders{Hash: d.cursor, Max: d.max}); err != nil {
		s.log.Debug("GET_HEADERS not sent", "peer", ps.p, "err", err)
	}
}

// drop disconnects a misbehaving peer, penalizing it first if points > 0.
func (s *Syncer) drop(ps *peerState, reason string, points int, msg string) {
	if ps.dropped {
		return
	}
	ps.dropped = true
	s.st.Dropped++
	s.log.Warn("dropping peer", "peer", ps.p, "reason", reason, "detail", msg)
	if points > 0 {
		ps.p.Penalize(reason, points)
	}
	ps.p.Disconnect(wire.ReasonProtocol, reason+": "+msg)
	s.removePeer(ps.p.ID())
}

func (s *Syncer) removePeer(id uint64) {
	ps := s.peers[id]
	if ps == nil {
		return
	}
	delete(s.peers, id)
	for _, r := range ps.fifo {
		s.expire(ps, r)
	}
	ps.fifo = nil
	ps.hdl = nil
}

// known reports whether hash is stored or verified in the pool.
func (s *Syncer) known(hash chainhash.Hash) bool {
	return s.pool[hash] != nil || s.cfg.Store.Has(hash)
}

func (s *Syncer) onHeaders(p Peer, m *wire.Headers) {
	ps := s.peers[p.ID()]
	if ps == nil || ps.dropped {
		return
	}
	d := ps.hdl
	if d == nil || d.sent.IsZero() {
		ps.p.Penalize("unrequested", 10)
		return
	}
	d.sent = time.Time{}
	var linked bool
	var anchor chainhash.Hash
	for i := range m.Headers {
		h := &m.Headers[i]
		hash := h.BlockHash()
		if i == 0 && hash != d.cursor {
			s.drop(ps, "invalid-run", 100, fmt.Sprintf("first header %v is not the requested %v", hash, d.cursor))
			return
		}
		if i > 0 && m.Headers[i-1].PrevBlock != hash {
			s.drop(ps, "invalid-run", 100, fmt.Sprintf("header %v does not link to the one before", hash))
			return
		}
		if d.seen[hash] {
			s.drop(ps, "invalid-run", 100, fmt.Sprintf("repeated header %v", hash))
			return
		}
		if err := pow.CheckHash(hash, h.Bits, s.cfg.Params.PowLimit); err != nil {
			s.drop(ps, "bad-pow", 100, err.Error())
			return
		}
		if s.known(hash) {
			linked, anchor = true, hash
			break
		}
		d.seen[hash] = true
		d.got = append(d.got, *h)
		d.hashes = append(d.hashes, hash)
		d.cursorHeight--
		if s.known(h.PrevBlock) {
			linked, anchor = true, h.PrevBlock
			break
		}
	}
	if !linked {
		if d.hint && len(m.Headers) == 0 && len(d.got) == 0 {
			ps.hdl = nil // the peer does not know the block: no fault
			return
		}
		if d.cursorHeight < 0 {
			s.drop(ps, "invalid-run", 100, "header chain goes past its announced height without reaching a known block")
			return
		}
		if len(m.Headers) < int(d.max) {
			d.shorts++
			if d.shorts >= 2 {
				s.drop(ps, "dripping", 0, fmt.Sprintf("two short HEADERS replies in a row (%d of %d)", len(m.Headers), d.max))
				return
			}
		} else {
			d.shorts = 0
		}
		if len(d.got) > 0 {
			d.cursor = d.got[len(d.got)-1].PrevBlock
		}
		s.requestHeaders(ps)
		return
	}
	s.linkHeaders(ps, anchor)
}

// linkHeaders adds a peer's downloaded headers, which reach anchor, to the
// pool after checking their work against the peer's TD.
func (s *Syncer) linkHeaders(ps *peerState, anchor chainhash.Hash) {
	d := ps.hdl
	ps.hdl = nil
	var parent *hdr
	var height int32
	var work *big.Int
	if a := s.pool[anchor]; a != nil {
		parent, height, work = a, a.height, a.work
	} else {
		info, err := s.cfg.Store.Info(anchor)
		if err != nil {
			s.log.Warn("anchor vanished", "hash", anchor, "err", err)
			return
		}
		height, work = info.Height, info.Work
	}
	added := make([]*hdr, 0, len(d.got))
	for i := len(d.got) - 1; i >= 0; i-- {
		height++
		work = new(big.Int).Add(work, pow.Work(d.got[i].Bits))
		if h := s.pool[d.hashes[i]]; h != nil {
			parent = h // another peer's download got there first
			continue
		}
		h := &hdr{hash: d.hashes[i], header: d.got[i], height: height, work: work, parent: parent}
		added = append(added, h)
		parent = h
	}
	if !d.hint && work.Cmp(ps.td) != 0 {
		s.drop(ps, "td-mismatch", 0, fmt.Sprintf("announced work %v, headers show %v", ps.td, work))
		return
	}
	for _, h := range added {
		s.pool[h.hash] = h
	}
	best := parent
	if best == nil {
		return // nothing new
	}
	if best.work.Cmp(work) != 0 {
		s.drop(ps, "td-mismatch", 0, "pool disagrees with the peer's chain")
		return
	}
	s.log.Info("headers verified", "peer", ps.p, "new", len(added), "height", best.height)
	s.adoptBest(ps, best)
}

// adoptBest records a peer's verified best header and switches the target
// chain if it has more work.
func (s *Syncer) adoptBest(ps *peerState, best *hdr) {
	ps.best = best
	var cur *big.Int
	if len(s.chain) > 0 {
		cur = s.chain[len(s.chain)-1].work
	} else {
		_, _, cur = s.cfg.Store.Tip()
	}
	if best.work.Cmp(cur) > 0 {
		s.setTarget(best)
	}
	s.computeTop(ps)
}

// setTarget makes best's chain the target.
func (s *Syncer) setTarget(best *hdr) {
	var chain []*hdr
	for h := best; h != nil; h = h.parent {
		chain = append(chain, h)
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	// Blocks of the old target that are not on the new one are forgotten
	// (in-flight ones are accepted if they arrive but not written).
	onNew := make(map[chainhash.Hash]bool, len(chain))
	for _, h := range chain {
		onNew[h.hash] = true
	}
	for hash, st := range s.state {
		if !onNew[hash] && !st.given {
			if st.blk != nil {
				s.buffered -= st.size
			}
			delete(s.state, hash)
		}
	}
	s.chain = chain
	s.next = 0
	s.target = best.height
	if s.started.IsZero() {
		s.started = time.Now()
	}
	for s.next < len(chain) {
		st := s.state[chain[s.next].hash]
		if (st != nil && st.given) || s.cfg.Store.Has(chain[s.next].hash) {
			s.next++
			continue
		}
		break
	}
	for _, h := range chain[s.next:] {
		if s.state[h.hash] == nil {
			s.state[h.hash] = &blkState{h: h}
		}
	}
	for _, ps := range s.peers {
		s.computeTop(ps)
	}
	s.log.Info("sync target", "height", best.height, "hash", best.hash, "blocks", len(chain)-s.next)
}

// computeTop sets the highest target height ps can serve.
func (s *Syncer) computeTop(ps *peerState) {
	ps.top = -1
	if ps.best == nil || len(s.chain) == 0 {
		return
	}
	base := s.chain[0].height
	for h := ps.best; h != nil; h = h.parent {
		i := int(h.height - base)
		if i >= 0 && i < len(s.chain) && s.chain[i].hash == h.hash {
			ps.top = h.height
			return
		}
	}
}

// timeout is a peer's adaptive request timeout.
func (s *Syncer) timeout(ps *peerState) time.Duration {
	return max(s.cfg.MinTimeout, 4*ps.srtt)
}

func (ps *peerState) active() int {
	n := 0
	for _, r := range ps.fifo {
		if !r.expired {
			n++
		}
	}
	return n
}

// canTake reports whether ps may get another GET_BLOCKS.
func (ps *peerState) canTake() bool {
	if ps.stalled && len(ps.fifo) > 0 {
		return false
	}
	return !ps.dropped && ps.top >= 0 && ps.active() < maxOutstanding && len(ps.fifo) < maxFIFO
}

// assign sends GET_BLOCKS to every peer with room.
func (s *Syncer) assign(now time.Time) {
	if s.next >= len(s.chain) {
		return
	}
	written := s.next - s.writing
	end := min(len(s.chain), written+s.cfg.Window)
	// Share the free blocks of the window fairly among the peers that
	// can take a request, so the first requests (before any rate is
	// measured) do not hand the whole window to a few peers.
	free, takers := 0, 0
	for i := s.next; i < end; i++ {
		if st := s.state[s.chain[i].hash]; st != nil && st.peer == nil && st.blk == nil && !st.given {
			free++
		}
	}
	for _, ps := range s.peers {
		if ps.canTake() {
			takers++
		}
	}
	if takers == 0 {
		return
	}
	if free == 0 {
		if end == len(s.chain) {
			s.endGame(now)
		}
		return
	}
	share := (free + takers - 1) / takers
	for _, ps := range s.peers {
		if !ps.canTake() {
			continue
		}
		if s.buffered >= s.cfg.MaxBuffered {
			return
		}
		var hashes []chainhash.Hash
		limit := min(ps.batch, share)
		for i := s.next; i < end && len(hashes) < limit; i++ {
			h := s.chain[i]
			if h.height > ps.top {
				break
			}
			st := s.state[h.hash]
			if st == nil || st.peer != nil || st.blk != nil || st.given || ps.lacks[h.hash] {
				continue
			}
			hashes = append(hashes, h.hash)
		}
		if len(hashes) == 0 {
			continue
		}
		if s.send(ps, hashes, now) {
			for _, hash := range hashes {
				s.state[hash].peer = ps
			}
		}
	}
}

// send sends GET_BLOCKS and records the request.
func (s *Syncer) send(ps *peerState, hashes []chainhash.Hash, now time.Time) bool {
	if err := ps.p.SendTCP(&wire.GetBlocks{Hashes: hashes}); err != nil {
		return false
	}
	ps.fifo = append(ps.fifo, &request{hashes: hashes, sent: now})
	return true
}

// endGame: every block of the chain's tail is in flight or in. A peer with
// nothing to do asks for blocks another peer has in flight, oldest first,
// each of them once, so one slow peer does not hold up the end of the
// download; whichever copy arrives first is kept.
func (s *Syncer) endGame(now time.Time) {
	for _, ps := range s.peers {
		if !ps.canTake() || ps.active() > 0 {
			continue
		}
		var hashes []chainhash.Hash
		for i := s.next; i < len(s.chain) && len(hashes) < ps.batch; i++ {
			h := s.chain[i]
			if h.height > ps.top {
				break
			}
			st := s.state[h.hash]
			if st == nil || st.peer == nil || st.peer == ps || st.blk != nil || st.given || st.dup || ps.lacks[h.hash] {
				continue
			}
			hashes = append(hashes, h.hash)
		}
		if len(hashes) > 0 && s.send(ps, hashes, now) {
			for _, hash := range hashes {
				s.state[hash].dup = true
			}
		}
	}
}

// expire returns a request's undelivered blocks to the pool.
func (s *Syncer) expire(ps *peerState, r *request) {
	r.expired = true
	for _, hash := range r.hashes {
		if st := s.state[hash]; st != nil && st.peer == ps {
			st.peer = nil
		}
	}
}

func (s *Syncer) onBlocks(p Peer, got []checked) {
	ps := s.peers[p.ID()]
	if ps == nil || ps.dropped {
		return
	}
	if len(ps.fifo) == 0 {
		s.drop(ps, "unrequested", 10, "BLOCKS without a request")
		return
	}
	r := ps.fifo[0]
	// The request stays in the FIFO until the reply is accepted, so that
	// dropping the peer returns its blocks to the pool.
	defer func() {
		if !ps.dropped && len(ps.fifo) > 0 && ps.fifo[0] == r {
			ps.fifo = ps.fifo[1:]
			if len(ps.fifo) == 0 {
				ps.stalled = false
			}
		}
	}()
	asked := make(map[chainhash.Hash]int, len(r.hashes))
	for i, h := range r.hashes {
		asked[h] = i
	}
	now := time.Now()
	delivered := make(map[chainhash.Hash]bool, len(got))
	prefix := true
	bytesIn := 0
	for k, c := range got {
		if c.err != nil {
			s.drop(ps, c.pen, 100, c.err.Error())
			return
		}
		i, ok := asked[c.hash]
		if !ok || delivered[c.hash] {
			s.drop(ps, "unrequested", 10, fmt.Sprintf("block %v was not requested", c.hash))
			return
		}
		if i != k {
			prefix = false
		}
		delivered[c.hash] = true
		bytesIn += c.size
		st := s.state[c.hash]
		if st == nil || st.blk != nil || st.given {
			continue // duplicate or no longer wanted
		}
		st.blk, st.size, st.peer = c.blk, c.size, nil
		s.buffered += c.size
		s.doneBlks++
		s.doneBytes += int64(c.size)
	}
	for _, hash := range r.hashes {
		if delivered[hash] {
			continue
		}
		if st := s.state[hash]; st != nil && st.peer == ps {
			st.peer = nil
		}
		if !prefix || len(got) == 0 {
			ps.lacks[hash] = true
		}
	}
	// Rate and batch size from the service time of this reply.
	start := r.sent
	if ps.lastRep.After(start) {
		start = ps.lastRep
	}
	ps.lastRep = now
	if r.expired {
		return
	}
	ps.timeouts = 0
	svc := max(now.Sub(start), time.Millisecond)
	if ps.srtt == 0 {
		ps.srtt = svc
	} else {
		ps.srtt = (7*ps.srtt + svc) / 8
	}
	s.log.Debug("BLOCKS", "peer", ps.p, "asked", len(r.hashes), "got", len(got), "bytes", bytesIn, "service", svc, "batch", ps.batch)
	if n := len(got); n > 0 {
		rate := float64(n) / svc.Seconds()
		if ps.rate == 0 {
			ps.rate = rate
		} else {
			ps.rate = 0.75*ps.rate + 0.25*rate
		}
		want := int(ps.rate * s.cfg.TargetRTT.Seconds())
		ps.batch = min(max(want, ps.batch/2, 1), ps.batch*2, wire.MaxBlocksPerRequest)
	}
}

func (s *Syncer) onTick(now time.Time) {
	for _, ps := range s.peers {
		if d := ps.hdl; d != nil && !d.sent.IsZero() && now.Sub(d.sent) > headerTimeout {
			s.drop(ps, "stall", 10, "GET_HEADERS not answered")
			continue
		}
		to := s.timeout(ps)
		// Replies come back in order on one TCP stream, so only the
		// oldest outstanding request is being served; its clock starts
		// when it was sent or when the reply before it arrived, whichever
		// is later. Later requests are queued behind it, not late.
		for _, r := range ps.fifo {
			if r.expired {
				continue
			}
			start := r.sent
			for _, t := range []time.Time{ps.lastRep, ps.expiredAt} {
				if t.After(start) {
					start = t
				}
			}
			if now.Sub(start) > to {
				// The next request's clock starts now.
				ps.expiredAt = now
				s.expire(ps, r)
				ps.timeouts++
				ps.batch = max(1, ps.batch/2)
				s.log.Debug("GET_BLOCKS timed out", "peer", ps.p, "blocks", len(r.hashes), "timeout", to)
			}
			break
		}
		if ps.timeouts >= stallTimeouts {
			s.drop(ps, "stall", 10, fmt.Sprintf("%d GET_BLOCKS timeouts in a row", ps.timeouts))
		}
	}
	s.checkStall(now)
	if now.Sub(s.lastLog) >= s.cfg.ProgressInterval {
		s.progress(now)
	}
}

// checkStall moves the blocks of a peer that holds the window back.
func (s *Syncer) checkStall(now time.Time) {
	if s.next >= len(s.chain) {
		s.stallAt = time.Time{}
		return
	}
	st := s.state[s.chain[s.next].hash]
	if st == nil || st.peer == nil || st.blk != nil {
		s.stallAt = time.Time{}
		return
	}
	staller := st.peer
	for _, ps := range s.peers {
		if ps != staller && ps.top >= st.h.height && ps.active() > 0 {
			s.stallAt = time.Time{}
			return // others are busy: not a stall
		}
	}
	others := false
	for _, ps := range s.peers {
		if ps != staller && ps.top >= st.h.height && !ps.lacks[st.h.hash] && len(ps.fifo) < maxFIFO {
			others = true
		}
	}
	if !others {
		return
	}
	if s.stallAt.IsZero() {
		s.stallAt = now
		return
	}
	if now.Sub(s.stallAt) < s.cfg.StallTimeout {
		return
	}
	s.stallAt = time.Time{}
	s.st.Stalls++
	s.log.Info("peer stalls the download window; moving its blocks", "peer", staller.p, "height", st.h.height)
	for _, r := range staller.fifo {
		if !r.expired {
			s.expire(staller, r)
		}
	}
	staller.batch = 1
	staller.stalled = true
	staller.timeouts++
	if staller.timeouts >= stallTimeouts {
		s.drop(staller, "stall", 10, "stalled the download window repeatedly")
	}
}

func (s *Syncer) progress(now time.Time) {
	dt := now.Sub(s.lastLog).Seconds()
	bps := float64(s.doneBlks-s.lastLogBlks) / dt
	mbps := float64(s.doneBytes-s.lastLogBytes) / dt / 1e6
	s.lastLog, s.lastLogBlks, s.lastLogBytes = now, s.doneBlks, s.doneBytes
	s.st.BlocksPerSec, s.st.MBPerSec = bps, mbps
	if s.next >= len(s.chain) && s.writing == 0 && bps == 0 {
		return
	}
	_, height, _ := s.cfg.Store.Tip()
	target := s.target
	remaining := max(0, int(target-height))
	eta := "unknown"
	if bps > 0 {
		eta = (time.Duration(float64(remaining)/bps) * time.Second).Round(time.Second).String()
	}
	s.log.Info("sync progress", "height", height, "target", target, "blocks_per_s", fmt.Sprintf("%.1f", bps),
		"mb_per_s", fmt.Sprintf("%.2f", mbps), "peers", len(s.peers), "eta", eta)
}

// feedWriter hands the consecutive received blocks to the writer.
func (s *Syncer) feedWriter() {
	if s.writing > 0 {
		return
	}
	var batch []*btcwire.MsgBlock
	bytes := 0
	for i := s.next; i < len(s.chain) && len(batch) < maxWriteBatch && bytes < maxWriteBytes; i++ {
		st := s.state[s.chain[i].hash]
		if st == nil || st.blk == nil {
			break
		}
		batch = append(batch, st.blk)
		bytes += st.size
	}
	if len(batch) == 0 {
		return
	}
	for i := range batch {
		st := s.state[s.chain[s.next+i].hash]
		st.given = true
	}
	s.next += len(batch)
	s.writing = len(batch)
	s.writeCh <- batch // capacity 1 and writing==0: never blocks
}

type writeResult struct {
	blocks []*btcwire.MsgBlock
	err    error
}

func (s *Syncer) writer(ctx context.Context, out chan<- writeResult) {
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-s.writeCh:
			_, err := s.cfg.Store.PutBatch(b)
			if err == nil && s.cfg.OnWritten != nil {
				last := b[len(b)-1]
				_, h, _ := s.cfg.Store.Tip()
				s.cfg.OnWritten(last.BlockHash(), h)
			}
			select {
			case out <- writeResult{blocks: b, err: err}:
			case <-ctx.Done():
				return
			}
		}
	}
}

func (s *Syncer) onWritten(r writeResult) {
	s.writing = 0
	if r.err != nil {
		// Should not happen: bodies were checked. Download them again.
		s.log.Error("writing blocks failed", "err", r.err)
		if errors.Is(r.err, store.ErrClosed) {
			return
		}
		for _, b := range r.blocks {
			if st := s.state[b.BlockHash()]; st != nil {
				s.buffered -= st.size
				st.blk, st.given, st.peer = nil, false, nil
			}
		}
		s.next = 0
		for s.next < len(s.chain) && s.state[s.chain[s.next].hash] == nil {
			s.next++
		}
		return
	}
	for _, b := range r.blocks {
		hash := b.BlockHash()
		if st := s.state[hash]; st != nil {
			s.buffered -= st.size
		}
		delete(s.state, hash)
		delete(s.pool, hash)
	}
	// Trim the written prefix of the target chain.
	k := 0
	for k < len(s.chain) && s.state[s.chain[k].hash] == nil {
		k++
	}
	s.chain = s.chain[k:]
	s.next = max(0, s.next-k)
	if len(s.chain) > 0 {
		s.chain[0].parent = nil
		return
	}
	s.chain = nil
	s.next = 0
	_, height, _ := s.cfg.Store.Tip()
	el := time.Since(s.started)
	s.log.Info("sync complete", "height", height, "blocks", s.doneBlks, "mb", fmt.Sprintf("%.1f", float64(s.doneBytes)/1e6),
		"elapsed", el.Round(time.Millisecond), "peers", len(s.peers))
	s.started = time.Time{}
}
