package transport

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/wire"
)

// TestBucket checks the token bucket's arithmetic at exact times.
func TestBucket(t *testing.T) {
	type step struct {
		at   time.Duration // since the first call
		size int
		want bool
	}
	tests := []struct {
		name  string
		rate  Rate
		burst time.Duration
		steps []step
	}{
		{"unlimited", Rate{}, time.Second, []step{{0, 1500, true}, {0, 1500, true}, {0, 1 << 20, true}}},
		{"datagrams: burst then rate", Rate{Datagrams: 2}, time.Second, []step{
			{0, 100, true}, {0, 100, true}, {0, 100, false}, // a full bucket of 2
			{499 * time.Millisecond, 100, false}, // 0.998 tokens
			{500 * time.Millisecond, 100, true},  // 1 token
			{500 * time.Millisecond, 100, false},
			{10 * time.Second, 100, true}, {10 * time.Second, 100, true}, // capped at 2
			{10 * time.Second, 100, false},
		}},
		{"bytes", Rate{Bytes: 1000}, time.Second, []step{
			{0, 600, true}, {0, 600, false}, // 400 left: a bigger datagram does not fit...
			{0, 400, true}, // ...a smaller one does
			{100 * time.Millisecond, 101, false},
			{100 * time.Millisecond, 100, true},
		}},
		{"both: the scarcer one limits", Rate{Datagrams: 10, Bytes: 1000}, time.Second, []step{
			{0, 500, true}, {0, 500, true}, {0, 1, false}, // bytes run out first
			{time.Second, 1, true}, // refilled
		}},
		{"burst of 2 s", Rate{Datagrams: 1}, 2 * time.Second, []step{
			{0, 1, true}, {0, 1, true}, {0, 1, false},
			{time.Second, 1, true}, {time.Second, 1, false},
		}},
		{"clock going back is ignored", Rate{Datagrams: 1}, time.Second, []step{
			{time.Second, 1, true}, {0, 1, false}, {2 * time.Second, 1, true},
		}},
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var k bucket
			for i, st := range tt.steps {
				if got := k.allow(t0.Add(st.at), tt.rate, tt.burst, st.size); got != st.want {
					t.Fatalf("step %d (%v, %d bytes): allowed %v, want %v", i, st.at, st.size, got, st.want)
				}
			}
		})
	}
}

// nopConn is a PacketConn that is never read (dispatch is driven directly).
type nopConn struct{ net.PacketConn }

func (nopConn) Close() error { return nil }

func TestLimitsSources(t *testing.T) {
	if got := New(nopConn{}).Limits(); got != DefaultLimits() {
		t.Fatalf("default limits %+v", got)
	}
	opt := Limits{Global: Rate{Bytes: 9}}
	if got := New(nopConn{}, WithLimits(opt)).Limits(); got != opt {
		t.Fatalf("option's limits: got %+v", got)
	}
}

// TestDispatchLimits drives dispatch in virtual time: a flooding peer is cut
// at its own limit and does not use up the global budget, which the other
// peer still gets; the global limit binds when the sum is over it.
func TestDispatchLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(nopConn{}, WithLimits(Limits{
			Peer:   Rate{Datagrams: 10},
			Global: Rate{Datagrams: 15},
			Burst:  time.Second,
		}), WithClock(time.Now))
		type peer struct {
			addr *net.UDPAddr
			b    *Binding
			tok  wire.Token
			seq  uint32
			got  atomic.Int64
		}
		newPeer := func(port uint16, tok byte) *peer {
			p := &peer{tok: wire.Token{tok}}
			ap := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port)
			p.addr = net.UDPAddrFromAddrPort(ap)
			b, err := s.Bind(ap, p.tok, wire.Token{0xee}, func(*Binding, wire.DatagramHeader, []byte) { p.got.Add(1) })
			if err != nil {
				t.Fatal(err)
			}
			p.b = b
			return p
		}
		flood, honest := newPeer(1000, 1), newPeer(2000, 2)
		send := func(p *peer, n int) {
			for range n {
				p.seq++
				s.dispatch(wire.AppendDatagram(nil, wire.DatagramHeader{Token: p.tok, Seq: p.seq}, &wire.Ping{Nonce: 1}), p.addr)
			}
		}
		check := func(when string, p *peer, got, rate, global int64) {
			t.Helper()
			if p.got.Load() != got || p.b.RateLimited.Load() != rate || p.b.GlobalLimited.Load() != global {
				t.Fatalf("%s: delivered %d, rate-limited %d, global-limited %d; want %d, %d, %d", when,
					p.got.Load(), p.b.RateLimited.Load(), p.b.GlobalLimited.Load(), got, rate, global)
			}
		}
		// t=0: the flood takes its burst of 10 and no more.
		send(flood, 1000)
		check("flood at 0", flood, 10, 990, 0)
		// The honest peer gets the 5 left in the global bucket, then is
		// cut by the global limit (its own bucket is refunded).
		send(honest, 6)
		check("honest at 0", honest, 5, 0, 1)
		// A wrong token is not charged to anyone.
		s.dispatch(wire.AppendDatagram(nil, wire.DatagramHeader{Token: wire.Token{9}, Seq: 99999}, &wire.Ping{}), honest.addr)
		if s.Stats.BadToken.Load() != 1 {
			t.Fatal("wrong token not counted")
		}
		// t=200ms: the flood has earned 2 peer tokens, the global bucket 3.
		time.Sleep(200 * time.Millisecond)
		send(flood, 1000)
		check("flood at 200ms", flood, 12, 1988, 0)
		send(honest, 2)
		check("honest at 200ms", honest, 6, 0, 2)
		// t=1.2s: the honest peer alone, well under both limits.
		time.Sleep(time.Second)
		send(honest, 5)
		check("honest at 1.2s", honest, 11, 0, 2)
		if s.Stats.RateLimited.Load() != 1988 || s.Stats.GlobalLimited.Load() != 2 {
			t.Fatalf("socket stats: rate-limited %d, global-limited %d", s.Stats.RateLimited.Load(), s.Stats.GlobalLimited.Load())
		}
		// Lifting the limits applies at once.
		s.SetLimits(Limits{})
		send(flood, 100)
		check("flood without limits", flood, 112, 1988, 0)
	})
}

