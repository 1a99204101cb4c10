package linkemu

import (
	"net"
	"testing"
	"time"
)

// BenchmarkShaperAdmit measures the model alone: the random draws, queue
// accounting and departure arithmetic for one packet.
func BenchmarkShaperAdmit(b *testing.B) {
	s := newShaper(Profile{Delay: time.Millisecond, Jitter: time.Millisecond, Loss: 0.01,
		RateBps: 1_000_000_000, QueueBytes: 1 << 30}, modeDatagram)
	now := time.Now()
	for b.Loop() {
		now = now.Add(10 * time.Microsecond) // slower than the wire: a steady state
		s.admit(now, 1200)
	}
}

// BenchmarkLinkSend measures the whole per-packet path of a Link on the real
// clock: Send (copy, model, heap push, wake-up) plus release by the
// scheduler goroutine and the call of the DeliverFunc. The timer stops only
// once every packet has been delivered.
func BenchmarkLinkSend(b *testing.B) {
	for _, bc := range []struct {
		name string
		p    Profile
	}{
		{"perfect", Profile{}},
		{"delay", Profile{Delay: 100 * time.Microsecond, Jitter: 50 * time.Microsecond}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			l, err := NewLink(bc.p, func([]byte, net.Addr) error { return nil })
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			pkt := make([]byte, 1200)
			b.SetBytes(int64(len(pkt)))
			b.ReportAllocs()
			for b.Loop() {
				l.Send(pkt, nil)
			}
			for l.Stats().InFlight.Packets > 0 {
				time.Sleep(10 * time.Microsecond)
			}
		})
	}
}

// BenchmarkPacketConnWriteTo measures WriteTo on a per-destination
// PacketConn over an in-memory socket, delivery included.
func BenchmarkPacketConnWriteTo(b *testing.B) {
	pc := NewPacketConn(discardPacketConn{}, func(net.Addr) Profile { return Profile{} })
	defer pc.Close()
	dsts := []net.Addr{udpAddr(1), udpAddr(2), udpAddr(3), udpAddr(4)}
	pkt := make([]byte, 1200)
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		pc.WriteTo(pkt, dsts[i%len(dsts)])
		i++
	}
	for pc.Stats().InFlight.Packets > 0 {
		time.Sleep(10 * time.Microsecond)
	}
}

// discardPacketConn is a net.PacketConn that accepts and forgets every
// datagram.
type discardPacketConn struct{}

func (discardPacketConn) ReadFrom([]byte) (int, net.Addr, error)    { return 0, nil, net.ErrClosed }
func (discardPacketConn) WriteTo(p []byte, _ net.Addr) (int, error) { return len(p), nil }
func (discardPacketConn) Close() error                              { return nil }
func (discardPacketConn) LocalAddr() net.Addr                       { return udpAddr(0) }
func (discardPacketConn) SetDeadline(time.Time) error               { return nil }
func (discardPacketConn) SetReadDeadline(time.Time) error           { return nil }
func (discardPacketConn) SetWriteDeadline(time.Time) error          { return nil }
