package linkemu

import (
	"fmt"
	"math"
	"math/bits"
	"time"
)

// Profile describes one direction of an emulated link, modelled like the
// output port of a router: packets are serialized onto the wire at RateBps,
// wait in a buffer of QueueBytes while they queue for the wire, may be lost at
// random with probability Loss, and reach the far end Delay (plus up to
// Jitter) after they leave the wire. The zero Profile is a perfect link: no
// delay, no loss and unlimited rate.
type Profile struct {
	// Delay is the one-way propagation delay added after a packet has been
	// serialized.
	Delay time.Duration
	// Jitter adds a uniformly distributed extra delay in [0, Jitter) to each
	// packet. On datagram links each packet draws its own jitter, so packets
	// that leave the wire less than Jitter apart may be reordered; stream
	// links never reorder (see the package documentation).
	Jitter time.Duration
	// Loss is the probability in [0, 1] that a packet is lost. Datagram links
	// drop the packet; stream links deliver it late, after a retransmission
	// timeout (see RTO).
	Loss float64
	// RateBps is the bottleneck rate in bits per second; 0 means unlimited,
	// in which case no queue forms and QueueBytes is unused.
	RateBps int64
	// QueueBytes is the size of the buffer in front of the bottleneck, in
	// bytes. A datagram that would make the queued bytes exceed it is dropped
	// at the tail. 0 selects DefaultQueueBytes(RateBps). Stream links do not
	// drop: their sender window bounds the queue instead.
	QueueBytes int
	// Seed seeds the link's random source. Two links with the same Profile,
	// fed the same packets at the same times, make the same decisions; give
	// links distinct seeds when their losses should be independent.
	Seed int64
}

// MinQueueBytes is the smallest default queue: enough for a burst of about
// forty full-size Ethernet frames even on a slow link.
const MinQueueBytes = 64 << 10

// MinRTO is the smallest retransmission delay that a stream link adds to a
// lost segment.
const MinRTO = 200 * time.Millisecond

// DefaultQueueBytes returns the queue size used when Profile.QueueBytes is 0:
// 100 ms worth of data at rateBps, but at least MinQueueBytes.
func DefaultQueueBytes(rateBps int64) int {
	q := rateBps / 80 // 100 ms of bits, in bytes
	if q < MinQueueBytes {
		return MinQueueBytes
	}
	if q > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(q)
}

// Validate reports whether every field of p is within its range. The error
// wraps ErrBadProfile.
func (p Profile) Validate() error {
	switch {
	case p.Delay < 0:
		return fmt.Errorf("%w: negative Delay %v", ErrBadProfile, p.Delay)
	case p.Jitter < 0:
		return fmt.Errorf("%w: negative Jitter %v", ErrBadProfile, p.Jitter)
	case !(p.Loss >= 0 && p.Loss <= 1): // also rejects NaN
		return fmt.Errorf("%w: Loss %v outside [0, 1]", ErrBadProfile, p.Loss)
	case p.RateBps < 0:
		return fmt.Errorf("%w: negative RateBps %d", ErrBadProfile, p.RateBps)
	case p.QueueBytes < 0:
		return fmt.Errorf("%w: negative QueueBytes %d", ErrBadProfile, p.QueueBytes)
	}
	return nil
}

// RTO returns the extra delay that a stream link adds to a segment hit by
// loss: max(MinRTO, 3×Delay), a stand-in for TCP's retransmission timeout
// (about one smoothed RTT plus four deviations, with a 200 ms floor as in
// Linux).
func (p Profile) RTO() time.Duration {
	return max(MinRTO, 3*p.Delay)
}

// withDefaults returns p with QueueBytes filled in.
func (p Profile) withDefaults() Profile {
	if p.QueueBytes == 0 {
		p.QueueBytes = DefaultQueueBytes(p.RateBps)
	}
	return p
}

// String formats p compactly for logs, e.g.
// "delay=20ms jitter=5ms loss=1% rate=10Mbit/s queue=125000B seed=1".
func (p Profile) String() string {
	rate := "unlimited"
	if p.RateBps > 0 {
		rate = formatRate(p.RateBps)
	}
	queue := "default"
	if p.QueueBytes > 0 {
		queue = fmt.Sprintf("%dB", p.QueueBytes)
	}
	return fmt.Sprintf("delay=%v jitter=%v loss=%g%% rate=%s queue=%s seed=%d",
		p.Delay, p.Jitter, p.Loss*100, rate, queue, p.Seed)
}

// formatRate prints a bit rate with the largest unit that divides it.
func formatRate(bps int64) string {
	switch {
	case bps%1e9 == 0:
		return fmt.Sprintf("%dGbit/s", bps/1e9)
	case bps%1e6 == 0:
		return fmt.Sprintf("%dMbit/s", bps/1e6)
	case bps%1e3 == 0:
		return fmt.Sprintf("%dkbit/s", bps/1e3)
	}
	return fmt.Sprintf("%dbit/s", bps)
}

// txTime returns how long size bytes occupy a wire of rateBps bits per
// second, rounded up to the nanosecond. rateBps must be positive. The product
// is computed in 128 bits, so it cannot overflow; a result beyond the range
// of time.Duration saturates.
func txTime(size int64, rateBps int64) time.Duration {
	hi, lo := bits.Mul64(uint64(size), 8*uint64(time.Second))
	lo, carry := bits.Add64(lo, uint64(rateBps-1), 0)
	hi += carry
	if hi >= uint64(rateBps) {
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, uint64(rateBps))
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(q)
}
