package linkemu

import (
	"fmt"
	"net"
	"sync"
	"time"
)

const (
	// DefaultSegmentSize is the default size of the segments a stream Write
	// is cut into: the TCP payload of a 1500-byte Ethernet frame with IPv4
	// and the timestamp option.
	DefaultSegmentSize = 1448
	// DefaultWindow is the default number of bytes a stream sender may have
	// in flight on the emulated link before Write blocks.
	DefaultWindow = 4 << 20
	// maxSegmentSize bounds WithSegmentSize.
	maxSegmentSize = 1 << 20
)

// streamConfig holds the sender-side settings of a stream link.
type streamConfig struct {
	segment int
	window  int
}

// StreamOption changes a sender-side setting of a stream link.
type StreamOption func(*streamConfig)

// WithWindow sets how many bytes may be in flight on the emulated link
// (queued, on the wire or propagating) before Write blocks; the default is
// DefaultWindow. It plays the part of the sender's socket buffer.
func WithWindow(bytes int) StreamOption {
	return func(c *streamConfig) { c.window = bytes }
}

// WithSegmentSize sets the size of the segments that writes are cut into;
// the default is DefaultSegmentSize.
func WithSegmentSize(bytes int) StreamOption {
	return func(c *streamConfig) { c.segment = bytes }
}

// newStreamConfig applies opts to the defaults and checks the result.
func newStreamConfig(opts []StreamOption) (streamConfig, error) {
	cfg := streamConfig{segment: DefaultSegmentSize, window: DefaultWindow}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case cfg.segment < 1 || cfg.segment > maxSegmentSize:
		return cfg, fmt.Errorf("%w: segment size %d outside [1, %d]", ErrBadArgument, cfg.segment, maxSegmentSize)
	case cfg.window < 1:
		return cfg, fmt.Errorf("%w: window %d is not positive", ErrBadArgument, cfg.window)
	}
	return cfg, nil
}

// Conn is a net.Conn whose writes go through an emulated stream link before
// they reach the real connection; reads come straight from it. Each Write is
// cut into segments that are rate-limited and delayed like datagrams, but
// none is lost: a segment hit by Loss arrives Profile.RTO() late and the
// segments behind it wait (head-of-line blocking), so every byte arrives, in
// order.
//
// Write returns once all of its segments are queued; it blocks only while
// the bytes in flight would exceed the window (see WithWindow). Concurrent
// Writes are serialized, so the bytes of one Write stay contiguous. A
// receiver that stops reading stalls the link's goroutine on the real
// connection and so, once the window fills, the sender. Conn has no
// CloseWrite; Close ends both directions.
type Conn struct {
	c    net.Conn
	link *Link
	cfg  streamConfig
	wmu  sync.Mutex // serializes Write and Flush
	wdl  deadline

	errMu sync.Mutex
	err   error // first error of the real connection's Write

	closeOnce sync.Once
	closeErr  error
}

var _ net.Conn = (*Conn)(nil)

// WrapConn returns c with its outbound direction shaped by out. It panics if
// out or an option is invalid; Dial and Listen return those errors instead.
func WrapConn(c net.Conn, out Profile, opts ...StreamOption) net.Conn {
	conn, err := newConn(c, out, opts)
	if err != nil {
		panic(err)
	}
	return conn
}

// newConn returns c wrapped in a running stream link.
func newConn(c net.Conn, out Profile, opts []StreamOption) (*Conn, error) {
	cfg, err := newStreamConfig(opts)
	if err != nil {
		return nil, err
	}
	conn := &Conn{c: c, cfg: cfg}
	conn.link, err = newLink(out, modeStream, conn.write)
	if err != nil {
		return nil, err
	}
	return conn, nil
}

// write is the DeliverFunc of the stream link: it writes a released segment
// to the real connection. After the first failure it fails every later
// segment without writing it, so the peer never sees a gap.
func (c *Conn) write(seg []byte, _ net.Addr) error {
	if err := c.writeErr(); err != nil {
		return err
	}
	_, err := c.c.Write(seg)
	if err != nil {
		c.errMu.Lock()
		if c.err == nil {
			c.err = err
		}
		c.errMu.Unlock()
	}
	return err
}

// writeErr returns the first error of the real connection's Write, if any.
func (c *Conn) writeErr() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.err
}

// Read reads straight from the underlying connection.
func (c *Conn) Read(p []byte) (int, error) {
	return c.c.Read(p)
}

// Write cuts p into segments and queues them on the emulated link, waiting
// for room in the window when needed. It returns len(p) once every segment
// is queued, or the number of bytes queued and an error: ErrClosed after
// Close, os.ErrDeadlineExceeded when the write deadline passes while it
// waits, or the error with which the real connection failed.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(p) == 0 && c.link.isClosed() {
		return 0, c.opError(ErrClosed)
	}
	n := 0
	for n < len(p) {
		if err := c.writeErr(); err != nil {
			return n, err
		}
		end := min(n+c.cfg.segment, len(p))
		if err := c.link.sendWait(p[n:end], c.cfg.window, &c.wdl); err != nil {
			return n, c.opError(err)
		}
		n = end
	}
	return n, nil
}

// Flush waits until every byte written so far has been written to the real
// connection, then returns the real connection's write error, if any. It
// honours the write deadline. Use it before Close for a graceful end, since
// Close discards what is still in flight.
func (c *Conn) Flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.link.waitIdle(&c.wdl); err != nil {
		return c.opError(err)
	}
	return c.writeErr()
}

// opError wraps an error of this package like the net package would.
func (c *Conn) opError(err error) error {
	return opError("write", c.c.LocalAddr(), c.c.RemoteAddr(), err)
}

// Close discards the segments still in flight (it flushes nothing further),
// stops the link's goroutine and closes the underlying connection. It is
// safe to call concurrently with Write, which then fails with ErrClosed, and
// it is idempotent: every call returns the result of closing the underlying
// connection.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.link.stop()
		c.closeErr = c.c.Close() // unblocks a Write in progress on c.c
		c.link.wait()
	})
	return c.closeErr
}

// LocalAddr returns the underlying connection's local address.
func (c *Conn) LocalAddr() net.Addr { return c.c.LocalAddr() }

// RemoteAddr returns the underlying connection's remote address.
func (c *Conn) RemoteAddr() net.Addr { return c.c.RemoteAddr() }

// SetDeadline sets the read deadline of the underlying connection and the
// write deadline of c.
func (c *Conn) SetDeadline(t time.Time) error {
	c.wdl.set(t)
	return c.c.SetReadDeadline(t)
}

// SetReadDeadline sets the read deadline of the underlying connection.
func (c *Conn) SetReadDeadline(t time.Time) error {
	return c.c.SetReadDeadline(t)
}

// SetWriteDeadline sets the deadline for Write and Flush to get their data
// into the link. It does not touch the underlying connection, whose writes
// happen later on the link's goroutine.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.wdl.set(t)
	return nil
}

// Stats returns the counters of the outbound link; its packets are segments.
func (c *Conn) Stats() Stats {
	return c.link.Stats()
}
