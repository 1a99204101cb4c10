package bench

import (
	"bufio"
	"fmt"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// compactRelay is BIP152 compact block relay in high-bandwidth mode: a
// node that holds the block (a source, or a node that has just
// reconstructed it) sends cmpctblock unsolicited to every peer not known to
// have it. The receiver of the first cmpctblock fills the block from its
// mempool by short id, asks that peer for whatever it lacks with
// getblocktxn, and, once blocktxn fills the gaps and the merkle root
// checks, relays its own cmpctblock (high-bandwidth mode relays before full
// validation). Later cmpctblocks for the same block are ignored. A short-id
// collision (ambiguous in the mempool) is treated as missing; a wrong match
// that breaks the merkle root refetches every transaction from the same
// peer.
type compactRelay struct {
	nonce    uint64
	cmpctMsg []byte // our framed cmpctblock, built once
	part     *partialBlock
}

// partialBlock is a block being reconstructed.
type partialBlock struct {
	from    *legacyPeer
	header  btcwire.BlockHeader
	txs     []*btcwire.MsgTx
	txids   []chainhash.Hash // known ids (mempool); zero when unknown
	missing []int            // indexes asked for with getblocktxn
	refetch bool             // every transaction was asked for again
}

func (c *compactRelay) read(r *bufio.Reader) (btcwire.Message, error) { return readFrame(r, magic) }

func (c *compactRelay) source(n *legacyNode) {
	if n.txids == nil {
		n.txids = txids(n.block)
	}
	c.announce(n)
}

// announce sends cmpctblock to every peer not known to have the block.
func (c *compactRelay) announce(n *legacyNode) {
	if c.cmpctMsg == nil {
		b, err := encodeMessage(newCmpctBlock(n.block, c.nonce, n.txids), magic)
		if err != nil {
			n.err = err
			return
		}
		c.cmpctMsg = b
	}
	for _, p := range n.peers {
		if !p.knows {
			p.knows = true // it will have the block from us
			p.send(c.cmpctMsg)
		}
	}
}

func (c *compactRelay) handle(n *legacyNode, from *legacyPeer, m btcwire.Message) {
	switch m := m.(type) {
	case *msgCmpctBlock:
		from.knows = true
		if n.block != nil || c.part != nil || m.Header.BlockHash() != n.net.hash {
			return
		}
		c.startReconstruction(n, from, m)
	case *msgGetBlockTxn:
		if n.block == nil || m.Block != n.net.hash {
			return
		}
		resp := &msgBlockTxn{Block: m.Block}
		for _, i := range m.Indexes {
			if i >= len(n.block.Transactions) {
				n.err = fmt.Errorf("getblocktxn index %d of %d", i, len(n.block.Transactions))
				return
			}
			resp.Txs = append(resp.Txs, n.block.Transactions[i])
		}
		from.sendMsg(resp)
	case *msgBlockTxn:
		p := c.part
		if p == nil || p.from != from || m.Block != n.net.hash {
			return
		}
		if len(m.Txs) != len(p.missing) {
			n.err = fmt.Errorf("blocktxn has %d transactions for %d asked", len(m.Txs), len(p.missing))
			return
		}
		for k, i := range p.missing {
			p.txs[i] = m.Txs[k]
			p.txids[i] = chainhash.Hash{}
		}
		c.finish(n)
	}
}

// startReconstruction fills a block from the mempool by short id.
func (c *compactRelay) startReconstruction(n *legacyNode, from *legacyPeer, m *msgCmpctBlock) {
	total := len(m.ShortIDs) + len(m.Prefilled)
	p := &partialBlock{from: from, header: m.Header, txs: make([]*btcwire.MsgTx, total), txids: make([]chainhash.Hash, total)}
	c.part = p
	for _, pf := range m.Prefilled {
		p.txs[pf.Index] = pf.Tx
	}
	// Index the mempool by this block's short ids; a short id shared by
	// two mempool transactions is ambiguous (nil).
	type candidate struct {
		tx *btcwire.MsgTx // nil: ambiguous
		id chainhash.Hash
	}
	key := ShortIDKey(&m.Header, m.Nonce)
	byShort := make(map[uint64]candidate, len(n.mempool))
	for id, tx := range n.mempool {
		s := ShortID(&key, &id)
		if _, dup := byShort[s]; dup {
			byShort[s] = candidate{}
			continue
		}
		byShort[s] = candidate{tx, id}
	}
	k := 0
	for i := range p.txs {
		if p.txs[i] != nil {
			continue // prefilled
		}
		s := m.ShortIDs[k]
		k++
		if c := byShort[s]; c.tx != nil {
			p.txs[i], p.txids[i] = c.tx, c.id
		} else {
			p.missing = append(p.missing, i)
		}
	}
	if len(p.missing) == 0 {
		c.finish(n)
		return
	}
	from.sendMsg(&msgGetBlockTxn{Block: n.net.hash, Indexes: p.missing})
}

// finish checks the reconstructed block's merkle root and, if it holds,
// completes the block and relays it.
func (c *compactRelay) finish(n *legacyNode) {
	p := c.part
	ids := make([]chainhash.Hash, len(p.txs))
	for i, tx := range p.txs {
		if p.txids[i] != (chainhash.Hash{}) {
			ids[i] = p.txids[i]
		} else {
			ids[i] = tx.TxHash()
		}
	}
	if merkleRoot(ids) != p.header.MerkleRoot {
		if p.refetch {
			n.err = fmt.Errorf("reconstructed block does not match its merkle root after a full refetch")
			return
		}
		p.refetch = true
		p.missing = p.missing[:0]
		for i := 1; i < len(p.txs); i++ {
			p.missing = append(p.missing, i)
		}
		p.from.sendMsg(&msgGetBlockTxn{Block: n.net.hash, Indexes: p.missing})
		return
	}
	blk := &btcwire.MsgBlock{Header: p.header, Transactions: p.txs}
	n.txids = ids
	c.part = nil
	n.complete(blk, time.Now())
	c.announce(n)
}

// txids returns the ids of a block's transactions.
func txids(blk *btcwire.MsgBlock) []chainhash.Hash {
	ids := make([]chainhash.Hash, len(blk.Transactions))
	for i, tx := range blk.Transactions {
		ids[i] = tx.TxHash()
	}
	return ids
}

// merkleRoot is Bitcoin's merkle root of txids (the last node of an odd
// level pairs with itself).
func merkleRoot(ids []chainhash.Hash) chainhash.Hash {
	if len(ids) == 0 {
		return chainhash.Hash{}
	}
	level := append([]chainhash.Hash(nil), ids...)
	var buf [2 * chainhash.HashSize]byte
	for len(level) > 1 {
		next := level[:0]
		for i := 0; i < len(level); i += 2 {
			j := min(i+1, len(level)-1)
			copy(buf[:32], level[i][:])
			copy(buf[32:], level[j][:])
			next = append(next, chainhash.DoubleHashH(buf[:]))
		}
		level = next
	}
	return level[0]
}
