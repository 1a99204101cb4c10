package linkemu

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"testing"
	"testing/synctest"
	"time"
)

// segDur is the time a DefaultSegmentSize segment takes at segRate.
const (
	segRate = DefaultSegmentSize * 8 * 1000 // bits per second
	segDur  = time.Millisecond
	seg     = DefaultSegmentSize
)

// reader drains a connection on its own goroutine and records every Read.
type reader struct {
	done chan struct{}
	got  []arrival
	err  error
}

// startReader starts reading c until it fails.
func startReader(c net.Conn) *reader {
	r := &reader{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				r.got = append(r.got, arrival{at: time.Now(), data: append([]byte(nil), buf[:n]...)})
			}
			if err != nil {
				r.err = err
				return
			}
		}
	}()
	return r
}

// bytes returns everything read, after the reader has finished.
func (r *reader) bytes() []byte {
	<-r.done
	var b []byte
	for _, a := range r.got {
		b = append(b, a.data...)
	}
	return b
}

// pipe returns a stream link over net.Pipe and a reader of its far end.
// The far end is closed by t.Cleanup.
func pipe(t *testing.T, p Profile, opts ...StreamOption) (*Conn, *reader) {
	a, b := net.Pipe()
	c := WrapConn(a, p, opts...).(*Conn)
	r := startReader(b)
	t.Cleanup(func() { c.Close(); b.Close(); <-r.done })
	return c, r
}

// randomBytes returns n deterministic pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 0))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestConnTiming(t *testing.T) {
	ms := time.Millisecond
	type read struct {
		at time.Duration
		n  int
	}
	tests := []struct {
		name   string
		p      Profile
		opts   []StreamOption
		writes []int // bytes per Write, all at time 0
		later  int   // bytes written at 100 ms
		want   []read
	}{
		{"delay only", Profile{Delay: 10 * ms}, nil, []int{3 * seg}, 0,
			[]read{{10 * ms, seg}, {10 * ms, seg}, {10 * ms, seg}}},
		{"rate and delay", Profile{Delay: 10 * ms, RateBps: segRate}, nil, []int{3 * seg}, seg,
			[]read{{11 * ms, seg}, {12 * ms, seg}, {13 * ms, seg}, {111 * ms, seg}}},
		{"segment size", Profile{Delay: 5 * ms, RateBps: 8_000_000}, []StreamOption{WithSegmentSize(500)}, []int{1200}, 0,
			[]read{{5*ms + 500*time.Microsecond, 500}, {6 * ms, 500}, {6*ms + 200*time.Microsecond, 200}}},
		{"writes share the wire", Profile{RateBps: segRate}, nil, []int{seg, 100, seg}, 0,
			[]read{{ms, seg}, {ms + 69061, 100}, {2*ms + 69061, seg}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, r := pipe(t, tc.p, tc.opts...)
				start := time.Now()
				for _, n := range tc.writes {
					if m, err := c.Write(make([]byte, n)); m != n || err != nil {
						t.Fatalf("Write(%d) = %d, %v", n, m, err)
					}
				}
				if tc.later > 0 {
					time.Sleep(100 * ms)
					c.Write(make([]byte, tc.later))
				}
				time.Sleep(time.Second)
				c.Close()
				<-r.done
				if len(r.got) != len(tc.want) {
					t.Fatalf("%d reads, want %d", len(r.got), len(tc.want))
				}
				for i, a := range r.got {
					if got := (read{a.at.Sub(start), len(a.data)}); got != tc.want[i] {
						t.Errorf("read %d = %+v, want %+v", i, got, tc.want[i])
					}
				}
			})
		})
	}
}

// seedFor returns a seed under which the first segments of a link with p
// are lost exactly as pattern says.
func seedFor(t *testing.T, p Profile, pattern []bool) int64 {
	for seed := range int64(10_000) {
		rng := newRand(seed)
		ok := true
		for _, want := range pattern {
			if lost, _ := draw(rng, p); lost != want {
				ok = false
				break
			}
		}
		if ok {
			return seed
		}
	}
	t.Fatalf("no seed yields loss pattern %v", pattern)
	return 0
}

func TestConnHeadOfLineBlocking(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		delay   time.Duration
		pattern []bool          // which of the three segments are lost
		want    []time.Duration // arrival of each segment
	}{
		{10 * ms, []bool{false, false, false}, []time.Duration{10 * ms, 10 * ms, 10 * ms}},
		{10 * ms, []bool{true, false, false}, []time.Duration{210 * ms, 210 * ms, 210 * ms}},
		{10 * ms, []bool{false, true, false}, []time.Duration{10 * ms, 210 * ms, 210 * ms}},
		{100 * ms, []bool{false, false, true}, []time.Duration{100 * ms, 100 * ms, 400 * ms}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%v/%v", tc.delay, tc.pattern), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := Profile{Delay: tc.delay, Loss: 0.5}
				p.Seed = seedFor(t, p, tc.pattern)
				c, r := pipe(t, p)
				start := time.Now()
				c.Write(randomBytes(3*seg, 1))
				time.Sleep(time.Second)
				c.Close()
				<-r.done
				var at []time.Duration
				for _, a := range r.got {
					for range len(a.data) / seg {
						at = append(at, a.at.Sub(start))
					}
				}
				if fmt.Sprint(at) != fmt.Sprint(tc.want) {
					t.Errorf("segments arrived at %v, want %v", at, tc.want)
				}
				lost := 0
				for _, l := range tc.pattern {
					if l {
						lost++
					}
				}
				if st := c.Stats(); st.Retransmitted.Packets != uint64(lost) || st.Delivered.Packets != 3 {
					t.Errorf("stats %+v, want %d retransmitted, 3 delivered", st, lost)
				}
			})
		})
	}
}

