package linkemu

// Count is a number of packets and the bytes they carried.
type Count struct {
	Packets uint64
	Bytes   uint64
}

// add counts one packet of n bytes.
func (c *Count) add(n int) {
	c.Packets++
	c.Bytes += uint64(n)
}

// sub uncounts one packet of n bytes.
func (c *Count) sub(n int) {
	c.Packets--
	c.Bytes -= uint64(n)
}

// plus returns the sum of c and o.
func (c Count) plus(o Count) Count {
	return Count{Packets: c.Packets + o.Packets, Bytes: c.Bytes + o.Bytes}
}

// Stats counts what happened to the packets (or stream segments) offered to
// a link direction. Every offered packet is in exactly one of Delivered,
// DroppedLoss, DroppedQueue, WriteFailed, Discarded and InFlight, so
//
//	Sent = Delivered + DroppedLoss + DroppedQueue + WriteFailed + Discarded + InFlight
//
// Retransmitted is not part of that sum: it counts stream segments that were
// hit by loss and are (or will be) delivered late.
type Stats struct {
	// Sent counts packets offered to the link.
	Sent Count
	// Delivered counts packets released and written to the underlying
	// connection without error.
	Delivered Count
	// DroppedLoss counts datagrams dropped at random (Profile.Loss).
	DroppedLoss Count
	// DroppedQueue counts datagrams dropped at the tail of a full queue
	// (Profile.QueueBytes).
	DroppedQueue Count
	// Retransmitted counts stream segments delayed by a retransmission
	// timeout because they were hit by loss.
	Retransmitted Count
	// WriteFailed counts packets released whose write to the underlying
	// connection returned an error.
	WriteFailed Count
	// Discarded counts packets still waiting when the link was closed.
	Discarded Count
	// InFlight counts packets accepted and not yet released: queued for the
	// wire, on it, or propagating.
	InFlight Count
}

// plus returns the field-by-field sum of s and o.
func (s Stats) plus(o Stats) Stats {
	return Stats{
		Sent:          s.Sent.plus(o.Sent),
		Delivered:     s.Delivered.plus(o.Delivered),
		DroppedLoss:   s.DroppedLoss.plus(o.DroppedLoss),
		DroppedQueue:  s.DroppedQueue.plus(o.DroppedQueue),
		Retransmitted: s.Retransmitted.plus(o.Retransmitted),
		WriteFailed:   s.WriteFailed.plus(o.WriteFailed),
		Discarded:     s.Discarded.plus(o.Discarded),
		InFlight:      s.InFlight.plus(o.InFlight),
	}
}
