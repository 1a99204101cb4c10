package bridge_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/bridge"
	"github.com/blocktorrent/blocktorrent/internal/mempool"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/peer"
	"github.com/btcsuite/btcd/wire/v2"
)

// fakeNode is a Blocktorrent node that records submitted blocks.
type fakeNode struct {
	pool *mempool.Pool
	mu   sync.Mutex
	subs []chainhash.Hash
}

func newFakeNode() *fakeNode { return &fakeNode{pool: mempool.New()} }

func (f *fakeNode) Submit(_ context.Context, blk *wire.MsgBlock) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs = append(f.subs, blk.BlockHash())
	return nil
}

func (f *fakeNode) Mempool() *mempool.Pool { return f.pool }

func (f *fakeNode) submitted() []chainhash.Hash {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]chainhash.Hash(nil), f.subs...)
}

// fakeBitcoin is a Bitcoin node made of btcd's peer package: it accepts
// connections, serves the transactions and blocks it holds, asks for the
// blocks it is offered and records what it receives.
type fakeBitcoin struct {
	ln net.Listener
	wg sync.WaitGroup

	mu        sync.Mutex
	peers     []*peer.Peer
	txs       map[chainhash.Hash]*wire.MsgTx
	blocks    map[chainhash.Hash]*wire.MsgBlock
	received  map[chainhash.Hash]bool // blocks the bridge gave
	blockAsks map[chainhash.Hash]int  // blocks asked of the bridge
}

func startFakeBitcoin(t *testing.T) *fakeBitcoin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeBitcoin{
		ln: ln, txs: map[chainhash.Hash]*wire.MsgTx{}, blocks: map[chainhash.Hash]*wire.MsgBlock{},
		received: map[chainhash.Hash]bool{}, blockAsks: map[chainhash.Hash]int{},
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p := peer.NewInboundPeer(f.config())
			p.AssociateConnection(c)
			f.mu.Lock()
			f.peers = append(f.peers, p)
			f.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		f.wg.Wait()
		f.mu.Lock()
		ps := f.peers
		f.mu.Unlock()
		for _, p := range ps {
			p.Disconnect()
			p.WaitForDisconnect()
		}
	})
	return f
}

func (f *fakeBitcoin) config() *peer.Config {
	return &peer.Config{
		UserAgentName: "fake", UserAgentVersion: "0.0.1", AllowSelfConns: true, // one process: the nonce cache is shared
		ChainParams: &chaincfg.RegressionNetParams,
		Services:    wire.SFNodeNetwork | wire.SFNodeWitness,
		Listeners: peer.MessageListeners{
			OnGetData: func(p *peer.Peer, m *wire.MsgGetData) {
				f.mu.Lock()
				defer f.mu.Unlock()
				for _, iv := range m.InvList {
					switch iv.Type {
					case wire.InvTypeTx, wire.InvTypeWitnessTx:
						if tx := f.txs[iv.Hash]; tx != nil {
							p.QueueMessage(tx, nil)
						}
					case wire.InvTypeBlock, wire.InvTypeWitnessBlock:
						if blk := f.blocks[iv.Hash]; blk != nil {
							p.QueueMessage(blk, nil)
						}
					}
				}
			},
			OnInv: func(p *peer.Peer, m *wire.MsgInv) {
				gd := wire.NewMsgGetData()
				for _, iv := range m.InvList {
					if iv.Type == wire.InvTypeBlock {
						f.mu.Lock()
						f.blockAsks[iv.Hash]++
						f.mu.Unlock()
						_ = gd.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &iv.Hash))
					}
				}
				if len(gd.InvList) > 0 {
					p.QueueMessage(gd, nil)
				}
			},
			OnBlock: func(_ *peer.Peer, blk *wire.MsgBlock, _ []byte) {
				f.mu.Lock()
				f.received[blk.BlockHash()] = true
				f.mu.Unlock()
			},
		},
	}
}

// peer returns the latest connected peer.
func (f *fakeBitcoin) peer() *peer.Peer {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.peers) - 1; i >= 0; i-- {
		if f.peers[i].Connected() {
			return f.peers[i]
		}
	}
	return nil
}

// fakeTx returns a distinct, decodable transaction.
func fakeTx(n uint32) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	prev := chainhash.Hash{byte(n), byte(n >> 8), 0xee}
	tx.AddTxIn(wire.NewTxIn(wire.NewOutPoint(&prev, n), []byte{0x51}, nil))
	tx.AddTxOut(wire.NewTxOut(int64(n)+1000, []byte{0x51}))
	return tx
}

// fakeBlock returns a block of a coinbase and txs (not a valid block: the
// fake node does not check).
func fakeBlock(n uint32, txs ...*wire.MsgTx) *wire.MsgBlock {
	cb := wire.NewMsgTx(1)
	cb.AddTxIn(wire.NewTxIn(wire.NewOutPoint(&chainhash.Hash{}, ^uint32(0)), []byte{byte(n), 1}, nil))
	cb.AddTxOut(wire.NewTxOut(50e8, []byte{0x51}))
	blk := wire.NewMsgBlock(wire.NewBlockHeader(1, &chainhash.Hash{}, &chainhash.Hash{}, 0x207fffff, n))
	_ = blk.AddTransaction(cb)
	for _, tx := range txs {
		_ = blk.AddTransaction(tx)
	}
	return blk
}