func TestConnInOrderWithLoss(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		p    Profile
		opts []StreamOption
	}{
		{"no loss", Profile{Delay: 5 * ms}, nil},
		{"loss and jitter", Profile{Delay: 5 * ms, Jitter: 3 * ms, Loss: 0.1, RateBps: 50_000_000, Seed: 1}, nil},
		{"heavy loss, small window", Profile{Delay: 20 * ms, Jitter: 10 * ms, Loss: 0.5, RateBps: 10_000_000, Seed: 2},
			[]StreamOption{WithWindow(16 << 10)}},
		{"total loss", Profile{Delay: ms, Loss: 1, Seed: 3}, []StreamOption{WithSegmentSize(1000)}},
	}
	const total = 300 << 10
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, r := pipe(t, tc.p, tc.opts...)
				data := randomBytes(total, 7)
				rng := rand.New(rand.NewPCG(8, 0))
				for off := 0; off < len(data); {
					n := min(1+rng.IntN(10_000), len(data)-off)
					if m, err := c.Write(data[off : off+n]); m != n || err != nil {
						t.Fatalf("Write = %d, %v", m, err)
					}
					off += n
					time.Sleep(time.Duration(rng.IntN(1000)) * time.Microsecond)
				}
				if err := c.Flush(); err != nil {
					t.Fatalf("Flush: %v", err)
				}
				st := c.Stats()
				c.Close()
				if got := r.bytes(); !bytes.Equal(got, data) {
					t.Fatalf("received %d bytes that differ from the %d sent", len(got), len(data))
				}
				if r.err != io.EOF {
					t.Errorf("reader ended with %v, want EOF", r.err)
				}
				if st.Delivered.Bytes != total || st.Sent.Bytes != total {
					t.Errorf("stats %+v, want %d bytes sent and delivered", st, total)
				}
				if tc.p.Loss > 0 && st.Retransmitted.Packets == 0 {
					t.Errorf("no segment retransmitted at loss %v", tc.p.Loss)
				}
				for i := 1; i < len(r.got); i++ {
					if r.got[i].at.Before(r.got[i-1].at) {
						t.Fatalf("read %d at %v before read %d at %v", i, r.got[i].at, i-1, r.got[i-1].at)
					}
				}
			})
		})
	}
}

// backpressureProfile puts one default segment on the wire per millisecond.
var backpressureProfile = Profile{RateBps: segRate}

func TestConnBackpressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const window = 10 * seg
		c, r := pipe(t, backpressureProfile, WithWindow(window))
		stop := make(chan struct{})
		watched := make(chan struct{})
		go func() { // watch that the window is never exceeded
			defer close(watched)
			for {
				if b := c.Stats().InFlight.Bytes; b > window {
					t.Errorf("%d bytes in flight, window %d", b, window)
				}
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Microsecond):
				}
			}
		}()
		start := time.Now()
		data := randomBytes(30*seg, 3)
		if n, err := c.Write(data); n != len(data) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		// Segment k+10 gets room when segment k leaves at k ms.
		if d := time.Since(start); d != 20*segDur {
			t.Errorf("Write returned after %v, want %v", d, 20*segDur)
		}
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 30*segDur {
			t.Errorf("Flush returned after %v, want %v", d, 30*segDur)
		}
		close(stop)
		<-watched
		c.Close()
		if !bytes.Equal(r.bytes(), data) {
			t.Error("data corrupted")
		}
	})
}

