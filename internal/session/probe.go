package session

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/wire"
)

// Probing parameters.
const (
	pingInterval = time.Second
	trainCount   = 48                     // 58 KB: fits the smallest emulated bottleneck queue
	trains       = 3                      // the pacer uses the lowest estimate
	trainWait    = 300 * time.Millisecond // after the last PING is due
	maxArrivals  = 512
)

// mtuSizes are the datagram sizes TEST_MTU tries.
var mtuSizes = []uint16{wire.DefaultDatagramSize, 1400, wire.MaxDatagramSize}

func float64FromBits(b uint64) float64 { return math.Float64frombits(b) }

func (s *Session) setRate(r float64) { s.rate.Store(math.Float64bits(min(max(r, 16<<10), MaxRate))) }

// probe measures the path: RTT first, then the MTU and the bottleneck
// rate, then an RTT sample every second until the session ends.
func (s *Session) probe(ctx context.Context) {
	s.ping()
	base := RandomNonce() &^ 0xffff
	// Path MTU: announce, then send one padded PING per size.
	if s.SendTCP(&wire.TestMTU{Kind: wire.KindProbe, Base: base, Sizes: mtuSizes}) == nil {
		for i, size := range mtuSizes {
			_, _ = s.sock.Send(s.udp.Load(), wire.NewPing(base+uint64(i), 0, int(size)), int(size))
		}
	}
	// Bottleneck rate: a back-to-back train of full-size PINGs; the peer
	// times their arrivals and reports the dispersion.
	// Several trains, a little apart: one train's dispersion is easily
	// compressed or stretched by when the receiver's reader runs.
	size := uint16(wire.DefaultDatagramSize)
	for k := range trains {
		tb := base + 0x100*uint64(k+1)
		if s.SendTCP(&wire.EstimateBandwidth{Kind: wire.KindProbe, Base: tb, Count: trainCount, Size: size}) == nil {
			for i := range trainCount {
				_, _ = s.sock.Send(s.udp.Load(), wire.NewPing(tb+uint64(i), 0, int(size)), int(size))
			}
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-s.done:
			return
		}
	}
	t := time.NewTicker(pingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-t.C:
			if idle := s.local.idleTimeout(); idle > 0 {
				if quiet := time.Since(time.Unix(0, s.heard.Load())); quiet > idle {
					s.log.Warn("disconnecting an idle peer", "quiet", quiet.Round(time.Millisecond))
					s.Disconnect(wire.ReasonNormal, fmt.Sprintf("nothing heard for %v", quiet.Round(time.Second)))
					return
				}
			}
			s.ping()
			s.finishProbes(false)
		}
	}
}

// ping sends a PING that asks for a PONG. It is padded to the PONG's size
// so the PONG never amplifies.
func (s *Session) ping() {
	n := RandomNonce()
	s.mu.Lock()
	if len(s.pings) > 64 {
		clear(s.pings)
	}
	s.pings[n] = time.Now()
	s.mu.Unlock()
	_, _ = s.SendUDP(&wire.Ping{Nonce: n, Flags: wire.PingReply, Padding: wire.PongSize - wire.PingSize})
}

// onPing answers RTT pings and records probe arrivals.
func (s *Session) onPing(m *wire.Ping, size int) {
	now := time.Now()
	if m.Flags&wire.PingReply != 0 {
		if m.Padding >= wire.PongSize-wire.PingSize {
			_, _ = s.SendUDP(&wire.Pong{Nonce: m.Nonce, ReceivedSize: uint16(size - wire.DatagramHeaderSize), RecvMicros: uint64(now.UnixMicro())})
		}
		return
	}
	s.mu.Lock()
	if len(s.arrived) < maxArrivals {
		s.arrived[m.Nonce] = arrival{at: now, size: size}
	}
	s.mu.Unlock()
	s.finishProbes(false)
}

