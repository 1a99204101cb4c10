package node

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"

	"github.com/blocktorrent/blocktorrent/internal/job"
	"github.com/blocktorrent/blocktorrent/internal/pow"
	"github.com/blocktorrent/blocktorrent/internal/session"
	"github.com/blocktorrent/blocktorrent/internal/store"
	chainsync "github.com/blocktorrent/blocktorrent/internal/sync"
	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// Chain download (docs/protocol.md §9): with a DataDir the node keeps its
// blocks in internal/store, serves GET_HEADERS, GET_BLOCK_HASHES and
// GET_BLOCKS from it, and downloads the chain from peers with more work
// (internal/sync). Without a DataDir it keeps the in-memory chain view and
// answers chain requests with empty replies.

const (
	// storeQueue bounds the blocks waiting for the store writer.
	storeQueue = 256
	// serveQueue bounds a peer's chain requests waiting to be served; a
	// peer that sends more is penalized (protocol).
	serveQueue = 16
	// maxBlocksPayload is where a BLOCKS reply stops (§9: 4 MiB).
	maxBlocksPayload = 4 << 20
)

// chainState is the node's store, downloader and serving state.
type chainState struct {
	st      *store.Store
	syncer  *chainsync.Syncer
	blocks  chan *btcwire.MsgBlock // to the store writer
	mu      sync.Mutex
	servers map[uint64]chan wire.Message
}

// openStore opens the store in cfg.DataDir (New calls it when set).
func (n *Node) openStore() error {
	st, err := store.OpenWith(n.cfg.DataDir, n.params, store.Options{Logger: n.log})
	if err != nil {
		return fmt.Errorf("%w: store: %v", ErrConfig, err)
	}
	n.cs = &chainState{
		st:      st,
		blocks:  make(chan *btcwire.MsgBlock, storeQueue),
		servers: make(map[uint64]chan wire.Message),
	}
	n.cs.syncer = chainsync.New(chainsync.Config{Store: st, Params: n.params, Log: n.log})
	return nil
}

// Store returns the node's block store (nil without a DataDir).
func (n *Node) Store() *store.Store {
	if n.cs == nil {
		return nil
	}
	return n.cs.st
}

// SyncStatus returns the chain download's state (zero without a DataDir).
func (n *Node) SyncStatus(ctx context.Context) chainsync.Status {
	if n.cs == nil {
		return chainsync.Status{}
	}
	return n.cs.syncer.Status(ctx)
}

// tip is the chain tip: the store's when there is one.
func (n *Node) tip() (chainhash.Hash, uint32, *big.Int) {
	if n.cs != nil {
		h, height, work := n.cs.st.Tip()
		return h, uint32(max(height, 0)), work
	}
	return n.chain.tip()
}

// checkHeader checks a peer's OPEN_JOB header against the chain
// (job.Config.CheckHeader, on the engine goroutine): on networks without
// minimum-difficulty blocks its bits may be at most pow.MaxRetarget times
// easier than its parent's, or the best block's when the parent is
// unknown. Testnets and regtest allow minimum-difficulty blocks and skip
// it.
func (n *Node) checkHeader(h *btcwire.BlockHeader) error {
	if n.params.ReduceMinDifficulty {
		return nil
	}
	return pow.CheckContext(h.Bits, n.refBits(h))
}

// refBits returns the bits of the parent of h if known, else of the best
// block: from the store when there is one, else from the in-memory chain.
func (n *Node) refBits(h *btcwire.BlockHeader) uint32 {
	if n.cs == nil {
		return n.chain.refBits(h)
	}
	if p, err := n.cs.st.Header(h.PrevBlock); err == nil {
		return p.Bits
	}
	tip, _, _ := n.cs.st.Tip()
	if t, err := n.cs.st.Header(tip); err == nil {
		return t.Bits
	}
	return n.chain.refBits(h)
}

// startChain starts the store writer and the downloader (from Start).
func (n *Node) startChain(ctx context.Context) {
	if n.cs == nil {
		return
	}
	n.local.Services |= wire.ServiceBlocks
	n.local.Features |= wire.FeatureHeaderSync
	n.goFunc(func() { n.cs.syncer.Run(ctx) })
	n.goFunc(func() { n.storeWriter(ctx) })
}

// closeChain closes the store once every goroutine has stopped.
func (n *Node) closeChain() {
	if n.cs != nil {
		if err := n.cs.st.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			n.log.Warn("closing the store", "err", err)
		}
	}
}

