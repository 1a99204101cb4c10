package linkemu

// Tests on real loopback sockets. They check behaviour only (what arrives,
// in which order, what the counters say), never wall-clock durations; read
// deadlines are there only to turn a hang into a failure.

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

// hangGuard bounds every blocking read of the real-socket tests.
const hangGuard = 20 * time.Second

// listenUDP opens a UDP socket on a free loopback port.
func listenUDP(t *testing.T) net.PacketConn {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

// survivors returns which of the first n packets a link with p lets through
// when it never fills its queue: loss decisions depend only on the seed and
// the packet's position.
func survivors(p Profile, n int) map[int]bool {
	rng := newRand(p.Seed)
	s := make(map[int]bool)
	for i := range n {
		if lost, _ := draw(rng, p); !lost {
			s[i] = true
		}
	}
	return s
}

func TestRealUDP(t *testing.T) {
	// The links release a burst at once; keep it well inside the default
	// socket receive buffer (about 200 kB of kernel accounting, roughly 1 kB
	// per small datagram) so that the kernel drops nothing.
	const n, size = 100, 200
	pA := Profile{Delay: 2 * time.Millisecond, Jitter: time.Millisecond, Loss: 0.1, Seed: 11}
	pB := Profile{Delay: time.Millisecond, Loss: 0.2, RateBps: 8_000_000, Seed: 12}
	pa := NewPacketConn(listenUDP(t), func(net.Addr) Profile { return pA })
	pb := WrapPacketConn(listenUDP(t), pB)
	defer pa.Close()
	defer pb.Close()

	var wg sync.WaitGroup
	for _, dir := range []struct {
		from, to *PacketConn
		p        Profile
	}{
		{pa, pb, pA},
		{pb, pa, pB},
	} {
		want := survivors(dir.p, n)
		wg.Go(func() {
			got := make(map[int]bool)
			buf := make([]byte, 2048)
			dir.to.SetReadDeadline(time.Now().Add(hangGuard))
			for len(got) < len(want) {
				m, from, err := dir.to.ReadFrom(buf)
				if err != nil {
					t.Errorf("ReadFrom after %d of %d packets: %v", len(got), len(want), err)
					return
				}
				i := packetIndex(buf)
				if from.String() != dir.from.LocalAddr().String() || !bytes.Equal(buf[:m], mkPacket(i, size)) {
					t.Errorf("bad packet from %v", from)
					return
				}
				got[i] = true
			}
			for i := range got {
				if !want[i] {
					t.Errorf("packet %d arrived but its seed says lost", i)
				}
			}
		})
		for i := range n {
			if m, err := dir.from.WriteTo(mkPacket(i, size), dir.to.LocalAddr()); m != size || err != nil {
				t.Errorf("WriteTo = %d, %v", m, err)
				break
			}
		}
	}
	wg.Wait()
	for _, pc := range []*PacketConn{pa, pb} {
		st := pc.Stats()
		if st.Sent.Packets != n || st.DroppedQueue.Packets != 0 || st.WriteFailed.Packets != 0 {
			t.Errorf("stats %+v", st)
		}
	}
}

// echoServer accepts one connection on ln, echoes it until EOF and closes it.
func echoServer(t *testing.T, ln net.Listener) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			t.Errorf("Accept: %v", err)
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	return done
}

func TestRealTCP(t *testing.T) {
	ln, err := Listen("tcp", "127.0.0.1:0", func(remote net.Addr) Profile {
		return Profile{Delay: time.Millisecond, Jitter: 500 * time.Microsecond, Loss: 0.05, Seed: 21}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := echoServer(t, ln)

	c, err := Dial("tcp", ln.Addr().String(), Profile{Delay: time.Millisecond, Loss: 0.05, RateBps: 200_000_000, Seed: 22},
		WithWindow(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := randomBytes(128<<10, 9)
	go func() {
		if _, err := c.Write(data); err != nil {
			t.Errorf("Write: %v", err)
		}
	}()
	c.SetReadDeadline(time.Now().Add(hangGuard))
	got := make([]byte, len(data))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("ReadFull: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("echoed data differs")
	}
	st := c.(*Conn).Stats()
	if st.Delivered.Bytes != uint64(len(data)) || st.Retransmitted.Packets == 0 {
		t.Errorf("client stats %+v, want all bytes delivered and some retransmitted", st)
	}
	c.Close()
	<-served
}

func TestDialListenErrors(t *testing.T) {
	tests := []struct {
		name string
		err  func() error
		want error
	}{
		{"dial udp", func() error { _, err := Dial("udp", "127.0.0.1:1", Profile{}); return err }, ErrBadNetwork},
		{"dial bad profile", func() error { _, err := Dial("tcp", "127.0.0.1:1", Profile{Delay: -1}); return err }, ErrBadProfile},
		{"dial bad option", func() error {
			_, err := Dial("tcp", "127.0.0.1:1", Profile{}, WithWindow(-1))
			return err
		}, ErrBadArgument},
		{"listen udp", func() error {
			_, err := Listen("udp", "127.0.0.1:0", func(net.Addr) Profile { return Profile{} })
			return err
		}, ErrBadNetwork},
		{"listen nil profileFor", func() error { _, err := Listen("tcp", "127.0.0.1:0", nil); return err }, ErrBadArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.err(); !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestAcceptBadProfile(t *testing.T) {
	ln, err := Listen("tcp", "127.0.0.1:0", func(net.Addr) Profile { return Profile{Loss: 3} })
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := ln.Accept(); !errors.Is(err, ErrBadProfile) {
		t.Errorf("Accept error %v, want ErrBadProfile", err)
	}
	c.SetReadDeadline(time.Now().Add(hangGuard))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("the rejected connection was not closed")
	}
}

func TestRealNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()

	sink := listenUDP(t)
	defer sink.Close()
	pc := NewPacketConn(listenUDP(t), func(net.Addr) Profile { return Profile{Delay: time.Hour} })
	for port := 1; port <= 5; port++ { // five destinations, five links
		pc.WriteTo([]byte("x"), udpAddr(port))
	}
	ln, err := Listen("tcp", "127.0.0.1:0", func(net.Addr) Profile { return Profile{Delay: time.Hour} })
	if err != nil {
		t.Fatal(err)
	}
	served := echoServer(t, ln)
	c, err := Dial("tcp", ln.Addr().String(), Profile{})
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("hello"))
	for _, cl := range []io.Closer{pc, pc, c, c, ln} {
		if err := cl.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	}
	<-served

	// Close waits for the links' goroutines, but the runtime may take a
	// moment to retire the ones of the net package and of this test.
	deadline := time.Now().Add(hangGuard)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
