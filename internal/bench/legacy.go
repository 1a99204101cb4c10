package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/linkemu"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// The baselines run on legacyNet: one node per scenario node, each on its
// own loopback IP, one TCP connection per link (the lower-numbered end
// dials from its own IP), and every connection's outbound direction shaped
// by linkemu.WrapConn with the profile of that direction, the listener
// picking it by the caller's IP — as internal/lab does for Blocktorrent.
// A node's behaviour is its handler: tcpBlock or compactRelay.

// magic frames every baseline message (Bitcoin's regression test network).
const magic = btcwire.TestNet

// handler is one relay protocol's behaviour at one node. Calls hold the
// node's lock.
type handler interface {
	// source makes the node a source of the block and announces it.
	source(n *legacyNode)
	// read reads the next message from a peer's connection.
	read(r *bufio.Reader) (btcwire.Message, error)
	// handle acts on a message from a peer.
	handle(n *legacyNode, from *legacyPeer, m btcwire.Message)
}

type legacyNet struct {
	blk    *btcwire.MsgBlock
	hash   chainhash.Hash
	nodes  []*legacyNode
	done   chan int // a node's index when it has the whole block
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type legacyNode struct {
	net   *legacyNet
	id    int
	ip    netip.Addr
	ln    net.Listener
	proto handler

	mu    sync.Mutex
	peers map[int]*legacyPeer
	block *btcwire.MsgBlock // the whole block, once here
	txids []chainhash.Hash  // its transactions' ids (compact)
	at    time.Time         // when block arrived
	err   error             // a protocol failure, reported by the run
	// mempool holds the node's unconfirmed transactions by txid (compact).
	mempool map[chainhash.Hash]*btcwire.MsgTx
}

type legacyPeer struct {
	node   *legacyNode
	remote int
	conn   net.Conn
	out    chan []byte
	sent   atomic.Int64
	// knows is set once the peer is known to have the block (it announced
	// or sent it); guarded by node.mu.
	knows bool
}

// legacyIP is node i's address in a baseline network.
func legacyIP(subnet byte, i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, 78, subnet, byte(i + 1)})
}

