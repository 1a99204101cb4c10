package bridge

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/job"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/peer"
	"github.com/btcsuite/btcd/wire/v2"
)

// connLoop keeps one P2P connection to the Bitcoin node while ctx lives,
// redialling with exponential backoff.
func (b *Bridge) connLoop(ctx context.Context) {
	backoff := b.cfg.MinBackoff
	for {
		established, err := b.runPeer(ctx)
		if ctx.Err() != nil {
			return
		}
		if established {
			backoff = b.cfg.MinBackoff
			b.log.Warn("Bitcoin node disconnected", "addr", b.cfg.P2P, "err", err, "retry_in", backoff)
		} else {
			b.log.Warn("cannot connect to the Bitcoin node", "addr", b.cfg.P2P, "err", err, "retry_in", backoff)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if !established {
			backoff = min(2*backoff, b.cfg.MaxBackoff)
		}
	}
}

// runPeer dials the Bitcoin node and serves the connection until it ends.
// established reports whether the handshake completed.
func (b *Bridge) runPeer(ctx context.Context) (established bool, err error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", b.cfg.P2P)
	if err != nil {
		return false, err
	}
	verack := make(chan struct{})
	p, err := peer.NewOutboundPeer(b.peerConfig(verack), b.cfg.P2P)
	if err != nil {
		conn.Close()
		return false, errorf(ErrConfig, "peer: %v", err)
	}
	p.AssociateConnection(conn)
	hs := time.NewTimer(handshakeTimeout)
	defer hs.Stop()
	select {
	case <-verack:
	case <-p.Done():
		return false, errors.New("disconnected during the handshake")
	case <-hs.C:
		p.Disconnect()
		p.WaitForDisconnect()
		return false, errors.New("handshake timed out")
	case <-ctx.Done():
		p.Disconnect()
		p.WaitForDisconnect()
		return false, ctx.Err()
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		p.Disconnect()
		p.WaitForDisconnect()
		return true, ErrClosed
	}
	b.peer = p
	b.stats.Connects++
	// Announce the recent blocks: the Bitcoin node may have missed them
	// while the bridge was away (it ignores those it has).
	inv := wire.NewMsgInv()
	for _, h := range b.recent.order {
		_ = inv.AddInvVect(wire.NewInvVect(wire.InvTypeBlock, &h))
	}
	b.mu.Unlock()
	if len(inv.InvList) > 0 {
		p.QueueMessage(inv, nil)
	}
	b.log.Info("connected to the Bitcoin node", "addr", b.cfg.P2P, "agent", p.UserAgent(), "height", p.StartingHeight())
	select {
	case <-p.Done():
	case <-ctx.Done():
		p.Disconnect()
	}
	p.WaitForDisconnect()
	b.mu.Lock()
	if b.peer == p {
		b.peer = nil
	}
	b.mu.Unlock()
	return true, ctx.Err()
}

// peerConfig returns the btcd peer configuration of one connection; verack
// is closed when the handshake completes.
func (b *Bridge) peerConfig(verack chan struct{}) *peer.Config {
	var once sync.Once
	return &peer.Config{
		UserAgentName:    "blocktorrent-bridge",
		UserAgentVersion: "0.1.0",
		ChainParams:      b.params,
		Services:         wire.SFNodeWitness,
		TrickleInterval:  100 * time.Millisecond,
		AllowSelfConns:   b.allowSelfConns,
		Listeners: peer.MessageListeners{
			OnVerAck:  func(*peer.Peer, *wire.MsgVerAck) { once.Do(func() { close(verack) }) },
			OnInv:     b.onInv,
			OnHeaders: b.onHeaders,
			OnTx:      b.onTx,
			OnBlock:   func(_ *peer.Peer, blk *wire.MsgBlock, _ []byte) { b.submit(blk) },
			OnGetData: b.onGetData,
		},
	}
}

// onInv asks for announced transactions the mempool lacks and blocks the
// bridge has not seen.
func (b *Bridge) onInv(p *peer.Peer, msg *wire.MsgInv) {
	txType, blockType := wire.InvTypeTx, wire.InvTypeBlock
	if p.IsWitnessEnabled() {
		txType, blockType = wire.InvTypeWitnessTx, wire.InvTypeWitnessBlock
	}
	now := time.Now()
	gd := wire.NewMsgGetData()
	for _, iv := range msg.InvList {
		switch iv.Type {
		case wire.InvTypeTx, wire.InvTypeWitnessTx:
			if !b.pool.Has(iv.Hash) {
				_ = gd.AddInvVect(wire.NewInvVect(txType, &iv.Hash))
			}
		case wire.InvTypeBlock, wire.InvTypeWitnessBlock:
			if b.wantBlock(iv.Hash, now) {
				_ = gd.AddInvVect(wire.NewInvVect(blockType, &iv.Hash))
			}
		}
	}
	if len(gd.InvList) > 0 {
		p.QueueMessage(gd, nil)
	}
}

// onHeaders asks for announced blocks the bridge has not seen.
func (b *Bridge) onHeaders(p *peer.Peer, msg *wire.MsgHeaders) {
	blockType := wire.InvTypeBlock
	if p.IsWitnessEnabled() {
		blockType = wire.InvTypeWitnessBlock
	}
	now := time.Now()
	gd := wire.NewMsgGetData()
	for _, h := range msg.Headers {
		hash := h.BlockHash()
		if b.wantBlock(hash, now) {
			_ = gd.AddInvVect(wire.NewInvVect(blockType, &hash))
		}
	}
	if len(gd.InvList) > 0 {
		p.QueueMessage(gd, nil)
	}
}

// onTx adds a transaction from the Bitcoin node to the mempool.
func (b *Bridge) onTx(_ *peer.Peer, tx *wire.MsgTx) {
	added, err := b.pool.Add(tx)
	if err != nil {
		b.log.Debug("transaction not added", "tx", tx.TxHash(), "err", err)
		return
	}
	if added {
		b.mu.Lock()
		b.stats.TxsAdded++
		b.mu.Unlock()
	}
}

// onGetData serves blocks handed over from Blocktorrent (the recent map,
// then the job engine) and transactions of the mempool; unknown
// transactions are answered with notfound, unknown blocks not at all.
func (b *Bridge) onGetData(p *peer.Peer, msg *wire.MsgGetData) {
	nf := wire.NewMsgNotFound()
	for _, iv := range msg.InvList {
		enc := wire.BaseEncoding
		switch iv.Type {
		case wire.InvTypeWitnessBlock, wire.InvTypeWitnessTx:
			enc = wire.WitnessEncoding
		}
		switch iv.Type {
		case wire.InvTypeBlock, wire.InvTypeWitnessBlock:
			if blk := b.block(iv.Hash); blk != nil {
				b.mu.Lock()
				b.stats.BlocksServed++
				b.mu.Unlock()
				p.QueueMessageWithEncoding(blk, nil, enc)
			} else {
				// btcd raises a peer's ban score for every block
				// not found; leave the request unanswered instead
				// (it has the block from submitblock, or asks again).
				b.log.Debug("asked for a block no longer held", "block", iv.Hash)
			}
			continue
		case wire.InvTypeTx, wire.InvTypeWitnessTx:
			if raw, ok := b.pool.Get(iv.Hash); ok {
				var tx wire.MsgTx
				if err := tx.Deserialize(bytes.NewReader(raw)); err == nil {
					p.QueueMessageWithEncoding(&tx, nil, enc)
					continue
				}
			}
		}
		_ = nf.AddInvVect(iv)
	}
	if len(nf.InvList) > 0 {
		p.QueueMessage(nf, nil)
	}
}

// engineNode is a Node whose job engine can be asked for completed blocks
// (*node.Node).
type engineNode interface {
	Engine() *job.Engine
}

// block returns a block handed over from Blocktorrent: from the recent
// map, or from the node's job engine while it still holds the job.
func (b *Bridge) block(hash chainhash.Hash) *wire.MsgBlock {
	b.mu.Lock()
	blk := b.recent.m[hash]
	b.mu.Unlock()
	if blk != nil {
		return blk
	}
	if en, ok := b.node.(engineNode); ok {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		defer cancel()
		if blk, err := en.Engine().Block(ctx, hash); err == nil {
			return blk
		}
	}
	return nil
}
