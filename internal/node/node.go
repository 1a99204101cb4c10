package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/job"
	"github.com/blocktorrent/blocktorrent/internal/linkemu"
	"github.com/blocktorrent/blocktorrent/internal/mempool"
	"github.com/blocktorrent/blocktorrent/internal/pow"
	"github.com/blocktorrent/blocktorrent/internal/session"
	"github.com/blocktorrent/blocktorrent/internal/transport"
	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Node is a running Blocktorrent daemon.
type Node struct {
	cfg    Config
	params *chaincfg.Params
	log    *slog.Logger
	local  session.Local
	engine *job.Engine
	reg    *prometheus.Registry
	pool   *mempool.Pool

	ln         net.Listener
	pc         net.PacketConn
	sock       *transport.Socket
	ip         netip.Addr
	port       uint16
	http       *http.Server
	statusAddr string
	ctx        context.Context // the node's lifetime, from Start
	cancel     context.CancelFunc
	wg         sync.WaitGroup

	mu       sync.Mutex
	sessions map[uint64]*session.Session
	bans     *banList
	chain    *chain
	cs       *chainState // store, downloader and serving; nil without DataDir

	// Peer discovery (discover.go). book is safe for concurrent use; the
	// maps are guarded by mu.
	book      *addrBook
	dialing   map[netip.AddrPort]bool // learnt addresses being dialled
	addrAsked map[uint64]time.Time    // last GET_BTADDR from each session
	addrSent  map[uint64]time.Time    // last GET_BTADDR to each session
}

// New checks cfg and prepares a node; Start runs it.
func New(cfg Config) (*Node, error) {
	params, err := NetParams(cfg.Network)
	if err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.RedialInterval == 0 {
		cfg.RedialInterval = 2 * time.Second
	}
	if cfg.BanDuration == 0 {
		cfg.BanDuration = 24 * time.Hour
	}
	if cfg.Params.MaxDatagram == 0 {
		d := DefaultConfig()
		cfg.Params = d.Params
	}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("%w: data dir: %v", ErrConfig, err)
		}
	}
	n := &Node{
		cfg: cfg, params: params, log: cfg.Log,
		reg:       prometheus.NewRegistry(),
		sessions:  make(map[uint64]*session.Session),
		bans:      newBanList(cfg.BanDuration),
		chain:     newChain(params),
		book:      newAddrBook(),
		dialing:   make(map[netip.AddrPort]bool),
		addrAsked: make(map[uint64]time.Time),
		addrSent:  make(map[uint64]time.Time),
	}
	if cfg.DataDir != "" {
		if err := n.openStore(); err != nil {
			return nil, err
		}
	}
	newNodeMetrics(n)
	var opts []mempool.Option
	if cfg.MempoolBytes > 0 {
		opts = append(opts, mempool.WithMaxBytes(cfg.MempoolBytes))
	}
	n.pool = mempool.New(opts...)
	n.engine = job.New(job.Config{
		Mempool:     n.pool,
		PowLimit:    params.PowLimit,
		CheckHeader: n.checkHeader,
		Local:       cfg.Params,
		Push:        cfg.Push,
		OnBlock:     n.onBlock,
		Log:         cfg.Log,
		Metrics:     job.NewMetrics(n.reg),
	})
	return n, nil
}

// Start binds the sockets and starts every goroutine. It returns once the
// node listens; Close stops it.
func (n *Node) Start(ctx context.Context) error {
	ctx, n.cancel = context.WithCancel(ctx)
	n.ctx = ctx
	if err := n.listen(); err != nil {
		return err
	}
	n.local = session.Local{
		NetworkMagic: uint32(n.params.Net),
		Genesis:      *n.params.GenesisHash,
		Services:     wire.ServiceRelay,
		Features:     wire.FeatureUnsolicited | wire.FeatureShortHashes,
		UDPPort:      n.port,
		Nonce:        session.RandomNonce(),
		UserAgent:    "/blocktorrent:0.1.0/",
		Tip:          n.tip,
		Params:       n.cfg.Params,
		IdleTimeout:  n.cfg.IdleTimeout,
	}
	n.startChain(ctx)
	n.goFunc(func() { n.engine.Run(ctx) })
	n.goFunc(func() {
		if err := n.sock.Serve(); err != nil {
			n.log.Error("UDP socket failed", "err", err)
		}
	})
	n.goFunc(func() { n.accept(ctx) })
	for _, p := range n.cfg.Peers {
		n.goFunc(func() { n.dialLoop(ctx, p) })
	}
	if n.cfg.TargetPeers > 0 {
		n.goFunc(func() { n.discover(ctx) })
	}
	if n.cfg.Status != "" {
		if err := n.serveStatus(); err != nil {
			n.Close()
			return err
		}
	}
	n.log.Info("node listening", "addr", n.Addr(), "network", n.params.Name)
	return nil
}

