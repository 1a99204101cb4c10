package linkemu

import (
	"encoding/binary"
	"net"
	"sync"
	"time"
)

// arrival is one packet or read seen by a test sink, with the (virtual)
// time it arrived.
type arrival struct {
	at   time.Time
	data []byte
	dst  string
}

// index returns the packet index that mkPacket wrote into a payload.
func (a arrival) index() int {
	return packetIndex(a.data)
}

// packetIndex returns the index that mkPacket wrote into payload.
func packetIndex(payload []byte) int {
	return int(binary.BigEndian.Uint32(payload))
}

// mkPacket returns a payload of size bytes (at least 4) that carries i.
func mkPacket(i, size int) []byte {
	p := make([]byte, size)
	binary.BigEndian.PutUint32(p, uint32(i))
	for j := 4; j < size; j++ {
		p[j] = byte(i + j)
	}
	return p
}

// sink records what reaches it; its deliver method is a DeliverFunc.
type sink struct {
	mu  sync.Mutex
	got []arrival
}

// deliver records pkt at the current time.
func (s *sink) deliver(pkt []byte, dst net.Addr) error {
	a := arrival{at: time.Now(), data: append([]byte(nil), pkt...)}
	if dst != nil {
		a.dst = dst.String()
	}
	s.mu.Lock()
	s.got = append(s.got, a)
	s.mu.Unlock()
	return nil
}

// arrivals returns a copy of what was recorded so far.
func (s *sink) arrivals() []arrival {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]arrival(nil), s.got...)
}

// fakePacketConn is an in-memory net.PacketConn that records every datagram
// written to it and has nothing to read. It is usable inside a synctest
// bubble: ReadFrom blocks on a channel until Close.
type fakePacketConn struct {
	sink
	local     net.Addr
	closed    chan struct{}
	closeOnce sync.Once
}

// newFakePacketConn returns an open fake socket bound to local.
func newFakePacketConn(local net.Addr) *fakePacketConn {
	return &fakePacketConn{local: local, closed: make(chan struct{})}
}

func (f *fakePacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	<-f.closed
	return 0, nil, net.ErrClosed
}

func (f *fakePacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	select {
	case <-f.closed:
		return 0, net.ErrClosed
	default:
	}
	_ = f.deliver(p, addr)
	return len(p), nil
}

func (f *fakePacketConn) Close() error {
	f.closeOnce.Do(func() { close(f.closed) })
	return nil
}

func (f *fakePacketConn) LocalAddr() net.Addr                { return f.local }
func (f *fakePacketConn) SetDeadline(t time.Time) error      { return nil }
func (f *fakePacketConn) SetReadDeadline(t time.Time) error  { return nil }
func (f *fakePacketConn) SetWriteDeadline(t time.Time) error { return nil }

// udpAddr returns the loopback address 127.0.0.1:port.
func udpAddr(port int) *net.UDPAddr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
}

// sleepUntil sleeps until the (virtual) time t.
func sleepUntil(t time.Time) {
	time.Sleep(time.Until(t))
}
