package lab

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/wire"
)

// Staller is a net.PacketConn that withholds the job data a node sends
// (fault injection: a peer that announces what it has and then stalls).
// Every outgoing NODES and TXS datagram is dropped, or, with a delay, sent
// that much later; every other datagram (OPEN_JOB, JOB_STATE, probes,
// requests) passes at once, so the node keeps announcing data it does not
// deliver in time. Install it with node.Config.WrapPacketConn.
type Staller struct {
	net.PacketConn
	delay    time.Duration // 0: drop
	withheld atomic.Int64
	requests atomic.Int64
	mu       sync.Mutex
	closed   bool
	timers   []*time.Timer
}

// maxDelayed bounds the datagrams a Staller holds for later at once; past
// it the datagram is dropped.
const maxDelayed = 100_000

// NewStaller wraps pc. A zero delay drops NODES and TXS; a positive one
// sends each that much later.
func NewStaller(pc net.PacketConn, delay time.Duration) *Staller {
	return &Staller{PacketConn: pc, delay: delay}
}

// Withheld returns the number of NODES and TXS datagrams dropped or
// delayed so far.
func (s *Staller) Withheld() int64 { return s.withheld.Load() }

// Requests returns the number of GET_NODES and GET_TXS datagrams the node
// has received so far (from any peer).
func (s *Staller) Requests() int64 { return s.requests.Load() }

// ReadFrom reads a datagram and counts the requests among them.
func (s *Staller) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := s.PacketConn.ReadFrom(p)
	if err == nil && n > 0 && (wire.MsgType(p[0]) == wire.TypeGetNodes || wire.MsgType(p[0]) == wire.TypeGetTxs) {
		s.requests.Add(1)
	}
	return n, addr, err
}

// WriteTo writes p to addr, unless p is job data to withhold. It reports
// len(p) either way.
func (s *Staller) WriteTo(p []byte, addr net.Addr) (int, error) {
	h, _, err := wire.ParseDatagram(p)
	if err != nil || (h.Type != wire.TypeNodes && h.Type != wire.TypeTxs) {
		return s.PacketConn.WriteTo(p, addr)
	}
	s.withheld.Add(1)
	if s.delay <= 0 {
		return len(p), nil
	}
	c := bytes.Clone(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.timers) >= maxDelayed {
		return len(p), nil
	}
	s.timers = append(s.timers, time.AfterFunc(s.delay, func() {
		_, _ = s.PacketConn.WriteTo(c, addr)
	}))
	return len(p), nil
}

// Close stops the delayed datagrams not yet sent and closes the
// connection.
func (s *Staller) Close() error {
	s.mu.Lock()
	s.closed = true
	for _, t := range s.timers {
		t.Stop()
	}
	s.timers = nil
	s.mu.Unlock()
	return s.PacketConn.Close()
}