func (n *Node) goFunc(f func()) {
	n.wg.Add(1)
	go func() { defer n.wg.Done(); f() }()
}

// listen binds TCP and then UDP on the same IP and port number.
func (n *Node) listen() error {
	ap, err := netip.ParseAddrPort(n.cfg.Listen)
	if err != nil {
		return fmt.Errorf("%w: listen address %q: %v", ErrConfig, n.cfg.Listen, err)
	}
	var lastErr error
	for range 20 {
		ln, err := net.Listen("tcp", ap.String())
		if err != nil {
			return fmt.Errorf("%w: %v", ErrConfig, err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", netip.AddrPortFrom(ap.Addr(), uint16(port)).String())
		if err != nil {
			ln.Close()
			lastErr = err
			if ap.Port() != 0 {
				break
			}
			continue // the port is taken for UDP: try another
		}
		n.ln, n.ip, n.port = ln, ap.Addr(), uint16(port)
		// A burst of a block at 100 Mbit/s overruns the default 212 KB
		// socket buffers within milliseconds; ask for 4 MiB (the kernel
		// caps it at its rmem_max/wmem_max).
		if uc, ok := pc.(*net.UDPConn); ok {
			_ = uc.SetReadBuffer(4 << 20)
			_ = uc.SetWriteBuffer(4 << 20)
		}
		if n.cfg.Link != nil {
			pc = linkemu.NewPacketConn(pc, func(dst net.Addr) linkemu.Profile { return n.cfg.Link(addrIP(dst)) })
		}
		if n.cfg.WrapPacketConn != nil {
			pc = n.cfg.WrapPacketConn(pc)
		}
		n.pc = pc
		var opts []transport.Option
		if n.cfg.InboundLimits != nil {
			opts = append(opts, transport.WithLimits(*n.cfg.InboundLimits))
		}
		n.sock = transport.New(pc, opts...)
		return nil
	}
	return fmt.Errorf("%w: no port free for TCP and UDP: %v", ErrConfig, lastErr)
}

// addrIP returns the IP of a net.Addr.
func addrIP(a net.Addr) netip.Addr {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// Addr returns the node's TCP and UDP address.
func (n *Node) Addr() string { return netip.AddrPortFrom(n.ip, n.port).String() }

// Mempool returns the node's mempool.
func (n *Node) Mempool() *mempool.Pool { return n.pool }

// Engine returns the job engine.
func (n *Node) Engine() *job.Engine { return n.engine }

// Registry returns the node's Prometheus registry.
func (n *Node) Registry() *prometheus.Registry { return n.reg }

// Close stops the node and waits for its goroutines.
func (n *Node) Close() {
	if n.cancel != nil {
		n.cancel()
	}
	if n.ln != nil {
		n.ln.Close()
	}
	n.mu.Lock()
	for _, s := range n.sessions {
		s.Close()
	}
	n.mu.Unlock()
	if n.sock != nil {
		n.sock.Close()
	}
	if n.http != nil {
		n.http.Close()
	}
	n.wg.Wait()
	n.closeChain()
}

// accept serves inbound connections.
func (n *Node) accept(ctx context.Context) {
	for {
		c, err := n.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				n.log.Error("accept failed", "err", err)
			}
			return
		}
		ip := addrIP(c.RemoteAddr())
		if n.bans.banned(ip, time.Now()) {
			c.Close()
			continue
		}
		if n.cfg.Link != nil {
			c = linkemu.WrapConn(c, n.cfg.Link(ip))
		}
		n.goFunc(func() { n.serve(ctx, c, false, nil) })
	}
}

// dialLoop keeps a connection to addr while the node runs.
func (n *Node) dialLoop(ctx context.Context, addr string) {
	for {
		if err := n.dialOnce(ctx, addr, nil); err != nil && ctx.Err() == nil {
			n.log.Debug("peer connection ended", "peer", addr, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(n.cfg.RedialInterval):
		}
	}
}

// dialOnce connects to addr from the node's own IP (so a peer that shapes
// links by IP knows who is calling) and serves the session until it ends.
// up, if set, is called once the handshake is done.
func (n *Node) dialOnce(ctx context.Context, addr string, up func()) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return fmt.Errorf("%w: peer address %q: %v", ErrConfig, addr, err)
	}
	if n.bans.banned(ap.Addr(), time.Now()) {
		return errors.New("peer is banned")
	}
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: n.ip.AsSlice()}}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	if n.cfg.Link != nil {
		c = linkemu.WrapConn(c, n.cfg.Link(ap.Addr()))
	}
	return n.serve(ctx, c, true, up)
}

