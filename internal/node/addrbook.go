package node

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/wire"
)

// Address book bounds. A peer's BTADDR may carry 1,000 entries; one peer
// can hold at most addrPerSource of the book, so a liar cannot fill it
// (and cannot make this node dial more than a trickle of its addresses,
// see discover).
const (
	addrBookMax   = 1024
	addrPerSource = 128
	addrMaxTries  = 3                // failed dials before an entry is dropped
	addrRetry     = 30 * time.Second // between dials of one entry
)

// addrEntry is one learnt listening address.
type addrEntry struct {
	source  netip.Addr // the peer that told us
	tries   int        // failed dials in a row
	lastTry time.Time
}

// addrBook holds listening addresses of Blocktorrent peers learnt from
// BTADDR messages. Its methods are safe for concurrent use: session
// goroutines add to it, the discovery goroutine picks from it.
type addrBook struct {
	mu       sync.Mutex
	entries  map[netip.AddrPort]*addrEntry
	bySource map[netip.Addr]int
	rng      *rand.Rand
}

func newAddrBook() *addrBook {
	return &addrBook{
		entries:  make(map[netip.AddrPort]*addrEntry),
		bySource: make(map[netip.Addr]int),
		rng:      rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
	}
}

// add records the usable entries of m, learnt from source, and returns how
// many were new. Unusable addresses (unspecified, port 0, multicast) and
// the node's own address are skipped, and so are entries past the source's
// share or the book's size.
func (b *addrBook) add(source netip.Addr, m *wire.BTAddr, self netip.AddrPort) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	added := 0
	for _, e := range m.Entries {
		ap := netip.AddrPortFrom(e.Addr.Addr().Unmap(), e.Addr.Port())
		a := ap.Addr()
		if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() || ap.Port() == 0 || ap == self {
			continue
		}
		if _, ok := b.entries[ap]; ok {
			continue
		}
		if b.bySource[source] >= addrPerSource {
			break
		}
		if len(b.entries) >= addrBookMax && !b.evictLocked() {
			break
		}
		b.entries[ap] = &addrEntry{source: source}
		b.bySource[source]++
		added++
	}
	return added
}

// evictLocked drops one entry of the source holding the most entries and
// reports whether it did.
func (b *addrBook) evictLocked() bool {
	var worst netip.Addr
	most := 0
	for s, k := range b.bySource {
		if k > most {
			worst, most = s, k
		}
	}
	for ap, e := range b.entries {
		if e.source == worst {
			b.removeLocked(ap, e)
			return true
		}
	}
	return false
}

func (b *addrBook) removeLocked(ap netip.AddrPort, e *addrEntry) {
	delete(b.entries, ap)
	if b.bySource[e.source]--; b.bySource[e.source] <= 0 {
		delete(b.bySource, e.source)
	}
}

// pick returns a random entry that skip does not exclude and that was not
// tried within addrRetry, and marks it tried.
func (b *addrBook) pick(now time.Time, skip func(netip.AddrPort) bool) (netip.AddrPort, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var cands []netip.AddrPort
	for ap, e := range b.entries {
		if now.Sub(e.lastTry) >= addrRetry && !skip(ap) {
			cands = append(cands, ap)
		}
	}
	if len(cands) == 0 {
		return netip.AddrPort{}, false
	}
	ap := cands[b.rng.IntN(len(cands))]
	b.entries[ap].lastTry = now
	return ap, true
}

// retrySoon makes ap eligible again after wait instead of addrRetry: a
// dial that crossed the peer's own dial to this node (both handshakes
// fail, as the peer's UDP address can be bound to one session only) is
// not the address's fault.
func (b *addrBook) retrySoon(ap netip.AddrPort, now time.Time, wait time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.entries[ap]; ok {
		e.lastTry = now.Add(wait - addrRetry)
	}
}

// result records how a dial of ap went: a success clears its failures, the
// addrMaxTries-th failure in a row drops it.
func (b *addrBook) result(ap netip.AddrPort, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, found := b.entries[ap]
	if !found {
		return
	}
	if ok {
		e.tries = 0
		return
	}
	if e.tries++; e.tries >= addrMaxTries {
		b.removeLocked(ap, e)
	}
}

// len returns the number of entries.
func (b *addrBook) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.entries)
}