// TestFloodRealSocket floods a real socket on 127.0.0.1 from one bound peer
// while another bound peer sends now and then: the flood is cut at its
// peer limit, and every datagram of the other peer that the kernel
// delivers gets through.
func TestFloodRealSocket(t *testing.T) {
	srv := New(listen(t), WithLimits(Limits{
		Peer:   Rate{Datagrams: 1000, Bytes: 1000 * 1500},
		Global: Rate{Datagrams: 2000, Bytes: 2000 * 1500},
		Burst:  time.Second,
	}))
	go srv.Serve()
	t.Cleanup(func() { srv.Close() })
	flooder, honest := listen(t), listen(t)
	fTok, hTok := wire.Token{1}, wire.Token{2}
	var floodGot atomic.Int64
	fb, err := srv.Bind(addrOf(flooder), fTok, wire.Token{3}, func(*Binding, wire.DatagramHeader, []byte) { floodGot.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan uint32, 1024)
	hb, err := srv.Bind(addrOf(honest), hTok, wire.Token{4}, func(_ *Binding, h wire.DatagramHeader, _ []byte) { got <- h.Seq })
	if err != nil {
		t.Fatal(err)
	}

	// The flood: as fast as the loop goes, bounded in count and time, and
	// until the server has dropped a good share of it.
	floodDone := make(chan struct{})
	sent := 0
	go func() {
		defer close(floodDone)
		deadline := time.Now().Add(5 * time.Second)
		buf := make([]byte, 0, 64)
		for seq := uint32(1); seq <= 500_000; seq++ {
			if seq%1024 == 0 && (time.Now().After(deadline) || fb.RateLimited.Load() >= 20_000) {
				break
			}
			buf = wire.AppendDatagram(buf[:0], wire.DatagramHeader{Token: fTok, Seq: seq}, &wire.Ping{Nonce: uint64(seq)})
			if _, err := flooder.WriteTo(buf, srv.LocalAddr()); err == nil {
				sent++
			}
		}
	}()

	// The honest peer sends one datagram at a time while the flood lasts
	// (and at least want of them), well under its limit, and waits for
	// each; one the kernel
	// dropped (a full receive buffer) is sent again with a new SEQ.
	const want = 30
	delivered, attempts := 0, 0
	seq := uint32(0)
	flooding := true
	for (flooding || delivered < want) && attempts < 100_000 {
		select {
		case <-floodDone:
			flooding = false
		default:
		}
		attempts++
		seq++
		d := wire.AppendDatagram(nil, wire.DatagramHeader{Token: hTok, Seq: seq}, &wire.Ping{Nonce: 2})
		if _, err := honest.WriteTo(d, srv.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		select {
		case s := <-got:
			if s != seq {
				t.Fatalf("honest SEQ %d delivered, want %d", s, seq)
			}
			delivered++
		case <-time.After(time.Second):
		}
		time.Sleep(2 * time.Millisecond) // at most 500 a second, half its limit
	}
	<-floodDone
	t.Logf("flood: %d sent, %d delivered, %d rate-limited, %d global-limited; honest: %d of %d delivered",
		sent, floodGot.Load(), fb.RateLimited.Load(), fb.GlobalLimited.Load(), delivered, attempts)
	if delivered < want {
		t.Errorf("the honest peer got %d of %d datagrams through", delivered, attempts)
	}
	// Kernel drops aside, every honest datagram got through.
	if n := hb.PacketsIn.Load(); n != int64(delivered) {
		t.Errorf("honest binding counted %d datagrams in, %d delivered", n, delivered)
	}
	if hb.RateLimited.Load() != 0 || hb.GlobalLimited.Load() != 0 {
		t.Errorf("the honest peer was limited: %d by its own limit, %d by the global one", hb.RateLimited.Load(), hb.GlobalLimited.Load())
	}
	if fb.RateLimited.Load() == 0 || srv.Stats.RateLimited.Load() != fb.RateLimited.Load() {
		t.Errorf("flood not limited: binding %d, socket %d", fb.RateLimited.Load(), srv.Stats.RateLimited.Load())
	}
	if fb.GlobalLimited.Load() != 0 {
		t.Errorf("the flood reached the global limit %d times: its own limit should cut it first", fb.GlobalLimited.Load())
	}
}