// storeBlock queues a block for the store (from the engine goroutine; it
// never blocks).
func (n *Node) storeBlock(blk *btcwire.MsgBlock) {
	if n.cs == nil {
		return
	}
	select {
	case n.cs.blocks <- blk:
	default:
		n.log.Warn("store queue full; block not stored", "block", blk.BlockHash())
	}
}

// storeWriter puts relayed blocks into the store.
func (n *Node) storeWriter(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case blk := <-n.cs.blocks:
			n.putBlock(blk)
		}
	}
}

func (n *Node) putBlock(blk *btcwire.MsgBlock) {
	if _, err := n.cs.st.Put(blk); err != nil {
		lvl := n.log.Warn
		if errors.Is(err, store.ErrOrphan) {
			// A relayed block on a chain we do not have (yet): the
			// downloader fetches what leads to it.
			lvl = n.log.Debug
			n.cs.syncer.Orphan(blk.BlockHash())
		}
		lvl("block not stored", "block", blk.BlockHash(), "err", err)
	}
}

// syncPeerUp tells the downloader and the server about a new session.
func (n *Node) syncPeerUp(s *session.Session) {
	if n.cs == nil {
		return
	}
	q := make(chan wire.Message, serveQueue)
	n.cs.mu.Lock()
	n.cs.servers[s.ID()] = q
	n.cs.mu.Unlock()
	n.goFunc(func() { n.serveChain(s, q) })
	n.cs.syncer.AddPeer(s)
}

// syncPeerDown forgets a session.
func (n *Node) syncPeerDown(s *session.Session) {
	if n.cs == nil {
		return
	}
	n.cs.mu.Lock()
	delete(n.cs.servers, s.ID())
	n.cs.mu.Unlock()
	n.cs.syncer.RemovePeer(s.ID())
}

// onChainMessage handles the §9 messages.
func (n *Node) onChainMessage(s *session.Session, m wire.Message) {
	switch m.(type) {
	case *wire.Headers, *wire.Blocks:
		if n.cs == nil {
			s.Penalize(job.ReasonUnrequested, unrequestedPoints)
			return
		}
		n.cs.syncer.Deliver(s, m)
	case *wire.BlockHashes:
		s.Penalize(job.ReasonUnrequested, unrequestedPoints) // this node syncs with headers
	case *wire.GetHeaders, *wire.GetBlockHashes, *wire.GetBlocks:
		if n.cs == nil {
			_ = s.SendTCP(emptyReply(m))
			return
		}
		n.cs.mu.Lock()
		q := n.cs.servers[s.ID()]
		n.cs.mu.Unlock()
		if q == nil {
			return
		}
		select {
		case q <- m:
		default:
			s.Penalize(job.ReasonProtocol, protocolPoints) // more requests in flight than the limit
		}
	}
}

func emptyReply(m wire.Message) wire.Message {
	switch m.(type) {
	case *wire.GetHeaders:
		return &wire.Headers{}
	case *wire.GetBlockHashes:
		return &wire.BlockHashes{}
	}
	return &wire.Blocks{}
}

// serveChain answers one peer's chain requests in order.
func (n *Node) serveChain(s *session.Session, q chan wire.Message) {
	for {
		var m wire.Message
		select {
		case <-s.Done():
			return
		case m = <-q:
		}
		reply := n.chainReply(m)
		if err := s.SendTCPWait(n.ctx, reply); err != nil {
			return
		}
	}
}

// chainReply builds the answer to a GET_HEADERS, GET_BLOCK_HASHES or
// GET_BLOCKS from the store, within the limits of §9.
func (n *Node) chainReply(m wire.Message) wire.Message {
	st := n.cs.st
	switch m := m.(type) {
	case *wire.GetHeaders:
		hs := st.Headers(m.Hash, int(min(m.Max, wire.MaxHeaders)))
		return &wire.Headers{Headers: hs}
	case *wire.GetBlockHashes:
		return &wire.BlockHashes{Hashes: st.Ancestors(m.Hash, int(min(m.MaxBlocks, wire.MaxBlockHashes)))}
	case *wire.GetBlocks:
		r := &wire.Blocks{}
		size := 1 // COUNT varint
		for _, h := range m.Hashes {
			raw, err := st.RawBlock(h)
			if err != nil {
				continue // not ours: left out
			}
			add := len(raw) + wire.VarintLen(uint64(len(raw)))
			if len(r.Blocks) > 0 && size+add > maxBlocksPayload {
				break
			}
			size += add
			r.Blocks = append(r.Blocks, raw)
		}
		return r
	}
	return emptyReply(m)
}
