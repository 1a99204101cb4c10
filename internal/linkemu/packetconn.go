package linkemu

import (
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// PacketConn is a net.PacketConn whose outbound datagrams go through
// emulated links before they reach the real socket; inbound datagrams are
// read straight from the socket. Emulating the outbound direction at both
// ends of a path models the whole bidirectional link.
//
// WriteTo never waits for the link: it queues a copy and returns len(p), and
// drops are silent, as with a real UDP socket. Errors of the real socket's
// WriteTo, which happens later, are not reported; Stats counts them as
// WriteFailed. Write deadlines apply only to
// WriteTo itself (a call after the deadline fails); read deadlines pass
// through to the socket.
type PacketConn struct {
	pc         net.PacketConn
	profileFor func(dst net.Addr) Profile // nil when shared is used
	shared     *Link                      // the one link of WrapPacketConn

	mu     sync.Mutex
	links  map[string]*destLink // per destination, keyed by dst.String()
	closed bool
	wdl    deadline

	closeOnce sync.Once
	closeErr  error
}

var _ net.PacketConn = (*PacketConn)(nil)

// destLink is the emulated link towards one destination, with the private
// copy of the address that its packets are written to.
type destLink struct {
	link *Link
	dst  net.Addr
}

// WrapPacketConn returns pc with every outbound datagram, whatever its
// destination, sent through one emulated link shaped by out. The link models
// the sender's uplink: all destinations share its rate and queue. It panics
// if out is invalid (see Profile.Validate).
func WrapPacketConn(pc net.PacketConn, out Profile) *PacketConn {
	c := &PacketConn{pc: pc}
	l, err := NewLink(out, c.write)
	if err != nil {
		panic(err)
	}
	c.shared = l
	return c
}

// NewPacketConn returns pc with an independent emulated link per destination
// address (keyed by its String form), shaped by profileFor(dst). The link for
// a destination is created, and profileFor called, on the first WriteTo to
// it; it lives until Close. profileFor runs with the PacketConn's mutex held
// and must not call back into the PacketConn. A profile that fails
// Validate makes WriteTo to that destination fail with ErrBadProfile. It
// panics if profileFor is nil.
func NewPacketConn(pc net.PacketConn, profileFor func(dst net.Addr) Profile) *PacketConn {
	if profileFor == nil {
		panic(fmt.Errorf("%w: nil profileFor", ErrBadArgument))
	}
	return &PacketConn{
		pc:         pc,
		profileFor: profileFor,
		links:      make(map[string]*destLink),
	}
}

// write is the DeliverFunc of every link of c: it sends a released datagram
// on the real socket.
func (c *PacketConn) write(pkt []byte, dst net.Addr) error {
	_, err := c.pc.WriteTo(pkt, dst)
	return err
}

// ReadFrom reads a datagram straight from the underlying socket.
func (c *PacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	return c.pc.ReadFrom(p)
}

// WriteTo queues a copy of p on the emulated link towards addr and returns
// len(p). It fails only if c is closed, the write deadline has passed, addr
// is nil, or addr's profile is invalid.
func (c *PacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	l, dst, err := c.linkFor(addr)
	if err == nil {
		err = l.Send(p, dst)
	}
	if err != nil {
		return 0, opError("write", c.pc.LocalAddr(), addr, err)
	}
	return len(p), nil
}

// linkFor returns the link that carries datagrams to addr and the address
// to hand to it, creating a per-destination link on first use.
func (c *PacketConn) linkFor(addr net.Addr) (*Link, net.Addr, error) {
	if addr == nil {
		return nil, nil, fmt.Errorf("%w: nil destination address", ErrBadArgument)
	}
	if c.wdl.expired() {
		return nil, nil, os.ErrDeadlineExceeded
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, nil, ErrClosed
	}
	if c.shared != nil {
		return c.shared, cloneAddr(addr), nil
	}
	key := addr.String()
	if d, ok := c.links[key]; ok {
		return d.link, d.dst, nil
	}
	l, err := NewLink(c.profileFor(addr), c.write)
	if err != nil {
		return nil, nil, fmt.Errorf("link to %s: %w", key, err)
	}
	d := &destLink{link: l, dst: cloneAddr(addr)}
	c.links[key] = d
	return d.link, d.dst, nil
}

// cloneAddr returns a copy of a *net.UDPAddr, whose IP slice the caller may
// reuse after WriteTo returns although the datagram is written later. Other
// address types are returned as they are.
func cloneAddr(a net.Addr) net.Addr {
	if u, ok := a.(*net.UDPAddr); ok && u != nil {
		c := *u
		c.IP = append(net.IP(nil), u.IP...)
		return &c
	}
	return a
}

// Close discards the datagrams still queued, stops every link's goroutine
// and closes the underlying socket. It is idempotent: every call returns
// the result of closing the socket.
func (c *PacketConn) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		links := c.allLinksLocked()
		c.mu.Unlock()
		for _, l := range links {
			l.stop()
		}
		c.closeErr = c.pc.Close()
		for _, l := range links {
			l.wait()
		}
	})
	return c.closeErr
}

// allLinksLocked lists the links of c.
func (c *PacketConn) allLinksLocked() []*Link {
	if c.shared != nil {
		return []*Link{c.shared}
	}
	links := make([]*Link, 0, len(c.links))
	for _, d := range c.links {
		links = append(links, d.link)
	}
	return links
}

// LocalAddr returns the underlying socket's address.
func (c *PacketConn) LocalAddr() net.Addr {
	return c.pc.LocalAddr()
}

// SetDeadline sets the read deadline of the underlying socket and the write
// deadline of c.
func (c *PacketConn) SetDeadline(t time.Time) error {
	c.wdl.set(t)
	return c.pc.SetReadDeadline(t)
}

// SetReadDeadline sets the read deadline of the underlying socket.
func (c *PacketConn) SetReadDeadline(t time.Time) error {
	return c.pc.SetReadDeadline(t)
}

// SetWriteDeadline sets the time after which WriteTo fails with
// os.ErrDeadlineExceeded. It does not touch the underlying socket, whose
// writes happen later on the links' goroutines.
func (c *PacketConn) SetWriteDeadline(t time.Time) error {
	c.wdl.set(t)
	return nil
}

// Stats returns the sum of the counters of all links of c.
func (c *PacketConn) Stats() Stats {
	c.mu.Lock()
	links := c.allLinksLocked()
	c.mu.Unlock()
	var s Stats
	for _, l := range links {
		s = s.plus(l.Stats())
	}
	return s
}

// StatsFor returns the counters of the link towards dst: for a PacketConn
// from WrapPacketConn, the shared link (all destinations); for one from
// NewPacketConn, dst's own link, or zero Stats if nothing was sent to dst.
func (c *PacketConn) StatsFor(dst net.Addr) Stats {
	var l *Link
	c.mu.Lock()
	switch {
	case c.shared != nil:
		l = c.shared
	case dst != nil:
		if d, ok := c.links[dst.String()]; ok {
			l = d.link
		}
	}
	c.mu.Unlock()
	if l == nil {
		return Stats{}
	}
	return l.Stats()
}
