package linkemu

import (
	"net"
	"time"
)

// item is a packet waiting in a Link for its delivery time.
type item struct {
	at  time.Time // delivery time
	seq uint64    // admission order, breaks ties between equal times
	pkt []byte    // private copy of the payload
	dst net.Addr  // opaque label handed back to the DeliverFunc
}

// timeQueue is a binary min-heap of items ordered by (at, seq). It is
// written out rather than built on container/heap to avoid boxing every item
// in an interface value.
type timeQueue []item

// before reports whether a is released before b.
func before(a, b *item) bool {
	if a.at.Equal(b.at) {
		return a.seq < b.seq
	}
	return a.at.Before(b.at)
}

// push adds it to the heap.
func (q *timeQueue) push(it item) {
	*q = append(*q, it)
	h := *q
	i := len(h) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !before(&h[i], &h[parent]) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

// pop removes and returns the earliest item. The heap must not be empty.
func (q *timeQueue) pop() item {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = item{} // drop references so the payload can be collected
	h = h[:last]
	i := 0
	for {
		l, r := 2*i+1, 2*i+2
		least := i
		if l < len(h) && before(&h[l], &h[least]) {
			least = l
		}
		if r < len(h) && before(&h[r], &h[least]) {
			least = r
		}
		if least == i {
			break
		}
		h[i], h[least] = h[least], h[i]
		i = least
	}
	*q = h
	return top
}
