package session

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/transport"
	"github.com/blocktorrent/blocktorrent/internal/wire"
)

// Handler receives what a session does not handle itself. Calls come from
// the session's reader goroutines and must not block.
type Handler interface {
	// OnMessage gets job, chain and address messages, from TCP or UDP;
	// size is the frame or datagram size.
	OnMessage(s *Session, m wire.Message, size int)
	// OnBan is called once when the peer's score reaches BanScore.
	OnBan(s *Session, reason string)
}

// BanScore is the score at which a peer is disconnected and banned. Only
// points for proven misbehaviour count toward a ban; with points for
// slowness (SoftReason) the score reaching BanScore disconnects the peer
// without a ban, so an honest peer on an overloaded host or a bad link can
// come back.
const BanScore = 100

// Penalty reasons the session itself uses, in the vocabulary of the job
// engine's reason strings (job.Reason*, docs/protocol.md §10), and the
// points of a protocol violation.
const (
	reasonProtocol = "protocol"
	reasonStall    = "stall"
	protocolPoints = 20
)

// SoftReason reports whether a penalty reason judges performance rather
// than honesty: "stall" (a peer that did not deliver in time).
func SoftReason(reason string) bool { return reason == reasonStall }

// DefaultScoreDecay is how long a score takes to go down by one point:
// one point a minute forgives a stall (10 points) in ten minutes, so a
// lossy but honest peer that stalls now and then is never banned, while
// misbehaviour faster than that still adds up to BanScore.
const DefaultScoreDecay = time.Minute

// DefaultIdleTimeout is how long a session may go without hearing
// anything from its peer (which pings every second) before it ends.
const DefaultIdleTimeout = 30 * time.Second

// sendQueue bounds the TCP writer's queue.
const sendQueue = 1024

// Session is one handshaken peer.
type Session struct {
	id      uint64
	conn    net.Conn
	fr      *wire.FrameReader
	sock    *transport.Socket
	udp     atomic.Pointer[transport.Binding] // set once, during the handshake
	mine    *wire.BTVersion
	theirs  *wire.BTVersion
	dialer  bool
	local   *Local
	handler Handler
	log     *slog.Logger

	out       chan wire.Message
	done      chan struct{}
	closeOnce sync.Once
	closeErr  atomic.Pointer[error]

	params   atomic.Pointer[wire.SetParams] // the peer's
	rate     atomic.Uint64                  // pacing rate, bytes/s (float64 bits)
	maxDgram atomic.Int64
	rated    atomic.Bool // ESTIMATE_BANDWIDTH has answered

	mu      sync.Mutex
	srtt    time.Duration
	rttvar  time.Duration
	pings   map[uint64]time.Time // nonce → sent, for RTT
	arrived map[uint64]arrival   // probe PINGs received, by nonce
	trains  []*wire.EstimateBandwidth
	rates   []float64 // ESTIMATE_BANDWIDTH results for our trains, bits/s
	mtus    []*wire.TestMTU
	score   int // misbehaviour score: hard points plus soft
	soft    int // the part of score from SoftReasons; decays first
	reasons map[string]int
	// Score decay: one point per decay (0: none) since decayed.
	decay   time.Duration
	decayed time.Time
	banned  bool
	dropped bool // disconnected for soft points
	now     func() time.Time

	tcpIn, tcpOut atomic.Int64
	// writeMu is held by the writer goroutine while it writes a batch of
	// frames and flushes it, and by Disconnect while it writes its frame:
	// a DISCONNECT never lands inside another frame.
	writeMu sync.Mutex
	heard   atomic.Int64 // unix nanoseconds of the last frame or datagram from the peer
}

type arrival struct {
	at   time.Time
	size int
}

// DefaultRate is the pacing rate before ESTIMATE_BANDWIDTH has answered:
// 20 Mbit/s, as docs/protocol.md §7.4 says.
const DefaultRate = 20e6 / 8

// MaxRate caps the pacing rate estimate (1 Gbit/s).
const MaxRate = 1e9 / 8

var nextID atomic.Uint64