// onPong updates the RTT estimate (RFC 6298 smoothing).
func (s *Session) onPong(m *wire.Pong) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sent, ok := s.pings[m.Nonce]
	if !ok {
		return
	}
	delete(s.pings, m.Nonce)
	r := time.Since(sent)
	if s.srtt == 0 {
		s.srtt, s.rttvar = r, r/2
		return
	}
	d := s.srtt - r
	if d < 0 {
		d = -d
	}
	s.rttvar = (3*s.rttvar + d) / 4
	s.srtt = (7*s.srtt + r) / 8
}

// onTestMTU handles TEST_MTU: a probe announcement is answered once its
// PINGs had time to arrive; a result sets the datagram size.
func (s *Session) onTestMTU(m *wire.TestMTU) {
	if m.Kind == wire.KindResult {
		best := int64(wire.DefaultDatagramSize)
		for _, sz := range m.Sizes {
			if slices.Contains(mtuSizes, sz) {
				best = max(best, int64(sz))
			}
		}
		s.maxDgram.Store(best)
		return
	}
	s.mu.Lock()
	if len(s.mtus) < 4 {
		s.mtus = append(s.mtus, m)
	}
	s.mu.Unlock()
	time.AfterFunc(trainWait, func() { s.finishProbes(true) })
}

// onEstimate handles ESTIMATE_BANDWIDTH: an announced train is timed; a
// result sets the pacing rate (a little under the bottleneck, so queues
// stay short).
func (s *Session) onEstimate(m *wire.EstimateBandwidth) {
	if m.Kind == wire.KindResult {
		if m.Rate > 0 {
			s.mu.Lock()
			s.rates = append(s.rates, float64(m.Rate))
			r := slices.Clone(s.rates)
			s.mu.Unlock()
			// The lowest estimate: a train compressed by a late reader
			// reads high, and pacing above the bottleneck overruns its
			// queue (drops and recovery), while pacing a little below it
			// costs only proportionally.
			s.setRate(slices.Min(r) / 8 * 0.95)
		}
		s.rated.Store(true)
		return
	}
	s.mu.Lock()
	if len(s.trains) < 4 {
		s.trains = append(s.trains, m)
	}
	s.mu.Unlock()
	time.AfterFunc(trainWait, func() { s.finishProbes(true) })
}

// finishProbes answers announced probes whose datagrams have all arrived,
// or all of them when force is set (the wait is over).
func (s *Session) finishProbes(force bool) {
	s.mu.Lock()
	var replies []wire.Message
	keep := s.mtus[:0]
	for _, m := range s.mtus {
		var got []uint16
		for i, size := range m.Sizes {
			if a, ok := s.arrived[m.Base+uint64(i)]; ok && a.size == int(size) {
				got = append(got, size)
			}
		}
		if force || len(got) == len(m.Sizes) {
			replies = append(replies, &wire.TestMTU{Kind: wire.KindResult, Base: m.Base, Sizes: got})
			for i := range m.Sizes {
				delete(s.arrived, m.Base+uint64(i))
			}
		} else {
			keep = append(keep, m)
		}
	}
	s.mtus = keep
	keepT := s.trains[:0]
	for _, m := range s.trains {
		var first, last time.Time
		n := 0
		for i := range uint64(m.Count) {
			if a, ok := s.arrived[m.Base+i]; ok {
				if first.IsZero() || a.at.Before(first) {
					first = a.at
				}
				if a.at.After(last) {
					last = a.at
				}
				n++
			}
		}
		if force || n == int(m.Count) {
			var rate uint64
			if n >= 2 && last.After(first) {
				rate = uint64(float64(n-1) * float64(m.Size) * 8 / last.Sub(first).Seconds())
			}
			replies = append(replies, &wire.EstimateBandwidth{Kind: wire.KindResult, Base: m.Base, Count: m.Count, Size: m.Size, Rate: rate})
			for i := range uint64(m.Count) {
				delete(s.arrived, m.Base+i)
			}
		} else {
			keepT = append(keepT, m)
		}
	}
	s.trains = keepT
	s.mu.Unlock()
	for _, r := range replies {
		_ = s.SendTCP(r)
	}
}
