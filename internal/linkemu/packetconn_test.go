package linkemu

import (
	"errors"
	"net"
	"os"
	"testing"
	"testing/synctest"
	"time"
)

func TestPacketConnPerDestination(t *testing.T) {
	ms := time.Millisecond
	a, b, c := udpAddr(1001), udpAddr(1002), udpAddr(1003)
	profiles := map[string]Profile{
		a.String(): {Delay: 10 * ms},
		b.String(): {Delay: 50 * ms, RateBps: 8_000_000}, // 1 ms per 1000 bytes
		c.String(): {Delay: ms, Loss: 1},
	}
	tests := []struct {
		dst  *net.UDPAddr
		n    int
		want []time.Duration // arrival offsets
	}{
		{a, 3, []time.Duration{10 * ms, 10 * ms, 10 * ms}},
		{b, 3, []time.Duration{51 * ms, 52 * ms, 53 * ms}},
		{c, 3, nil},
	}
	synctest.Test(t, func(t *testing.T) {
		fake := newFakePacketConn(udpAddr(1000))
		pc := NewPacketConn(fake, func(dst net.Addr) Profile { return profiles[dst.String()] })
		start := time.Now()
		// Interleave the destinations: a slow link to b must not hold back a.
		for i := range 3 {
			for _, tc := range tests {
				if n, err := pc.WriteTo(mkPacket(i, 1000), tc.dst); n != 1000 || err != nil {
					t.Fatalf("WriteTo(%v) = %d, %v", tc.dst, n, err)
				}
			}
		}
		time.Sleep(time.Second)
		byDst := make(map[string][]time.Duration)
		for _, got := range fake.arrivals() {
			byDst[got.dst] = append(byDst[got.dst], got.at.Sub(start))
		}
		for _, tc := range tests {
			got := byDst[tc.dst.String()]
			if len(got) != len(tc.want) {
				t.Errorf("%v: %d arrivals %v, want %v", tc.dst, len(got), got, tc.want)
				continue
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("%v: arrivals %v, want %v", tc.dst, got, tc.want)
					break
				}
			}
			st := pc.StatsFor(tc.dst)
			if st.Sent.Packets != uint64(tc.n) || st.Delivered.Packets != uint64(len(tc.want)) {
				t.Errorf("%v: stats %+v", tc.dst, st)
			}
		}
		if st := pc.Stats(); st.Sent.Packets != 9 || st.Delivered.Packets != 6 || st.DroppedLoss.Packets != 3 {
			t.Errorf("aggregate stats %+v, want 9 sent, 6 delivered, 3 lost", st)
		}
		if st := pc.StatsFor(udpAddr(9)); st != (Stats{}) {
			t.Errorf("StatsFor(unknown) = %+v, want zero", st)
		}
		pc.Close()
	})
}

func TestWrapPacketConnShared(t *testing.T) {
	ms := time.Millisecond
	synctest.Test(t, func(t *testing.T) {
		fake := newFakePacketConn(udpAddr(1000))
		pc := WrapPacketConn(fake, Profile{Delay: 5 * ms, RateBps: 8_000_000})
		defer pc.Close()
		start := time.Now()
		dsts := []*net.UDPAddr{udpAddr(1001), udpAddr(1002)}
		for i := range 4 {
			pc.WriteTo(mkPacket(i, 1000), dsts[i%2])
		}
		time.Sleep(time.Second)
		got := fake.arrivals()
		if len(got) != 4 {
			t.Fatalf("got %d arrivals, want 4", len(got))
		}
		// All destinations share the uplink: packets serialize one after
		// another whatever their destination.
		for i, a := range got {
			want := time.Duration(i+1)*ms + 5*ms
			if a.at.Sub(start) != want || a.dst != dsts[i%2].String() || a.index() != i {
				t.Errorf("arrival %d: packet %d to %s at %v, want packet %d to %s at %v",
					i, a.index(), a.dst, a.at.Sub(start), i, dsts[i%2], want)
			}
		}
		if st := pc.StatsFor(dsts[0]); st.Delivered.Packets != 4 {
			t.Errorf("StatsFor on a shared link = %+v, want all 4 packets", st)
		}
	})
}

func TestPacketConnWriteToDoesNotBlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newFakePacketConn(udpAddr(1000))
		// 1000 bytes take 8 s on this link; the queue holds 1000 of them.
		pc := WrapPacketConn(fake, Profile{RateBps: 1000, QueueBytes: 1_000_000})
		start := time.Now()
		buf := make([]byte, 1000)
		for i := range 2000 {
			n, err := pc.WriteTo(buf, udpAddr(1001))
			if n != len(buf) || err != nil {
				t.Fatalf("WriteTo %d = %d, %v", i, n, err)
			}
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("WriteTo took %v of virtual time", d)
		}
		st := pc.Stats()
		if st.InFlight.Packets != 1000 || st.DroppedQueue.Packets != 1000 {
			t.Errorf("stats %+v, want 1000 in flight and 1000 dropped", st)
		}
		pc.Close()
		if st := pc.Stats(); st.Discarded.Packets != 1000 || st.InFlight.Packets != 0 {
			t.Errorf("stats after Close %+v, want 1000 discarded", st)
		}
	})
}

func TestPacketConnAddressCopied(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, pc := range []*PacketConn{
			WrapPacketConn(newFakePacketConn(udpAddr(1000)), Profile{Delay: time.Millisecond}),
			NewPacketConn(newFakePacketConn(udpAddr(1000)), func(net.Addr) Profile { return Profile{Delay: time.Millisecond} }),
		} {
			dst := udpAddr(1001)
			pc.WriteTo(mkPacket(0, 10), dst)
			dst.IP[len(dst.IP)-1] = 2 // the caller reuses its address
			dst.Port = 9
			time.Sleep(2 * time.Millisecond)
			got := pc.pc.(*fakePacketConn).arrivals()
			if len(got) != 1 || got[0].dst != "127.0.0.1:1001" {
				t.Errorf("delivered %v, want one packet to 127.0.0.1:1001", got)
			}
			pc.Close()
		}
	})
}

func TestPacketConnErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newFakePacketConn(udpAddr(1000))
		pc := NewPacketConn(fake, func(dst net.Addr) Profile {
			if dst.String() == "127.0.0.1:666" {
				return Profile{Loss: 2}
			}
			return Profile{}
		})
		tests := []struct {
			name string
			dst  net.Addr
			want error
		}{
			{"bad profile", udpAddr(666), ErrBadProfile},
			{"nil address", nil, ErrBadArgument},
		}
		for _, tc := range tests {
			if _, err := pc.WriteTo([]byte("x"), tc.dst); !errors.Is(err, tc.want) {
				t.Errorf("%s: WriteTo error %v, want %v", tc.name, err, tc.want)
			}
		}

		pc.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := pc.WriteTo([]byte("x"), udpAddr(1)); err != nil {
			t.Errorf("WriteTo before the deadline: %v", err)
		}
		time.Sleep(time.Second)
		_, err := pc.WriteTo([]byte("x"), udpAddr(1))
		var ne net.Error
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("WriteTo after the deadline: %v, want a timeout", err)
		}
		pc.SetDeadline(time.Time{})

		for range 3 {
			if err := pc.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
		_, err = pc.WriteTo([]byte("x"), udpAddr(1))
		if !errors.Is(err, ErrClosed) || !errors.Is(err, net.ErrClosed) {
			t.Errorf("WriteTo after Close: %v, want ErrClosed", err)
		}
		if _, _, err := pc.ReadFrom(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
			t.Errorf("ReadFrom after Close: %v, want net.ErrClosed from the socket", err)
		}
	})
}

func TestNewPacketConnNilProfile(t *testing.T) {
	defer func() {
		if err, _ := recover().(error); !errors.Is(err, ErrBadArgument) {
			t.Errorf("panic value %v, want ErrBadArgument", err)
		}
	}()
	NewPacketConn(newFakePacketConn(udpAddr(1)), nil)
}

func TestWrapPacketConnBadProfile(t *testing.T) {
	defer func() {
		if err, _ := recover().(error); !errors.Is(err, ErrBadProfile) {
			t.Errorf("panic value %v, want ErrBadProfile", err)
		}
	}()
	WrapPacketConn(newFakePacketConn(udpAddr(1)), Profile{Delay: -1})
}
