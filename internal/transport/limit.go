package transport

import (
	"time"
)

// Rate is a sustained inbound rate. A zero field means no limit on that
// dimension.
type Rate struct {
	Datagrams float64 // datagrams per second
	Bytes     float64 // bytes of UDP payload per second
}

// Limits bound the datagrams the socket hands to sessions
// (docs/security.md). Each binding has its own token bucket, and all
// bindings share a global one. A datagram that passed the token and replay
// checks is charged to its binding's bucket first: over that limit it is
// dropped (Stats.RateLimited) without touching the global budget, so one
// flooding peer cannot use up what the others need. Within its own limit
// it is charged to the global bucket, and dropped there (Stats.GlobalLimited)
// when the node as a whole is over its limit.
//
// Datagrams that fail the token check are not charged: an off-path sender
// that forges a peer's address cannot spend that peer's budget.
type Limits struct {
	Peer   Rate // each binding
	Global Rate // all bindings together
	// Burst is the depth of each bucket, as time at the full rate: a
	// bucket holds Rate×Burst, and a new binding starts with a full one.
	// Zero means one second.
	Burst time.Duration
}

// DefaultLimits returns limits generous enough for an honest peer at
// 1 Gbit/s (about 100,000 datagrams/s of 1,200 to 1,472 bytes), with a
// global budget of five such peers.
func DefaultLimits() Limits {
	return Limits{
		Peer:   Rate{Datagrams: 100_000, Bytes: 150e6},
		Global: Rate{Datagrams: 500_000, Bytes: 750e6},
		Burst:  time.Second,
	}
}

// burst returns the bucket depth as a duration.
func (l *Limits) burst() time.Duration {
	if l.Burst <= 0 {
		return time.Second
	}
	return l.Burst
}

// bucket is a token bucket with two dimensions (datagrams and bytes). Its
// rate and depth come from the Rate passed to each call, so a change of
// limits applies at once. A zero bucket is full.
type bucket struct {
	started   bool
	last      time.Time
	datagrams float64 // tokens available
	bytes     float64
}

// refill adds the tokens earned since the last call, capped at the depth.
func (k *bucket) refill(now time.Time, r Rate, burst time.Duration) {
	capD, capB := r.Datagrams*burst.Seconds(), r.Bytes*burst.Seconds()
	if !k.started {
		k.started, k.last = true, now
		k.datagrams, k.bytes = capD, capB
		return
	}
	if dt := now.Sub(k.last); dt > 0 {
		// dt*rate is computed in nanoseconds first: exact for whole
		// numbers, so tests of round values see round tokens.
		ns := float64(dt.Nanoseconds())
		k.datagrams = min(capD, k.datagrams+ns*r.Datagrams/1e9)
		k.bytes = min(capB, k.bytes+ns*r.Bytes/1e9)
		k.last = now
	}
	// A lowered limit takes effect at once.
	k.datagrams, k.bytes = min(k.datagrams, capD), min(k.bytes, capB)
}

// allow reports whether a datagram of size bytes fits r at now, and takes
// its tokens if so.
func (k *bucket) allow(now time.Time, r Rate, burst time.Duration, size int) bool {
	if r.Datagrams <= 0 && r.Bytes <= 0 {
		return true
	}
	k.refill(now, r, burst)
	if r.Datagrams > 0 && k.datagrams < 1 {
		return false
	}
	if r.Bytes > 0 && k.bytes < float64(size) {
		return false
	}
	if r.Datagrams > 0 {
		k.datagrams--
	}
	if r.Bytes > 0 {
		k.bytes -= float64(size)
	}
	return true
}

// refund gives back what allow took (the global bucket refused it).
func (k *bucket) refund(r Rate, size int) {
	if r.Datagrams > 0 {
		k.datagrams++
	}
	if r.Bytes > 0 {
		k.bytes += float64(size)
	}
}

// Option configures a Socket in New.
type Option func(*Socket)

// WithLimits sets the socket's inbound limits.
func WithLimits(l Limits) Option { return func(s *Socket) { s.SetLimits(l) } }

// WithClock sets the clock the rate limits read (tests).
func WithClock(now func() time.Time) Option { return func(s *Socket) { s.now = now } }

// SetLimits changes the inbound limits; it may be called at any time, from
// any goroutine.
func (s *Socket) SetLimits(l Limits) { s.limits.Store(&l) }

// Limits returns the inbound limits in force.
func (s *Socket) Limits() Limits { return *s.limits.Load() }

// admit charges a datagram of size bytes to b's bucket and then to the
// global one, and counts a refusal. Only the Serve goroutine calls it.
func (s *Socket) admit(b *Binding, size int) bool {
	l := s.limits.Load()
	now := s.now()
	burst := l.burst()
	if !b.bucket.allow(now, l.Peer, burst, size) {
		s.Stats.RateLimited.Add(1)
		b.RateLimited.Add(1)
		return false
	}
	if !s.global.allow(now, l.Global, burst, size) {
		b.bucket.refund(l.Peer, size)
		s.Stats.GlobalLimited.Add(1)
		b.GlobalLimited.Add(1)
		return false
	}
	return true
}
