package node

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/job"
	"github.com/blocktorrent/blocktorrent/internal/session"
	"github.com/blocktorrent/blocktorrent/internal/transport"
	"github.com/blocktorrent/blocktorrent/internal/wire"
)

// getAddrEvery is the least time between two GET_BTADDR this node sends
// on one session (docs/protocol.md: at most once a minute). A peer's two
// GET_BTADDR less than getAddrTooSoon apart are a violation: half the
// minute, so delays on the way never make an honest peer look guilty.
const (
	getAddrEvery   = time.Minute
	getAddrTooSoon = getAddrEvery / 2
)

// Penalties of a protocol violation and of an unrequested message
// (docs/protocol.md §10), as the job engine scores them.
const (
	protocolPoints    = 20
	unrequestedPoints = 10
)

// listenAddr returns the address a peer listens on: the address dialled
// for an outbound session; for an inbound one, the peer's IP and the port
// of its BTVERSION (a node listens on one port number for TCP and UDP; the
// handshake refuses a zero port).
func listenAddr(s *session.Session) (netip.AddrPort, bool) {
	ap, err := netip.ParseAddrPort(s.RemoteAddr().String())
	if err != nil {
		return netip.AddrPort{}, false
	}
	port := ap.Port()
	if !s.Dialer() {
		port = s.Version().UDPPort
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), port), true
}

// addrs answers GET_BTADDR with the listening addresses of the other
// connected peers.
func (n *Node) addrs(to *session.Session) *wire.BTAddr {
	n.mu.Lock()
	defer n.mu.Unlock()
	m := &wire.BTAddr{}
	now := uint32(time.Now().Unix())
	for _, s := range n.sessions {
		if s == to || len(m.Entries) >= wire.MaxBTAddrCount {
			continue
		}
		if ap, ok := listenAddr(s); ok {
			m.Entries = append(m.Entries, wire.BTAddrEntry{Addr: ap, Services: s.Version().Services, LastSeen: now})
		}
	}
	return m
}

// onGetAddr answers a GET_BTADDR, unless the peer asked less than
// getAddrTooSoon before: that is a protocol violation, scored and not
// answered.
func (n *Node) onGetAddr(s *session.Session) {
	if !n.stamp(n.addrAsked, s.ID(), getAddrTooSoon) {
		s.Penalize(job.ReasonProtocol, protocolPoints)
		return
	}
	_ = s.SendTCP(n.addrs(s))
}

// askAddrs sends s a GET_BTADDR if this node looks for peers and has not
// asked s within the last minute.
func (n *Node) askAddrs(s *session.Session) {
	if n.cfg.TargetPeers <= 0 || !n.stamp(n.addrSent, s.ID(), getAddrEvery) {
		return
	}
	_ = s.SendTCP(&wire.GetBTAddr{})
}

// stamp records the time now under id in m (addrAsked or addrSent) and
// reports true, unless the time recorded there is less than gap ago.
func (n *Node) stamp(m map[uint64]time.Time, id uint64, gap time.Duration) bool {
	now := time.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	if last, ok := m[id]; ok && now.Sub(last) < gap {
		return false
	}
	m[id] = now
	return true
}

// onAddr records the addresses a peer sent.
func (n *Node) onAddr(s *session.Session, m *wire.BTAddr) {
	if n.cfg.TargetPeers <= 0 {
		return
	}
	if k := n.book.add(addrIP(s.RemoteAddr()), m, netip.AddrPortFrom(n.ip, n.port)); k > 0 {
		n.log.Debug("learnt peer addresses", "peer", s, "new", k)
	}
}

// Discovery pacing, in discover ticks (about one RedialInterval each).
const (
	feelerEvery  = 8  // at the target: one extra dial this often
	refreshEvery = 30 // ask a random peer for addresses this often
)

// discover runs while the node does (its own goroutine): every
// RedialInterval, if fewer than TargetPeers peers are connected, it dials
// one learnt address that is not connected, being dialled or banned, and,
// if it has none, asks a peer for more. Up to twice TargetPeers it dials
// a feeler every feelerEvery ticks, and it refreshes its addresses every
// refreshEvery ticks.
func (n *Node) discover(ctx context.Context) {
	tick := 0
	for {
		// A random wait of 0.5 to 1.5 intervals keeps nodes that started
		// together from dialling each other in step.
		wait := n.cfg.RedialInterval/2 + time.Duration(rand.Int64N(int64(n.cfg.RedialInterval)+1))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		now := time.Now()
		n.mu.Lock()
		peers := len(n.sessions) + len(n.dialing)
		// Addresses not to dial: those being dialled (only this goroutine
		// adds to n.dialing, so the copy misses none) and connected peers'.
		busy := maps.Clone(n.dialing)
		var all []*session.Session
		for _, s := range n.sessions {
			if ap, ok := listenAddr(s); ok {
				busy[ap] = true
			}
			all = append(all, s)
		}
		n.mu.Unlock()
		tick++
		if len(all) > 0 && tick%refreshEvery == 0 {
			// Keep the book fresh (askAddrs asks a session at most once
			// a minute).
			n.askAddrs(all[rand.IntN(len(all))])
		}
		// Below the target, dial every tick. At or above it, up to twice
		// the target, dial a feeler every feelerEvery ticks: churn can
		// split the overlay into parts whose nodes all have enough
		// peers, and only connections beyond the target join them again.
		feeler := peers >= n.cfg.TargetPeers && peers < 2*n.cfg.TargetPeers && tick%feelerEvery == 0
		if peers >= n.cfg.TargetPeers && !feeler {
			continue
		}
		// (The book holds no entry for this node's own address: add skips it.)
		ap, ok := n.book.pick(now, func(ap netip.AddrPort) bool {
			return busy[ap] || n.bans.banned(ap.Addr(), now)
		})
		if !ok {
			if len(all) > 0 {
				n.askAddrs(all[rand.IntN(len(all))])
			}
			continue
		}
		n.mu.Lock()
		n.dialing[ap] = true
		n.mu.Unlock()
		n.goFunc(func() {
			err := n.dialOnce(ctx, ap.String(), func() {
				n.book.result(ap, true)
				n.mu.Lock()
				delete(n.dialing, ap)
				n.mu.Unlock()
			})
			n.mu.Lock()
			failed := n.dialing[ap] // still set: the handshake never completed
			delete(n.dialing, ap)
			n.mu.Unlock()
			switch {
			case failed && errors.Is(err, transport.ErrBound):
				// Crossed dials: retry after a random wait, so the two
				// sides do not cross again.
				wait := time.Duration(1+rand.IntN(8)) * n.cfg.RedialInterval
				n.book.retrySoon(ap, time.Now(), wait)
			case failed:
				n.book.result(ap, false)
				n.log.Debug("learnt peer not reached", "peer", ap, "err", err)
			}
		})
	}
}
