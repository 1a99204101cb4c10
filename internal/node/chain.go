package node

import (
	"math/big"
	"sync"

	"github.com/blocktorrent/blocktorrent/internal/pow"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// chain is the node's view of the block tree: every header it has seen
// whose parent it knows, with height and total work, and the best tip. It
// is safe for concurrent use. (The persistent store replaces it for the
// chain-download work.)
type chain struct {
	mu    sync.Mutex
	nodes map[chainhash.Hash]*chainNode
	best  *chainNode
}

type chainNode struct {
	hash   chainhash.Hash
	height uint32
	bits   uint32
	work   *big.Int
}

func newChain(p *chaincfg.Params) *chain {
	g := &chainNode{hash: *p.GenesisHash, bits: p.GenesisBlock.Header.Bits, work: pow.Work(p.GenesisBlock.Header.Bits)}
	return &chain{nodes: map[chainhash.Hash]*chainNode{g.hash: g}, best: g}
}

// add links a header to its parent; headers of unknown parents are ignored.
func (c *chain) add(h *btcwire.BlockHeader) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	hash := h.BlockHash()
	if _, ok := c.nodes[hash]; ok {
		return false
	}
	parent, ok := c.nodes[h.PrevBlock]
	if !ok {
		return false
	}
	n := &chainNode{hash: hash, height: parent.height + 1, bits: h.Bits, work: new(big.Int).Add(parent.work, pow.Work(h.Bits))}
	c.nodes[hash] = n
	if n.work.Cmp(c.best.work) > 0 {
		c.best = n
	}
	return true
}

// tip returns the best hash, height and total work.
func (c *chain) tip() (chainhash.Hash, uint32, *big.Int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.best.hash, c.best.height, new(big.Int).Set(c.best.work)
}

// refBits returns the bits of the parent of h if known, else of the best
// block: the reference of pow.CheckContext.
func (c *chain) refBits(h *btcwire.BlockHeader) uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.nodes[h.PrevBlock]; ok {
		return p.bits
	}
	return c.best.bits
}