// startLegacy starts sc's network of baseline nodes and waits until every
// link is connected.
func startLegacy(ctx context.Context, sc *Scenario, blk *btcwire.MsgBlock, subnet byte, newHandler func(i int) handler) (*legacyNet, error) {
	if sc.Nodes > 250 {
		return nil, fmt.Errorf("bench: %d nodes", sc.Nodes)
	}
	ctx, cancel := context.WithCancel(ctx)
	ln := &legacyNet{blk: blk, hash: blk.BlockHash(), done: make(chan int, sc.Nodes), ctx: ctx, cancel: cancel}
	profiles := directionProfiles(sc.Links)
	byIP := make(map[netip.Addr]int)
	degree := make([]int, sc.Nodes)
	for _, l := range sc.Links {
		degree[l.A]++
		degree[l.B]++
	}
	for i := range sc.Nodes {
		n := &legacyNode{net: ln, id: i, ip: legacyIP(subnet, i), proto: newHandler(i), peers: make(map[int]*legacyPeer)}
		byIP[n.ip] = i
		l, err := net.Listen("tcp", netip.AddrPortFrom(n.ip, 0).String())
		if err != nil {
			ln.close()
			return nil, fmt.Errorf("bench: listen: %w", err)
		}
		n.ln = l
		ln.nodes = append(ln.nodes, n)
	}
	for _, n := range ln.nodes {
		ln.goFunc(func() {
			for {
				c, err := n.ln.Accept()
				if err != nil {
					return
				}
				ap, _ := netip.ParseAddrPort(c.RemoteAddr().String())
				j, ok := byIP[ap.Addr().Unmap()]
				if !ok {
					c.Close()
					continue
				}
				n.addPeer(j, linkemu.WrapConn(c, profiles[[2]int{n.id, j}]))
			}
		})
	}
	for _, l := range sc.Links {
		a, b := ln.nodes[l.A], ln.nodes[l.B]
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: a.ip.AsSlice()}}
		c, err := d.DialContext(ctx, "tcp", b.ln.Addr().String())
		if err != nil {
			ln.close()
			return nil, fmt.Errorf("bench: dial %d-%d: %w", l.A, l.B, err)
		}
		a.addPeer(l.B, linkemu.WrapConn(c, profiles[[2]int{l.A, l.B}]))
	}
	deadline := time.Now().Add(10 * time.Second)
	for i, n := range ln.nodes {
		for {
			n.mu.Lock()
			have := len(n.peers)
			n.mu.Unlock()
			if have >= degree[i] {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				ln.close()
				return nil, fmt.Errorf("bench: node %d connected %d of %d peers", i, have, degree[i])
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return ln, nil
}

func (ln *legacyNet) goFunc(f func()) {
	ln.wg.Add(1)
	go func() { defer ln.wg.Done(); f() }()
}

// submit makes the sources hold the block at the same moment; it returns
// that moment.
func (ln *legacyNet) submit(sources []int) time.Time {
	start := time.Now()
	for _, s := range sources {
		n := ln.nodes[s]
		n.mu.Lock()
		n.block, n.at = ln.blk, start
		n.proto.source(n)
		n.mu.Unlock()
	}
	return start
}

// close stops every node and waits for their goroutines.
func (ln *legacyNet) close() {
	ln.cancel()
	for _, n := range ln.nodes {
		n.ln.Close()
		n.mu.Lock()
		for _, p := range n.peers {
			p.conn.Close()
		}
		n.mu.Unlock()
	}
	ln.wg.Wait()
}

// bytesSent is what every node has written to its connections.
func (ln *legacyNet) bytesSent() int64 {
	var sum int64
	for _, n := range ln.nodes {
		n.mu.Lock()
		for _, p := range n.peers {
			sum += p.sent.Load()
		}
		n.mu.Unlock()
	}
	return sum
}

// addPeer starts the reader and writer of a connection to node j.
func (n *legacyNode) addPeer(j int, c net.Conn) {
	p := &legacyPeer{node: n, remote: j, conn: c, out: make(chan []byte, 1024)}
	n.mu.Lock()
	if old := n.peers[j]; old != nil {
		n.mu.Unlock()
		c.Close()
		return
	}
	n.peers[j] = p
	n.mu.Unlock()
	ln := n.net
	ln.goFunc(func() {
		for {
			select {
			case b := <-p.out:
				if _, err := c.Write(b); err != nil {
					return
				}
				p.sent.Add(int64(len(b)))
			case <-ln.ctx.Done():
				return
			}
		}
	})
	ln.goFunc(func() {
		r := bufio.NewReaderSize(c, 64<<10)
		for {
			m, err := n.proto.read(r)
			if err != nil {
				if ln.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
					n.fail(fmt.Errorf("reading from node %d: %w", j, err))
				}
				return
			}
			n.mu.Lock()
			n.proto.handle(n, p, m)
			n.mu.Unlock()
		}
	})
}

// send queues a framed message to p. Called with n.mu held.
func (p *legacyPeer) send(b []byte) {
	select {
	case p.out <- b:
	default:
		p.node.err = fmt.Errorf("send queue to node %d is full", p.remote)
	}
}

// sendMsg frames and queues a message. Called with n.mu held.
func (p *legacyPeer) sendMsg(m btcwire.Message) {
	b, err := encodeMessage(m, magic)
	if err != nil {
		p.node.err = err
		return
	}
	p.send(b)
}

// complete records that n holds blk in full. Called with n.mu held.
func (n *legacyNode) complete(blk *btcwire.MsgBlock, now time.Time) {
	n.block, n.at = blk, now
	n.net.done <- n.id
}

// fail records a protocol failure.
func (n *legacyNode) fail(err error) {
	n.mu.Lock()
	if n.err == nil {
		n.err = err
	}
	n.mu.Unlock()
}