// Open runs the handshake on conn and binds the peer's UDP address on
// sock. dialer says whether this side opened the connection.
func Open(ctx context.Context, conn net.Conn, sock *transport.Socket, l *Local, dialer bool, h Handler, log *slog.Logger) (*Session, error) {
	if log == nil {
		log = slog.Default()
	}
	s := &Session{
		id: nextID.Add(1), conn: conn, sock: sock, dialer: dialer, local: l, handler: h,
		fr:  wire.NewFrameReader(bufio.NewReaderSize(conn, 64<<10)),
		out: make(chan wire.Message, sendQueue), done: make(chan struct{}),
		pings: make(map[uint64]time.Time), arrived: make(map[uint64]arrival),
		reasons: make(map[string]int),
	}
	s.decay, s.now = l.scoreClock()
	s.heard.Store(time.Now().UnixNano())
	s.log = log.With("peer", s.String())
	def := wire.DefaultSetParams()
	s.params.Store(&def)
	s.setRate(DefaultRate)
	s.maxDgram.Store(wire.DefaultDatagramSize)
	bind := func(mine, theirs *wire.BTVersion) error {
		addr, err := udpAddr(conn, theirs.UDPPort)
		if err != nil {
			return err
		}
		// Everything the datagram handler reads is set before the binding
		// is published to the socket's reader goroutine.
		s.mine, s.theirs = mine, theirs
		b, err := sock.Bind(addr, mine.Token, theirs.Token, s.handleDatagram)
		if err != nil {
			return err
		}
		s.udp.Store(b)
		return nil
	}
	if _, _, err := handshake(ctx, conn, s.fr, l, dialer, bind); err != nil {
		if b := s.udp.Load(); b != nil {
			sock.Unbind(b)
		}
		flushBeforeClose(conn)
		conn.Close()
		return nil, err
	}
	return s, nil
}

// ID returns the session's process-unique identifier.
func (s *Session) ID() uint64 { return s.id }

// String names the peer by its TCP address.
func (s *Session) String() string { return s.conn.RemoteAddr().String() }

// Version returns the peer's BTVERSION.
func (s *Session) Version() *wire.BTVersion { return s.theirs }

// Dialer reports whether this side opened the connection.
func (s *Session) Dialer() bool { return s.dialer }

// Done is closed when the session ends.
func (s *Session) Done() <-chan struct{} { return s.done }

// Params returns the peer's latest SET_PARAMS.
func (s *Session) Params() wire.SetParams { return *s.params.Load() }

// MaxDatagram returns the datagram size in force: the tested path MTU,
// capped by what the peer accepts.
func (s *Session) MaxDatagram() int {
	return min(int(s.maxDgram.Load()), int(s.Params().MaxDatagram))
}

// PaceRate returns bytes/s for the pacer: the measured bottleneck rate,
// capped by the peer's MAX_RATE.
func (s *Session) PaceRate() float64 {
	r := float64FromBits(s.rate.Load())
	if mr := s.Params().MaxRate; mr > 0 {
		r = min(r, float64(mr)/8)
	}
	return r
}

// ShortHashes reports whether the peer accepts short leaf hashes.
func (s *Session) ShortHashes() bool { return s.theirs.Features&wire.FeatureShortHashes != 0 }

// Probed reports whether the path has been measured: an RTT sample and
// the bottleneck rate are in.
func (s *Session) Probed() bool { return s.rated.Load() && s.RTT() > 0 }

// RTT returns the smoothed round-trip time (0 before the first PONG).
func (s *Session) RTT() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srtt
}

// Traffic returns bytes in and out on TCP and UDP.
func (s *Session) Traffic() (in, out int64) {
	in, out = s.tcpIn.Load(), s.tcpOut.Load()
	if b := s.udp.Load(); b != nil {
		in, out = in+b.BytesIn.Load(), out+b.BytesOut.Load()
	}
	return in, out
}

// Score returns the misbehaviour score, after decay, and the points each
// reason has added over the session's life (not decayed).
func (s *Session) Score() (int, map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.decayLocked(s.now())
	r := make(map[string]int, len(s.reasons))
	for k, v := range s.reasons {
		r[k] = v
	}
	return s.score, r
}