// serve runs the handshake and the session. up, if set, is called once
// the handshake is done.
func (n *Node) serve(ctx context.Context, c net.Conn, dialer bool, up func()) error {
	s, err := session.Open(ctx, c, n.sock, &n.local, dialer, n, n.log)
	if err != nil {
		if errors.Is(err, session.ErrWrongNetwork) {
			n.bans.ban(addrIP(c.RemoteAddr()), "wrong-genesis", time.Now())
		}
		n.log.Debug("handshake failed", "remote", c.RemoteAddr(), "err", err)
		return err
	}
	n.mu.Lock()
	n.sessions[s.ID()] = s
	n.mu.Unlock()
	p := &peer{s}
	n.engine.AddPeer(p)
	n.syncPeerUp(s)
	n.log.Info("peer connected", "peer", s, "dialer", dialer, "agent", s.Version().UserAgent)
	if up != nil {
		up()
	}
	n.askAddrs(s)
	err = s.Run(ctx)
	n.engine.RemovePeer(p.ID())
	n.syncPeerDown(s)
	n.mu.Lock()
	delete(n.sessions, s.ID())
	delete(n.addrAsked, s.ID())
	delete(n.addrSent, s.ID())
	n.mu.Unlock()
	n.log.Info("peer disconnected", "peer", s, "err", err)
	return err
}

// OnMessage routes a session's messages (session.Handler).
func (n *Node) OnMessage(s *session.Session, m wire.Message, size int) {
	switch m := m.(type) {
	case *wire.OpenJob, *wire.CloseJob, *wire.JobState, *wire.JobStateAck,
		*wire.GetNodes, *wire.Nodes, *wire.GetTxs, *wire.Txs:
		n.engine.Deliver(job.PeerID(s.ID()), m, size)
	case *wire.GetBTAddr:
		n.onGetAddr(s)
	case *wire.GetHeaders, *wire.Headers, *wire.GetBlockHashes, *wire.BlockHashes,
		*wire.GetBlocks, *wire.Blocks:
		n.onChainMessage(s, m)
	case *wire.BTAddr:
		n.onAddr(s, m)
	default:
		n.log.Debug("message not handled", "peer", s, "type", m.Type())
	}
}

// OnBan bans a peer's address (session.Handler).
func (n *Node) OnBan(s *session.Session, reason string) {
	n.bans.ban(addrIP(s.RemoteAddr()), reason, time.Now())
}

// Submit relays a block this node has in full.
func (n *Node) Submit(ctx context.Context, blk *btcwire.MsgBlock) error {
	if err := pow.Check(&blk.Header, n.params.PowLimit); err != nil {
		return err
	}
	n.chain.add(&blk.Header)
	if n.cs != nil {
		n.putBlock(blk)
	}
	return n.engine.SubmitWait(ctx, blk)
}

// onBlock runs on the engine goroutine for every completed block.
func (n *Node) onBlock(blk *btcwire.MsgBlock) {
	n.chain.add(&blk.Header)
	n.storeBlock(blk)
	if n.cfg.OnBlock != nil {
		n.cfg.OnBlock(blk)
	}
}

// Tip returns the best block hash, height and total work.
func (n *Node) Tip() (chainhash.Hash, uint32, *big.Int) { return n.tip() }

// Peers returns the number of connected peers.
func (n *Node) Peers() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.sessions)
}

// peer adapts a session to the engine's Peer interface.
type peer struct{ *session.Session }

func (p *peer) ID() job.PeerID { return job.PeerID(p.Session.ID()) }

// AddPeer starts dialling addr (and re-dialling while the node runs).
func (n *Node) AddPeer(addr string) {
	n.goFunc(func() { n.dialLoop(n.ctx, addr) })
}
