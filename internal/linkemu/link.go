package linkemu

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// DeliverFunc receives a packet when its link releases it. It runs on the
// link's scheduler goroutine, one packet at a time in delivery order, and
// must not retain pkt after it returns. dst is the label given to Send. A
// non-nil error counts the packet as WriteFailed instead of Delivered.
//
// A DeliverFunc that blocks holds back every later packet of its link, which
// is how a stream link passes the receiver's backpressure on to the sender.
type DeliverFunc func(pkt []byte, dst net.Addr) error

// Link emulates one direction of a link. Send runs a packet through the model
// of its Profile and, unless the packet is dropped, keeps a private copy in a
// time-ordered queue; the link's scheduler goroutine sleeps on a single timer
// until the earliest delivery time and hands due packets to the DeliverFunc.
//
// A Link is safe for concurrent use. It owns exactly one goroutine, started
// by NewLink and ended by Close.
type Link struct {
	deliver DeliverFunc

	mu     sync.Mutex
	sh     shaper
	q      timeQueue
	seq    uint64
	stats  Stats         // InFlight is kept current
	room   chan struct{} // non-nil while a sender waits; closed on release
	closed bool

	wake     chan struct{} // capacity 1: the head of q may have changed
	done     chan struct{} // closed by stop
	exited   chan struct{} // closed when run returns
	stopOnce sync.Once
}

// NewLink returns a datagram Link shaped by p that hands released packets to
// deliver. The caller must Close it to stop its goroutine.
func NewLink(p Profile, deliver DeliverFunc) (*Link, error) {
	return newLink(p, modeDatagram, deliver)
}

// newLink returns a running Link in the given mode.
func newLink(p Profile, mode linkMode, deliver DeliverFunc) (*Link, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if deliver == nil {
		return nil, fmt.Errorf("%w: nil DeliverFunc", ErrBadArgument)
	}
	l := &Link{
		deliver: deliver,
		sh:      newShaper(p, mode),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		exited:  make(chan struct{}),
	}
	go l.run()
	return l, nil
}

// Profile returns the link's profile with defaults applied.
func (l *Link) Profile() Profile {
	return l.sh.p // immutable after newLink
}

// Send offers pkt to the link and returns at once; a dropped packet is not
// an error, only a count in Stats. The link keeps a copy of pkt, so the
// caller may reuse it. dst is passed back to the DeliverFunc unchanged. Send
// fails only with ErrClosed.
func (l *Link) Send(pkt []byte, dst net.Addr) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.admitLocked(pkt, dst)
	return nil
}

// sendWait is Send for stream links: it first waits until the bytes in
// flight plus pkt fit in window (a packet is always accepted when nothing is
// in flight). It fails with ErrClosed, or with os.ErrDeadlineExceeded when dl
// expires first.
func (l *Link) sendWait(pkt []byte, window int, dl *deadline) error {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return ErrClosed
		}
		inflight := int(l.stats.InFlight.Bytes)
		if inflight == 0 || inflight+len(pkt) <= window {
			l.admitLocked(pkt, nil)
			l.mu.Unlock()
			return nil
		}
		room := l.roomLocked()
		l.mu.Unlock()
		if err := dl.wait(room, l.done); err != nil {
			return err
		}
	}
}

// waitIdle waits until nothing is in flight. It fails with ErrClosed, or
// with os.ErrDeadlineExceeded when dl expires first.
func (l *Link) waitIdle(dl *deadline) error {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return ErrClosed
		}
		if l.stats.InFlight.Packets == 0 {
			l.mu.Unlock()
			return nil
		}
		room := l.roomLocked()
		l.mu.Unlock()
		if err := dl.wait(room, l.done); err != nil {
			return err
		}
	}
}

// roomLocked returns a channel that is closed the next time a packet leaves
// the link.
func (l *Link) roomLocked() chan struct{} {
	if l.room == nil {
		l.room = make(chan struct{})
	}
	return l.room
}

// admitLocked runs pkt through the model and queues a copy unless it is
// dropped.
func (l *Link) admitLocked(pkt []byte, dst net.Addr) {
	n := len(pkt)
	l.stats.Sent.add(n)
	at, v := l.sh.admit(time.Now(), n)
	switch v {
	case tailDropped:
		l.stats.DroppedQueue.add(n)
		return
	case lostOnWire:
		l.stats.DroppedLoss.add(n)
		return
	case retransmitted:
		l.stats.Retransmitted.add(n)
	}
	l.stats.InFlight.add(n)
	seq := l.seq
	l.seq++
	l.q.push(item{at: at, seq: seq, pkt: append([]byte(nil), pkt...), dst: dst})
	if l.q[0].seq == seq {
		// The new packet is due before anything the scheduler is waiting
		// for; nudge it to recompute its timer.
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// run is the scheduler goroutine. It releases due packets one at a time,
// calling the DeliverFunc without holding the mutex, and otherwise sleeps on
// one timer set to the earliest delivery time.
func (l *Link) run() {
	defer close(l.exited)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()

	var (
		cur     item
		haveCur bool
		curErr  error
	)
	for {
		l.mu.Lock()
		if haveCur {
			l.releasedLocked(len(cur.pkt), curErr)
			cur, haveCur, curErr = item{}, false, nil
		}
		if l.closed {
			l.mu.Unlock()
			return
		}
		now := time.Now()
		if len(l.q) > 0 && !l.q[0].at.After(now) {
			cur, haveCur = l.q.pop(), true
			l.mu.Unlock()
			curErr = l.deliver(cur.pkt, cur.dst)
			continue
		}
		wait := time.Duration(-1)
		if len(l.q) > 0 {
			wait = l.q[0].at.Sub(now)
		}
		l.mu.Unlock()

		if wait >= 0 {
			timer.Reset(wait)
		}
		select {
		case <-l.done:
			return
		case <-l.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// releasedLocked accounts for a packet of n bytes that left the link, and
// wakes senders waiting for room.
func (l *Link) releasedLocked(n int, err error) {
	l.stats.InFlight.sub(n)
	if err != nil {
		l.stats.WriteFailed.add(n)
	} else {
		l.stats.Delivered.add(n)
	}
	if l.room != nil {
		close(l.room)
		l.room = nil
	}
}

// Stats returns a snapshot of the link's counters.
func (l *Link) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// stop tells the scheduler to exit, discards the queued packets and wakes
// waiting senders, without waiting for anything. A packet whose DeliverFunc
// is running at that moment still completes. stop is idempotent.
func (l *Link) stop() {
	l.stopOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		for _, it := range l.q {
			l.stats.InFlight.sub(len(it.pkt))
			l.stats.Discarded.add(len(it.pkt))
		}
		l.q = nil
		if l.room != nil {
			close(l.room)
			l.room = nil
		}
		l.mu.Unlock()
		close(l.done)
	})
}

// wait blocks until the scheduler goroutine has exited.
func (l *Link) wait() {
	<-l.exited
}

// Close discards the packets still queued, stops the scheduler goroutine and
// waits for it to exit (so it waits for a DeliverFunc call in progress). It
// is idempotent and always returns nil.
func (l *Link) Close() error {
	l.stop()
	l.wait()
	return nil
}

// isClosed reports whether stop has been called.
func (l *Link) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}
