package linkemu

import (
	"math/rand/v2"
	"time"
)

// linkMode selects how a link treats loss and ordering.
type linkMode uint8

const (
	// modeDatagram drops lost packets, tail-drops on a full queue and lets
	// jitter reorder packets.
	modeDatagram linkMode = iota
	// modeStream never drops: a lost segment is delivered one RTO late, the
	// queue is bounded by the sender window instead of QueueBytes, and
	// segments are delivered in the order they were sent.
	modeStream
)

// verdict is what the model decided for one packet.
type verdict uint8

const (
	// admitted means the packet will be delivered at the returned time.
	admitted verdict = iota
	// retransmitted means a stream segment hit by loss, delivered late.
	retransmitted
	// lostOnWire means a datagram dropped at random after serialization.
	lostOnWire
	// tailDropped means a datagram that did not fit in the queue.
	tailDropped
)

// departure records when a queued packet's last bit leaves the wire.
type departure struct {
	at   time.Time
	size int
}

// shaper is the pure model of one link direction: given the arrival time
// and size of a packet it decides the packet's fate and delivery time. It
// reads no clock and starts no goroutine, so its decisions are a function of
// the Profile and of the sequence of (time, size) pairs it is given. It is
// not safe for concurrent use; Link guards it with its mutex.
type shaper struct {
	p    Profile // with defaults applied
	mode linkMode
	rng  *rand.Rand

	// wireFree is when the wire finishes serializing the last accepted
	// packet, i.e. that packet's departure time.
	wireFree time.Time
	// busyStart is when the current busy period of the wire began, and
	// busyBytes how many bytes have been accepted since. Departures are
	// computed from them rather than by adding per-packet times, so the
	// rounding to nanoseconds does not accumulate: the k-th packet of a busy
	// period leaves exactly ceil(bytes×8/RateBps) after it began.
	busyStart time.Time
	busyBytes int64
	// lastAt is the latest delivery time handed out (stream mode only).
	lastAt time.Time

	// queue holds the departures of datagrams still in the buffer, oldest
	// first, from index head on; queued is the sum of their sizes. A packet
	// occupies the buffer from its arrival until its last bit has left the
	// wire.
	queue  []departure
	head   int
	queued int
}

// newShaper returns a shaper for p, which must be valid.
func newShaper(p Profile, mode linkMode) shaper {
	return shaper{
		p:    p.withDefaults(),
		mode: mode,
		rng:  newRand(p.Seed),
	}
}

// newRand returns the deterministic random source of a link with seed.
func newRand(seed int64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
}

// draw takes the random decisions for one packet from rng: whether it is
// lost and how much jitter it gets. Every offered packet consumes the same
// draws whatever its fate, so the k-th packet's loss and jitter depend only
// on the Profile and k.
func draw(rng *rand.Rand, p Profile) (lost bool, jitter time.Duration) {
	if p.Loss > 0 {
		lost = rng.Float64() < p.Loss
	}
	if p.Jitter > 0 {
		jitter = time.Duration(rng.Int64N(int64(p.Jitter)))
	}
	return lost, jitter
}

// admit decides the fate of a packet of size bytes offered at now. For
// admitted and retransmitted packets it returns the delivery time.
func (s *shaper) admit(now time.Time, size int) (time.Time, verdict) {
	lost, jitter := draw(s.rng, s.p)

	dep := now
	if s.p.RateBps > 0 {
		if s.mode == modeDatagram {
			s.drain(now)
			if s.queued+size > s.p.QueueBytes {
				return time.Time{}, tailDropped
			}
		}
		if !s.wireFree.After(now) {
			// The wire is idle: a new busy period starts now.
			s.busyStart, s.busyBytes = now, 0
		}
		s.busyBytes += int64(size)
		dep = s.busyStart.Add(txTime(s.busyBytes, s.p.RateBps))
		s.wireFree = dep
		if s.mode == modeDatagram {
			s.queue = append(s.queue, departure{at: dep, size: size})
			s.queued += size
		}
	}
	at := dep.Add(s.p.Delay + jitter)

	if s.mode == modeStream {
		v := admitted
		if lost {
			at = at.Add(s.p.RTO())
			v = retransmitted
		}
		// TCP delivers in order: a segment that would overtake an earlier
		// one (because that one was retransmitted or drew more jitter) waits
		// behind it, which is head-of-line blocking.
		if at.Before(s.lastAt) {
			at = s.lastAt
		}
		s.lastAt = at
		return at, v
	}
	if lost {
		// The packet used its slot on the wire, like a frame corrupted in
		// transit, and then vanishes.
		return time.Time{}, lostOnWire
	}
	return at, admitted
}

// drain removes from the queue the packets whose last bit has left the wire
// by now.
func (s *shaper) drain(now time.Time) {
	for s.head < len(s.queue) && !s.queue[s.head].at.After(now) {
		s.queued -= s.queue[s.head].size
		s.head++
	}
	switch {
	case s.head == len(s.queue):
		s.queue, s.head = s.queue[:0], 0
	case s.head > 64 && s.head > len(s.queue)/2:
		n := copy(s.queue, s.queue[s.head:])
		s.queue, s.head = s.queue[:n], 0
	}
}