func TestNewConfig(t *testing.T) {
	for _, cfg := range []bridge.Config{
		{Network: "regtest"},
		{Network: "nonet", P2P: "127.0.0.1:1"},
		{Network: "regtest", P2P: "no-port"},
		{Network: "regtest", P2P: "127.0.0.1:1", RPC: "no-port"},
	} {
		if _, err := bridge.New(cfg); !errors.Is(err, bridge.ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
	b, err := bridge.New(bridge.Config{Network: "regtest", P2P: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background(), nil); !errors.Is(err, bridge.ErrConfig) {
		t.Errorf("Start(nil) = %v, want ErrConfig", err)
	}
	b.Close()
	if err := b.Start(context.Background(), newFakeNode()); !errors.Is(err, bridge.ErrClosed) {
		t.Errorf("Start after Close = %v, want ErrClosed", err)
	}
}

// TestFakeBitcoin runs a bridge against a Bitcoin node made of btcd's peer
// package: transactions and blocks from the node, blocks to the node,
// duplicates ignored, confirmed transactions removed, and a reconnection
// after the node drops the connection.
func TestFakeBitcoin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fb := startFakeBitcoin(t)
	fn := newFakeNode()
	b, err := bridge.New(bridge.Config{
		Network: "regtest", P2P: fb.ln.Addr().String(),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, RemoveDelay: -1,
		Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	bridge.AllowSelfConns(b)
	if err := b.Start(ctx, fn); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	waitFor(t, ctx, 10*time.Second, "connected", func() bool { return b.Connected() && fb.peer() != nil })

	// A transaction: inv → getdata → tx → mempool.
	tx := fakeTx(1)
	fb.mu.Lock()
	fb.txs[tx.TxHash()] = tx
	fb.mu.Unlock()
	inv := wire.NewMsgInv()
	_ = inv.AddInvVect(wire.NewInvVect(wire.InvTypeTx, ptr(tx.TxHash())))
	fb.peer().QueueMessage(inv, nil)
	waitFor(t, ctx, 5*time.Second, "the transaction in the mempool", func() bool { return fn.pool.Has(tx.TxHash()) })

	// A block by inv, then by headers: each submitted once; the
	// confirmed transaction leaves the mempool (RemoveDelay < 0).
	blk1, blk2 := fakeBlock(1, tx), fakeBlock(2)
	fb.mu.Lock()
	fb.blocks[blk1.BlockHash()], fb.blocks[blk2.BlockHash()] = blk1, blk2
	fb.mu.Unlock()
	inv = wire.NewMsgInv()
	_ = inv.AddInvVect(wire.NewInvVect(wire.InvTypeBlock, ptr(blk1.BlockHash())))
	fb.peer().QueueMessage(inv, nil)
	waitFor(t, ctx, 5*time.Second, "block 1 submitted", func() bool { return len(fn.submitted()) == 1 })
	waitFor(t, ctx, 5*time.Second, "block 1's transaction removed", func() bool { return !fn.pool.Has(tx.TxHash()) })
	hdrs := wire.NewMsgHeaders()
	_ = hdrs.AddBlockHeader(&blk1.Header) // known: ignored
	_ = hdrs.AddBlockHeader(&blk2.Header)
	fb.peer().QueueMessage(hdrs, nil)
	fb.peer().QueueMessage(inv, nil) // block 1 again: ignored
	waitFor(t, ctx, 5*time.Second, "block 2 submitted", func() bool { return len(fn.submitted()) == 2 })
	time.Sleep(100 * time.Millisecond)
	if got := fn.submitted(); len(got) != 2 || got[0] != blk1.BlockHash() || got[1] != blk2.BlockHash() {
		t.Fatalf("submitted %v, want blocks 1 and 2 once each", got)
	}

	// A block from Blocktorrent: inv → getdata (witness) → block.
	blk3 := fakeBlock(3, fakeTx(3))
	b.OnBlock(blk3)
	b.OnBlock(blk3) // duplicate: ignored
	waitFor(t, ctx, 5*time.Second, "block 3 at the Bitcoin node", func() bool {
		fb.mu.Lock()
		defer fb.mu.Unlock()
		return fb.received[blk3.BlockHash()]
	})

	// The Bitcoin node drops the connection: the bridge comes back and
	// announces its recent blocks again.
	fb.peer().Disconnect()
	waitFor(t, ctx, 10*time.Second, "reconnected", func() bool { return b.Stats().Connects == 2 && b.Connected() })
	waitFor(t, ctx, 5*time.Second, "block 3 asked for again", func() bool {
		fb.mu.Lock()
		defer fb.mu.Unlock()
		return fb.blockAsks[blk3.BlockHash()] == 2
	})
	waitFor(t, ctx, 5*time.Second, "block 3 served again", func() bool { return b.Stats().BlocksServed == 2 })
	st := b.Stats()
	if st.TxsAdded != 1 || st.BlocksSubmitted != 2 || st.BlocksHandedOver != 1 || st.TxsRemoved != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestReconnectBackoff starts a bridge before its Bitcoin node listens.
func TestReconnectBackoff(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr := freePort(t)
	fn := newFakeNode()
	b, err := bridge.New(bridge.Config{
		Network: "regtest", P2P: addr, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	bridge.AllowSelfConns(b)
	if err := b.Start(ctx, fn); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	time.Sleep(300 * time.Millisecond)
	if b.Connected() {
		t.Fatal("connected to nothing")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port taken meanwhile: %v", err)
	}
	var wg sync.WaitGroup
	var peers []*peer.Peer
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p := peer.NewInboundPeer(&peer.Config{ChainParams: &chaincfg.RegressionNetParams, Services: wire.SFNodeNetwork | wire.SFNodeWitness, AllowSelfConns: true})
			p.AssociateConnection(c)
			mu.Lock()
			peers = append(peers, p)
			mu.Unlock()
		}
	}()
	defer func() {
		ln.Close()
		wg.Wait()
		for _, p := range peers {
			p.Disconnect()
			p.WaitForDisconnect()
		}
	}()
	waitFor(t, ctx, 10*time.Second, "connected once the node listens", b.Connected)
}
