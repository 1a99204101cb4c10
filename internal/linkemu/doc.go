// Package linkemu emulates network links in user space, for tests and
// experiments on a kernel without netem. It shapes the outbound direction of
// real sockets: a datagram socket (PacketConn, for block pieces over UDP) or
// a stream connection (Conn, for control messages over TCP). When both ends
// of a path wrap their sockets, the two outbound directions together model a
// bidirectional link, possibly asymmetric.
//
// # Model
//
// A link direction (Link) is modelled like the output port of a router,
// described by a Profile:
//
//   - Serialization: packets go onto the wire one after another at
//     RateBps. A packet offered at time now leaves the wire (its last bit is
//     sent) at departure = max(now, previous departure) + size×8/RateBps.
//     Departures are computed from the start of the wire's busy period, so
//     rounding to the nanosecond does not accumulate: the k-th packet of a
//     back-to-back burst of S-byte packets leaves ⌈k×S×8/RateBps⌉ after the
//     burst began.
//   - Queue: a packet occupies the bottleneck buffer from its arrival until
//     its departure. A datagram that would make the buffered bytes exceed
//     QueueBytes is dropped at the tail (without using the wire).
//   - Loss: each packet is lost with probability Loss. A lost datagram has
//     used its slot on the wire and then vanishes.
//   - Propagation: a packet is delivered Delay after its departure, plus a
//     jitter drawn uniformly from [0, Jitter).
//
// Jitter and ordering: on datagram links each packet draws its own jitter and
// nothing else reorders, so a packet can overtake an earlier one only when it
// left the wire less than Jitter after it; with Jitter = 0 delivery is in
// order. This is the reordering that independent per-packet delays imply
// (netem behaves the same way); UDP protocols must cope with it. Stream links
// never reorder: a segment due before an earlier one waits for it.
//
// Stream links (Conn) do not lose data. A segment hit by Loss is delivered
// after an extra Profile.RTO() = max(200 ms, 3×Delay), as if TCP had
// retransmitted it once, and the segments behind it wait (head-of-line
// blocking). Their queue is bounded by the sender window (WithWindow)
// instead of QueueBytes: Write blocks while the window is full, the way a
// full socket send buffer blocks a TCP sender.
//
// All random decisions come from a source seeded with Profile.Seed, and every
// offered packet consumes the same draws whatever its fate, so the k-th
// packet's loss and jitter depend only on the Profile and k. Queue drops and
// delivery times also depend on when packets are offered; under the virtual
// clock of testing/synctest they are exactly reproducible.
//
// Not modelled: TCP congestion control (slow start, congestion window, pacing
// by ACKs), bandwidth used by retransmissions or by the reverse (ACK) path,
// repeated loss of a retransmission, MTU and fragmentation, duplication,
// corruption, link-layer framing overhead, time-varying profiles, and the
// inbound direction, which is the peer's outbound one. Packets are
// timestamped by the Go clock and released by a Go timer, so on a real clock
// deliveries can be late by the timer and scheduler latency (tens of
// microseconds to a few milliseconds on a loaded machine).
//
// # Goroutines and ownership
//
// Each Link owns exactly one scheduler goroutine, started when the Link is
// created and ended by Close. Packets wait in a time-ordered heap; the
// goroutine sleeps on a single timer set to the earliest delivery time (no
// busy loop, no goroutine per packet) and calls the link's DeliverFunc for
// one packet at a time, in delivery order, without holding the link's lock.
//
// A PacketConn made by WrapPacketConn owns one Link shared by all
// destinations; one made by NewPacketConn owns one Link per destination
// address, created on the first WriteTo to it. A Conn owns one Link.
// WriteTo and Write run on the caller's goroutine and only enqueue; reads
// run on the caller's goroutine straight on the underlying socket. The
// links' goroutines are the only ones that write to the underlying socket.
// Close on any of these types discards the packets still in flight, tells
// the links' goroutines to stop, closes the underlying socket (which
// unblocks a goroutine stuck writing to it) and then waits for the
// goroutines to exit, so nothing of the package outlives Close. Close is
// idempotent and safe to call concurrently with writes. A Link or wrapper
// that is never closed leaks its goroutines.
//
// All exported types are safe for concurrent use. The package reads time
// only through the time package, so it runs unchanged under the virtual
// clock of testing/synctest when the links are created inside the bubble;
// its own tests use that to check delivery times to the nanosecond.
package linkemu