func TestConnWriteDeadline(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name     string
		initial  time.Duration // deadline set before Write; 0 for none
		changeAt time.Duration // when another goroutine changes it; 0 for never
		changeTo time.Duration
		wantAt   time.Duration
	}{
		{"set before", 5500 * time.Microsecond, 0, 0, 5500 * time.Microsecond},
		{"set during", 0, 3500 * time.Microsecond, 3500 * time.Microsecond, 3500 * time.Microsecond},
		{"extended during", 2500 * time.Microsecond, 2 * ms, 6500 * time.Microsecond, 6500 * time.Microsecond},
		{"already passed", -ms, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, r := pipe(t, backpressureProfile, WithWindow(10*seg))
				start := time.Now()
				if tc.initial != 0 {
					c.SetWriteDeadline(start.Add(tc.initial))
				}
				if tc.changeAt != 0 {
					go func() {
						time.Sleep(tc.changeAt)
						c.SetWriteDeadline(start.Add(tc.changeTo))
					}()
				}
				data := randomBytes(30*seg, 4)
				n, err := c.Write(data)
				var ne net.Error
				if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
					t.Fatalf("Write error %v, want a timeout", err)
				}
				if d := time.Since(start); d != tc.wantAt {
					t.Errorf("Write timed out after %v, want %v", d, tc.wantAt)
				}
				// Ten segments fit at once, then one more per millisecond.
				wantN := 0
				if tc.wantAt >= 0 {
					wantN = (10 + int(tc.wantAt/ms)) * seg
				}
				if n != wantN {
					t.Errorf("Write wrote %d bytes, want %d", n, wantN)
				}
				// Clearing the deadline lets the rest through, in order.
				c.SetDeadline(time.Time{})
				if m, err := c.Write(data[n:]); m != len(data)-n || err != nil {
					t.Fatalf("second Write = %d, %v", m, err)
				}
				c.Flush()
				c.Close()
				if !bytes.Equal(r.bytes(), data) {
					t.Error("data corrupted")
				}
			})
		})
	}
}

func TestConnCloseDuringWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, r := pipe(t, backpressureProfile, WithWindow(10*seg))
		start := time.Now()
		go func() {
			time.Sleep(5500 * time.Microsecond)
			c.Close()
		}()
		data := randomBytes(30*seg, 5)
		n, err := c.Write(data)
		if !errors.Is(err, ErrClosed) || !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Write error %v, want ErrClosed", err)
		}
		if n != 15*seg || time.Since(start) != 5500*time.Microsecond {
			t.Errorf("Write returned %d bytes after %v, want %d after 5.5ms", n, time.Since(start), 15*seg)
		}
		// Close flushes nothing further: the reader got the five segments
		// delivered before it, then EOF.
		if got := r.bytes(); !bytes.Equal(got, data[:5*seg]) || r.err != io.EOF {
			t.Errorf("reader got %d bytes and %v, want %d bytes and EOF", len(got), r.err, 5*seg)
		}
		for range 3 {
			if err := c.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
		for _, p := range [][]byte{nil, data} {
			if _, err := c.Write(p); !errors.Is(err, ErrClosed) {
				t.Errorf("Write(%d bytes) after Close: %v, want ErrClosed", len(p), err)
			}
		}
		if err := c.Flush(); !errors.Is(err, ErrClosed) {
			t.Errorf("Flush after Close: %v, want ErrClosed", err)
		}
		st := c.Stats()
		if st.Discarded.Packets != 10 || st.Delivered.Packets != 5 {
			t.Errorf("stats %+v, want 5 delivered and 10 discarded", st)
		}
		checkInvariant(t, st)
	})
}

func TestConnCloseWhileReceiverStalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := net.Pipe()
		defer b.Close()
		c := WrapConn(a, Profile{}).(*Conn)
		c.Write(make([]byte, 3*seg))
		// Nobody reads b, so the link's goroutine blocks writing to a.
		time.Sleep(time.Second)
		if st := c.Stats(); st.InFlight.Packets != 3 {
			t.Fatalf("stats %+v, want 3 segments in flight", st)
		}
		c.Close() // must unblock it; synctest reports a deadlock otherwise
		st := c.Stats()
		if st.WriteFailed.Packets != 1 || st.Discarded.Packets != 2 {
			t.Errorf("stats %+v, want 1 failed write and 2 discarded", st)
		}
	})
}

func TestConnWriteError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := net.Pipe()
		c := WrapConn(a, Profile{Delay: time.Millisecond}).(*Conn)
		defer c.Close()
		b.Close() // the peer goes away
		c.Write(make([]byte, 2*seg))
		time.Sleep(10 * time.Millisecond)
		if _, err := c.Write(make([]byte, seg)); err == nil || errors.Is(err, ErrClosed) {
			t.Errorf("Write after the peer closed: %v, want the pipe's error", err)
		}
		if err := c.Flush(); err == nil {
			t.Error("Flush after the peer closed returned nil")
		}
		if st := c.Stats(); st.WriteFailed.Packets != 2 {
			t.Errorf("stats %+v, want 2 failed writes", st)
		}
	})
}

func TestWrapConnInvalid(t *testing.T) {
	tests := []struct {
		name string
		p    Profile
		opts []StreamOption
		want error
	}{
		{"bad profile", Profile{Loss: -1}, nil, ErrBadProfile},
		{"zero window", Profile{}, []StreamOption{WithWindow(0)}, ErrBadArgument},
		{"zero segment", Profile{}, []StreamOption{WithSegmentSize(0)}, ErrBadArgument},
		{"huge segment", Profile{}, []StreamOption{WithSegmentSize(maxSegmentSize + 1)}, ErrBadArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := net.Pipe()
			defer a.Close()
			defer b.Close()
			defer func() {
				if err, _ := recover().(error); !errors.Is(err, tc.want) {
					t.Errorf("panic value %v, want %v", err, tc.want)
				}
			}()
			WrapConn(a, tc.p, tc.opts...)
		})
	}
}