// decayLocked takes off the points the score has lost by now: one per
// s.decay since the last whole point went, soft points first. A score at
// 0 keeps no credit.
func (s *Session) decayLocked(now time.Time) {
	if s.decay > 0 && s.score > 0 {
		if n := now.Sub(s.decayed) / s.decay; n > 0 {
			s.score = max(0, s.score-int(n))
			s.soft = max(0, min(s.score, s.soft-int(n)))
			s.decayed = s.decayed.Add(n * s.decay)
		}
	}
	if s.score == 0 {
		s.decayed = now
	}
}

// Penalize adds points for reason. When the score (which decays, see
// Local.ScoreDecay) without its soft points reaches BanScore the peer is
// banned and disconnected, once; when it reaches BanScore only with soft
// points the peer is disconnected and not banned.
func (s *Session) Penalize(reason string, points int) {
	s.mu.Lock()
	s.decayLocked(s.now())
	s.score += points
	if SoftReason(reason) {
		s.soft += points
	}
	s.reasons[reason] += points
	after, hard := s.score, s.score-s.soft
	ban := !s.banned && hard >= BanScore
	drop := !ban && !s.banned && !s.dropped && after >= BanScore
	s.banned = s.banned || ban
	s.dropped = s.dropped || drop
	s.mu.Unlock()
	// Disconnect writes to the peer and may wait up to a second (a peer
	// that does not read, a link that flushes): never on the caller's
	// goroutine, which is often the job engine's.
	switch {
	case ban:
		s.log.Warn("banning peer", "reason", reason, "score", after)
		s.handler.OnBan(s, reason)
		go s.Disconnect(wire.ReasonBanned, "banned: "+reason)
	case drop:
		s.log.Warn("disconnecting a slow peer", "reason", reason, "score", after, "proven", hard)
		go s.Disconnect(wire.ReasonNormal, "too slow: "+reason)
	}
}

// SendUDP sends m in one datagram and returns its size.
func (s *Session) SendUDP(m wire.Message) (int, error) {
	return s.sock.Send(s.udp.Load(), m, s.MaxDatagram())
}

// SendTCP queues m for the control connection. It fails, rather than
// block, when the queue is full.
func (s *Session) SendTCP(m wire.Message) error {
	select {
	case <-s.done:
		return ErrClosed
	default:
	}
	select {
	case s.out <- m:
		return nil
	default:
		return fmt.Errorf("%w: TCP send queue full", ErrClosed)
	}
}

