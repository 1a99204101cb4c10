package bench

import (
	"bufio"
	"time"

	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// tcpBlock is legacy store-and-forward relay with Bitcoin's own messages:
// a node that holds the whole block announces it with inv to every peer not
// known to have it; a peer that lacks the block and has not asked anyone
// yet answers with getdata (witness block) and receives the block. Messages
// are btcd's wire/v2 types, written with btcwire.WriteMessage and read with
// btcwire.ReadMessage. Nothing is validated beyond deserialization.
type tcpBlock struct {
	requested bool   // getdata sent
	blockMsg  []byte // the framed block message, built once
}

func (t *tcpBlock) read(r *bufio.Reader) (btcwire.Message, error) {
	m, _, err := btcwire.ReadMessage(r, btcwire.ProtocolVersion, magic)
	return m, err
}

func (t *tcpBlock) source(n *legacyNode) { t.announce(n) }

// announce sends inv to every peer not known to have the block.
func (t *tcpBlock) announce(n *legacyNode) {
	inv := btcwire.NewMsgInv()
	_ = inv.AddInvVect(btcwire.NewInvVect(btcwire.InvTypeBlock, &n.net.hash))
	for _, p := range n.peers {
		if !p.knows {
			p.sendMsg(inv)
		}
	}
}

func (t *tcpBlock) handle(n *legacyNode, from *legacyPeer, m btcwire.Message) {
	now := time.Now()
	switch m := m.(type) {
	case *btcwire.MsgInv:
		for _, iv := range m.InvList {
			if iv.Hash != n.net.hash || (iv.Type != btcwire.InvTypeBlock && iv.Type != btcwire.InvTypeWitnessBlock) {
				continue
			}
			from.knows = true
			if n.block == nil && !t.requested {
				t.requested = true
				gd := btcwire.NewMsgGetData()
				_ = gd.AddInvVect(btcwire.NewInvVect(btcwire.InvTypeWitnessBlock, &n.net.hash))
				from.sendMsg(gd)
			}
		}
	case *btcwire.MsgGetData:
		for _, iv := range m.InvList {
			if iv.Hash != n.net.hash || n.block == nil {
				continue
			}
			if t.blockMsg == nil {
				b, err := encodeMessage(n.block, magic)
				if err != nil {
					n.err = err
					return
				}
				t.blockMsg = b
			}
			from.send(t.blockMsg)
		}
	case *btcwire.MsgBlock:
		from.knows = true
		if n.block != nil || m.BlockHash() != n.net.hash {
			return
		}
		n.complete(m, now)
		t.announce(n)
	}
}
