package node

import (
	"net/netip"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/wire"
)

// btaddr returns a BTADDR of k addresses 10.<b>.x.y:8334.
func btaddr(b byte, k int) *wire.BTAddr {
	m := &wire.BTAddr{}
	for i := range k {
		ip := netip.AddrFrom4([4]byte{10, b, byte(i >> 8), byte(i)})
		m.Entries = append(m.Entries, wire.BTAddrEntry{Addr: netip.AddrPortFrom(ip, 8334)})
	}
	return m
}

func TestAddrBookAdd(t *testing.T) {
	self := netip.MustParseAddrPort("10.0.0.1:8334")
	junk := &wire.BTAddr{Entries: []wire.BTAddrEntry{
		{Addr: netip.MustParseAddrPort("0.0.0.0:8334")},
		{Addr: netip.MustParseAddrPort("10.9.9.9:0")},
		{Addr: netip.MustParseAddrPort("224.0.0.1:8334")},
		{Addr: self},
		{Addr: netip.MustParseAddrPort("[::ffff:10.9.9.9]:8334")}, // mapped: stored as IPv4
		{Addr: netip.MustParseAddrPort("10.9.9.9:8334")},          // the same again
	}}
	tests := []struct {
		name    string
		sources int // distinct peers sending
		each    *wire.BTAddr
		want    int // entries in the book after all sources sent
	}{
		{"unusable addresses skipped", 1, junk, 1},
		{"one source capped at its share", 1, btaddr(1, 1000), addrPerSource},
		{"many sources capped at the book size", 20, nil, addrBookMax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newAddrBook()
			for s := range tt.sources {
				m := tt.each
				if m == nil {
					m = btaddr(byte(s+1), 1000)
				}
				b.add(netip.AddrFrom4([4]byte{192, 0, 2, byte(s)}), m, self)
			}
			if got := b.len(); got != tt.want {
				t.Errorf("%d entries, want %d", got, tt.want)
			}
			for src, k := range b.bySource {
				if k > addrPerSource {
					t.Errorf("source %v holds %d entries, more than its share %d", src, k, addrPerSource)
				}
			}
		})
	}
}

func TestAddrBookPick(t *testing.T) {
	b := newAddrBook()
	src := netip.MustParseAddr("192.0.2.1")
	b.add(src, btaddr(1, 2), netip.AddrPort{})
	now := time.Unix(1e9, 0)
	none := func(netip.AddrPort) bool { return false }
	first, ok := b.pick(now, none)
	second, ok2 := b.pick(now, none)
	if !ok || !ok2 || first == second {
		t.Fatalf("picks %v %v, %v %v: want both entries once", first, ok, second, ok2)
	}
	if ap, ok := b.pick(now.Add(addrRetry/2), none); ok {
		t.Fatalf("picked %v again before addrRetry", ap)
	}
	if _, ok := b.pick(now.Add(addrRetry), func(netip.AddrPort) bool { return true }); ok {
		t.Fatal("picked an excluded entry")
	}
	// Crossed dials are retried soon; failures drop the entry.
	b.retrySoon(first, now, time.Second)
	if ap, ok := b.pick(now.Add(time.Second), none); !ok || ap != first {
		t.Fatalf("after retrySoon picked %v %v, want %v", ap, ok, first)
	}
	for range addrMaxTries {
		b.result(first, false)
	}
	b.result(second, false)
	b.result(second, true) // success clears the failure
	b.result(second, false)
	if got := b.len(); got != 1 {
		t.Fatalf("%d entries, want 1 (the failing one dropped)", got)
	}
}
