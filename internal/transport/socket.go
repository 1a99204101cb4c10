package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/wire"
)

// Error kinds.
var (
	// ErrBound means another session already uses the remote address.
	ErrBound = errors.New("transport: address already bound")
	// ErrClosed means the socket or binding is closed.
	ErrClosed = errors.New("transport: closed")
	// ErrTooBig means a message that does not fit the datagram size.
	ErrTooBig = errors.New("transport: message too big for a datagram")
)

// Handler receives an accepted datagram. payload aliases the read buffer and
// is valid only during the call.
type Handler func(b *Binding, h wire.DatagramHeader, payload []byte)

// Stats counts what the socket dropped before any session saw it.
type Stats struct {
	UnknownSource atomic.Int64 // from an address with no session
	BadToken      atomic.Int64 // wrong token for the address
	Replayed      atomic.Int64 // SEQ seen before or too old
	Malformed     atomic.Int64 // shorter than a header, or not a UDP type
	RateLimited   atomic.Int64 // over its binding's rate limit (Limits.Peer)
	GlobalLimited atomic.Int64 // within its binding's limit, over the global one
}

// Socket is a node's UDP socket.
type Socket struct {
	pc     net.PacketConn
	mu     sync.RWMutex
	byAddr map[netip.AddrPort]*Binding
	Stats  Stats
	bufs   sync.Pool

	limits atomic.Pointer[Limits]
	global bucket           // only the Serve goroutine touches it
	now    func() time.Time // the rate limits' clock
}

// New wraps a packet connection (a real UDP socket, or one shaped by the
// link emulator). The inbound limits are DefaultLimits unless an option
// sets them.
func New(pc net.PacketConn, opts ...Option) *Socket {
	s := &Socket{pc: pc, byAddr: make(map[netip.AddrPort]*Binding), now: time.Now}
	s.bufs.New = func() any { b := make([]byte, 0, wire.MaxDatagramSize); return &b }
	s.SetLimits(DefaultLimits())
	for _, o := range opts {
		o(s)
	}
	return s
}

// LocalAddr returns the socket's address.
func (s *Socket) LocalAddr() net.Addr { return s.pc.LocalAddr() }

// Close closes the socket; Serve returns.
func (s *Socket) Close() error { return s.pc.Close() }

// Binding ties a remote UDP address to a session: the token incoming
// datagrams must carry, the token outgoing ones carry, and the counters.
type Binding struct {
	Remote  netip.AddrPort
	raddr   *net.UDPAddr
	recvTok wire.Token
	sendTok wire.Token
	handler Handler
	seq     atomic.Uint32
	replay  wire.ReplayWindow // only the Serve goroutine touches it
	bucket  bucket            // likewise
	closed  atomic.Bool

	BytesIn, BytesOut     atomic.Int64
	PacketsIn, PacketsOut atomic.Int64
	// Datagrams from this peer dropped by the rate limits (also counted
	// in the socket's Stats).
	RateLimited, GlobalLimited atomic.Int64
}

// Bind registers a session's remote address. recv is the token this node
// handed out (incoming datagrams must carry it), send is the peer's.
func (s *Socket) Bind(remote netip.AddrPort, recv, send wire.Token, h Handler) (*Binding, error) {
	remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	b := &Binding{Remote: remote, raddr: net.UDPAddrFromAddrPort(remote), recvTok: recv, sendTok: send, handler: h}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byAddr[remote]; ok {
		return nil, fmt.Errorf("%w: %v", ErrBound, remote)
	}
	s.byAddr[remote] = b
	return b, nil
}

// Unbind removes a binding; later datagrams from its address are dropped.
func (s *Socket) Unbind(b *Binding) {
	b.closed.Store(true)
	s.mu.Lock()
	if s.byAddr[b.Remote] == b {
		delete(s.byAddr, b.Remote)
	}
	s.mu.Unlock()
}

// Serve reads datagrams until the socket is closed.
func (s *Socket) Serve() error {
	buf := make([]byte, 65536)
	for {
		n, addr, err := s.pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		s.dispatch(buf[:n], addr)
	}
}

// dispatch checks one datagram and hands it to its session: source
// address, header, token, replay window, then the rate limits, all before
// the payload is decoded.
func (s *Socket) dispatch(p []byte, addr net.Addr) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return
	}
	ap := ua.AddrPort()
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	s.mu.RLock()
	b := s.byAddr[ap]
	s.mu.RUnlock()
	if b == nil {
		s.Stats.UnknownSource.Add(1)
		return
	}
	h, payload, err := wire.ParseDatagram(p)
	if err != nil {
		s.Stats.Malformed.Add(1)
		return
	}
	if h.Token != b.recvTok {
		s.Stats.BadToken.Add(1)
		return
	}
	if !b.replay.Check(h.Seq) {
		s.Stats.Replayed.Add(1)
		return
	}
	if !s.admit(b, len(p)) {
		return
	}
	b.BytesIn.Add(int64(len(p)))
	b.PacketsIn.Add(1)
	b.handler(b, h, payload)
}

// Send frames m for b's peer and writes it, returning the datagram size.
// max is the datagram size in force for the session.
func (s *Socket) Send(b *Binding, m wire.Message, max int) (int, error) {
	if b == nil || b.closed.Load() {
		return 0, ErrClosed
	}
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	h := wire.DatagramHeader{Type: udpType(m.Type()), Token: b.sendTok, Seq: b.seq.Add(1)}
	out := wire.AppendDatagram((*bp)[:0], h, m)
	*bp = out[:0]
	if len(out) > max {
		return 0, fmt.Errorf("%w: %d bytes of %v, limit %d", ErrTooBig, len(out), m.Type(), max)
	}
	n, err := s.pc.WriteTo(out, b.raddr)
	if err != nil {
		return 0, err
	}
	b.BytesOut.Add(int64(n))
	b.PacketsOut.Add(1)
	return n, nil
}

// udpType maps a message sent on UDP to its datagram type (OPEN_JOB and
// CLOSE_JOB have TCP and UDP numbers).
func udpType(t wire.MsgType) wire.MsgType {
	if u, ok := t.UDPType(); ok {
		return u
	}
	return t
}