// SendTCPWait queues m, waiting for room or ctx.
func (s *Session) SendTCPWait(ctx context.Context, m wire.Message) error {
	select {
	case s.out <- m:
		return nil
	case <-s.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Disconnect sends DISCONNECT and closes the session.
func (s *Session) Disconnect(reason wire.DisconnectReason, msg string) {
	// The deadline also ends a writer batch stuck on a peer that does not
	// read, so the lock below is free within a second.
	_ = s.conn.SetWriteDeadline(time.Now().Add(time.Second))
	s.writeMu.Lock()
	_ = wire.WriteFrame(s.conn, &wire.Disconnect{Reason: reason, Message: msg})
	s.writeMu.Unlock()
	flushBeforeClose(s.conn)
	s.close(fmt.Errorf("%w: %v: %s", ErrClosed, reason, msg))
}

// flushBeforeClose lets a connection that buffers writes (the link
// emulator's, whose Close discards what is still in flight) deliver what
// was written, the DISCONNECT above all, before it is closed, waiting at
// most a second. A plain TCP connection has nothing to flush: the kernel
// sends what was written before the FIN.
func flushBeforeClose(conn net.Conn) {
	f, ok := conn.(interface{ Flush() error })
	if !ok {
		return
	}
	_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
	_ = f.Flush()
}

// Close ends the session.
func (s *Session) Close() { s.close(ErrClosed) }

func (s *Session) close(err error) {
	s.closeOnce.Do(func() {
		s.closeErr.Store(&err)
		s.sock.Unbind(s.udp.Load())
		s.conn.Close()
		close(s.done)
	})
}

// Err returns why the session ended.
func (s *Session) Err() error {
	if p := s.closeErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Run serves the session until it ends: it sends SET_PARAMS and the
// probes, runs the writer, and reads control frames. It returns why the
// session ended.
func (s *Session) Run(ctx context.Context) error {
	go s.writer()
	go func() {
		select {
		case <-ctx.Done():
			s.Disconnect(wire.ReasonShuttingDown, "shutting down")
		case <-s.done:
		}
	}()
	p := s.local.Params
	_ = s.SendTCP(&p)
	go s.probe(ctx)
	for {
		t, payload, err := s.fr.ReadFrame()
		if err != nil {
			s.close(err)
			return s.Err()
		}
		s.tcpIn.Add(int64(len(payload) + wire.FrameHeaderSize))
		s.heard.Store(time.Now().UnixNano())
		if !t.Known() {
			continue // forward compatibility (§4.1)
		}
		if !t.IsTCP() {
			s.Penalize(reasonProtocol, protocolPoints)
			s.Disconnect(wire.ReasonProtocol, fmt.Sprintf("%v is a UDP message", t))
			return s.Err()
		}
		// The frame reader reuses its buffer and decoded messages alias
		// their payload, so the payload is copied before it leaves.
		m, err := wire.DecodeMessage(t, bytes.Clone(payload))
		if err != nil {
			s.Penalize(reasonProtocol, protocolPoints)
			s.Disconnect(wire.ReasonProtocol, err.Error())
			return s.Err()
		}
		if err := s.handleTCP(m, len(payload)+wire.FrameHeaderSize); err != nil {
			s.close(err)
			return s.Err()
		}
	}
}

// writer owns the TCP writes.
func (s *Session) writer() {
	bw := bufio.NewWriterSize(s.conn, 64<<10)
	var buf []byte
	for {
		var m wire.Message
		select {
		case m = <-s.out:
		case <-s.done:
			return
		}
		s.writeMu.Lock()
		for {
			buf = wire.AppendFrame(buf[:0], m)
			if _, err := bw.Write(buf); err != nil {
				s.writeMu.Unlock()
				s.close(err)
				return
			}
			s.tcpOut.Add(int64(len(buf)))
			select {
			case m = <-s.out:
				continue
			default:
			}
			break
		}
		err := bw.Flush()
		s.writeMu.Unlock()
		if err != nil {
			s.close(err)
			return
		}
	}
}

// handleTCP handles one control message.
func (s *Session) handleTCP(m wire.Message, size int) error {
	switch m := m.(type) {
	case *wire.BTVersion, *wire.BTVerack:
		s.Penalize(reasonProtocol, protocolPoints)
		return fmt.Errorf("%w: %v after the handshake", ErrHandshake, m.Type())
	case *wire.Disconnect:
		return fmt.Errorf("%w: peer disconnected: %v %s", ErrClosed, m.Reason, m.Message)
	case *wire.SetParams:
		p := *m
		if p.MaxDatagram < wire.DefaultDatagramSize {
			s.Penalize(reasonProtocol, protocolPoints)
			return nil
		}
		s.params.Store(&p)
	case *wire.TestMTU:
		s.onTestMTU(m)
	case *wire.EstimateBandwidth:
		s.onEstimate(m)
	default:
		s.handler.OnMessage(s, m, size)
	}
	return nil
}

// handleDatagram is the transport's handler for this session's datagrams.
func (s *Session) handleDatagram(_ *transport.Binding, h wire.DatagramHeader, payload []byte) {
	s.heard.Store(time.Now().UnixNano())
	size := len(payload) + wire.DatagramHeaderSize
	// payload aliases the socket's read buffer; decoded messages alias
	// their payload and travel to other goroutines, so copy it.
	m, err := wire.DecodeMessage(h.Type, bytes.Clone(payload))
	if err != nil {
		s.Penalize(reasonProtocol, protocolPoints)
		return
	}
	switch m := m.(type) {
	case *wire.Ping:
		s.onPing(m, size)
	case *wire.Pong:
		s.onPong(m)
	default:
		if errors.Is(s.Err(), ErrClosed) {
			return
		}
		s.handler.OnMessage(s, m, size)
	}
}

// RemoteAddr returns the peer's TCP address.
func (s *Session) RemoteAddr() net.Addr { return s.conn.RemoteAddr() }
