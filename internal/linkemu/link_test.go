package linkemu

import (
	"errors"
	"fmt"
	"math"
	"net"
	"testing"
	"testing/synctest"
	"time"
)

// checkInvariant fails t unless every offered packet is accounted for once.
func checkInvariant(t *testing.T, s Stats) {
	t.Helper()
	sum := s.Delivered.plus(s.DroppedLoss).plus(s.DroppedQueue).plus(s.WriteFailed).plus(s.Discarded).plus(s.InFlight)
	if sum != s.Sent {
		t.Errorf("stats do not add up: Sent %+v, sum of fates %+v (%+v)", s.Sent, sum, s)
	}
}

// runLink offers one packet of size bytes per entry of sends (offsets from
// the start of the bubble), waits until everything has been delivered, and
// returns the arrivals and the final stats. It must run inside a bubble.
func runLink(t *testing.T, p Profile, size int, sends []time.Duration) (time.Time, []arrival, Stats) {
	t.Helper()
	var s sink
	l, err := NewLink(p, s.deliver)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i, off := range sends {
		sleepUntil(start.Add(off))
		if err := l.Send(mkPacket(i, size), nil); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	// Everything is delivered once the scheduler is idle with nothing
	// queued; time.Sleep only returns when the bubble is otherwise blocked.
	for l.Stats().InFlight.Packets > 0 {
		time.Sleep(time.Millisecond)
	}
	st := l.Stats()
	l.Close()
	checkInvariant(t, st)
	return start, s.arrivals(), st
}

func TestDelayExact(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name  string
		p     Profile
		sends []time.Duration
		want  []time.Duration // arrival offsets, in arrival order
	}{
		{"no delay", Profile{}, []time.Duration{0, 5 * ms}, []time.Duration{0, 5 * ms}},
		{"1ms", Profile{Delay: ms}, []time.Duration{0, 0, 3 * ms}, []time.Duration{ms, ms, 4 * ms}},
		{"odd delay", Profile{Delay: 1234567 * time.Nanosecond}, []time.Duration{7 * ms},
			[]time.Duration{7*ms + 1234567*time.Nanosecond}},
		{"long delay, overlapping", Profile{Delay: 2 * time.Second}, []time.Duration{0, 500 * ms, 900 * ms},
			[]time.Duration{2000 * ms, 2500 * ms, 2900 * ms}},
		// 1000 bytes at 8 Mbit/s take 1 ms on the wire: an idle link starts a
		// packet at once, a busy one after the previous packet.
		{"rate, idle between", Profile{Delay: 10 * ms, RateBps: 8_000_000}, []time.Duration{0, 5 * ms},
			[]time.Duration{11 * ms, 16 * ms}},
		{"rate, busy", Profile{Delay: 10 * ms, RateBps: 8_000_000}, []time.Duration{0, 500 * time.Microsecond, 5 * ms},
			[]time.Duration{11 * ms, 12 * ms, 16 * ms}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start, got, st := runLink(t, tc.p, 1000, tc.sends)
				if len(got) != len(tc.want) {
					t.Fatalf("got %d arrivals, want %d", len(got), len(tc.want))
				}
				for i, a := range got {
					if d := a.at.Sub(start); d != tc.want[i] || a.index() != i {
						t.Errorf("arrival %d: packet %d at %v, want packet %d at %v", i, a.index(), d, i, tc.want[i])
					}
				}
				if st.Delivered.Packets != uint64(len(tc.sends)) {
					t.Errorf("Delivered = %+v, want %d packets", st.Delivered, len(tc.sends))
				}
			})
		})
	}
}

func TestRateSerializes(t *testing.T) {
	tests := []struct {
		name  string
		size  int
		rate  int64
		n     int
		delay time.Duration
	}{
		{"1ms per packet", 1250, 10_000_000, 50, 20 * time.Millisecond},
		{"full frames at 100Mbit/s", 1500, 100_000_000, 80, 0},
		{"non-integral ns per packet", 1000, 3_000_000, 40, 7 * time.Millisecond},
		{"slow link", 100, 8_000, 5, time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := Profile{Delay: tc.delay, RateBps: tc.rate, QueueBytes: tc.n * tc.size}
				start, got, _ := runLink(t, p, tc.size, make([]time.Duration, tc.n))
				if len(got) != tc.n {
					t.Fatalf("got %d arrivals, want %d", len(got), tc.n)
				}
				for i, a := range got {
					k := int64(i + 1)
					// k×S×8/R, rounded up to the nanosecond.
					tx := time.Duration((k*int64(tc.size)*8*int64(time.Second) + tc.rate - 1) / tc.rate)
					if want := start.Add(tx + tc.delay); !a.at.Equal(want) || a.index() != i {
						t.Fatalf("arrival %d: packet %d at %v, want packet %d at %v",
							i, a.index(), a.at.Sub(start), i, want.Sub(start))
					}
				}
			})
		})
	}
}

func TestLossRate(t *testing.T) {
	const n = 10_000
	tests := []struct {
		loss float64
		seed int64
	}{
		{0, 1}, {0.01, 1}, {0.1, 2}, {0.3, 3}, {0.5, 4}, {1, 5},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("loss=%v", tc.loss), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := Profile{Delay: time.Millisecond, Loss: tc.loss, Seed: tc.seed}
				_, got, st := runLink(t, p, 100, make([]time.Duration, n))
				lost := n - len(got)
				if st.DroppedLoss.Packets != uint64(lost) || st.Delivered.Packets != uint64(len(got)) {
					t.Errorf("stats %+v disagree with %d arrivals", st, len(got))
				}
				// Five standard deviations of the binomial distribution.
				mean := n * tc.loss
				bound := 5 * math.Sqrt(n*tc.loss*(1-tc.loss))
				if math.Abs(float64(lost)-mean) > bound {
					t.Errorf("loss %v: lost %d of %d, want %.0f ± %.0f", tc.loss, lost, n, mean, bound)
				}
				t.Logf("loss %v: lost %d of %d (expected %.0f ± %.0f)", tc.loss, lost, n, mean, bound)
			})
		})
	}
}

// lostSet returns the indices of the packets lost on a link with p when
// n packets are offered at once.
func lostSet(t *testing.T, p Profile, n int) map[int]bool {
	lost := make(map[int]bool)
	synctest.Test(t, func(t *testing.T) {
		_, got, _ := runLink(t, p, 8, make([]time.Duration, n))
		for i := range n {
			lost[i] = true
		}
		for _, a := range got {
			delete(lost, a.index())
		}
	})
	return lost
}

func TestLossDeterministic(t *testing.T) {
	p := Profile{Loss: 0.2, Seed: 42}
	a, b := lostSet(t, p, 1000), lostSet(t, p, 1000)
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("same seed lost %d and %d packets", len(a), len(b))
	}
	for i := range a {
		if !b[i] {
			t.Fatalf("same seed: packet %d lost in one run only", i)
		}
	}
	p.Seed = 43
	c := lostSet(t, p, 1000)
	same := 0
	for i := range a {
		if c[i] {
			same++
		}
	}
	if same == len(a) && len(c) == len(a) {
		t.Errorf("seeds 42 and 43 lost the same packets")
	}
}

func TestQueueTailDrop(t *testing.T) {
	ms := time.Millisecond
	// 1000-byte packets at 8 Mbit/s: 1 ms each on the wire.
	tests := []struct {
		name      string
		queue     int
		sends     []time.Duration
		delivered []int // packet indices, in arrival order
	}{
		{"burst beyond queue", 10_000, make([]time.Duration, 20), seq(0, 10)},
		{"refill after draining", 10_000,
			append(make([]time.Duration, 10), 2500*time.Microsecond, 2500*time.Microsecond,
				2500*time.Microsecond, 2500*time.Microsecond),
			seq(0, 12)}, // at 2.5 ms two packets have left: room for two more
		{"default queue", 0, make([]time.Duration, 150), seq(0, 100)}, // 100 ms at 8 Mbit/s
		{"packet larger than queue", 500, []time.Duration{0, ms}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := Profile{Delay: 5 * ms, RateBps: 8_000_000, QueueBytes: tc.queue}
				start, got, st := runLink(t, p, 1000, tc.sends)
				if len(got) != len(tc.delivered) {
					t.Fatalf("delivered %d packets, want %d", len(got), len(tc.delivered))
				}
				for i, a := range got {
					// Accepted packets keep the wire busy back to back.
					want := start.Add(time.Duration(i+1)*ms + 5*ms)
					if a.index() != tc.delivered[i] || !a.at.Equal(want) {
						t.Errorf("arrival %d: packet %d at %v, want packet %d at %v",
							i, a.index(), a.at.Sub(start), tc.delivered[i], want.Sub(start))
					}
				}
				drops := len(tc.sends) - len(tc.delivered)
				if st.DroppedQueue.Packets != uint64(drops) || st.DroppedQueue.Bytes != uint64(drops*1000) {
					t.Errorf("DroppedQueue = %+v, want %d packets", st.DroppedQueue, drops)
				}
			})
		})
	}
}

// seq returns lo, lo+1, ..., hi-1.
func seq(lo, hi int) []int {
	s := make([]int, 0, hi-lo)
	for i := lo; i < hi; i++ {
		s = append(s, i)
	}
	return s
}

func TestJitterBounds(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name    string
		p       Profile
		gap     time.Duration // between sends
		reorder bool          // whether reordering must be observed
	}{
		{"jitter below gap", Profile{Delay: 10 * ms, Jitter: ms, Seed: 7}, 2 * ms, false},
		{"jitter above gap", Profile{Delay: 10 * ms, Jitter: 4 * ms, Seed: 8}, ms, true},
		{"jitter with rate", Profile{Delay: 3 * ms, Jitter: 2 * ms, RateBps: 80_000_000, QueueBytes: 2 << 20, Seed: 9}, 0, true},
		{"no jitter", Profile{Delay: 10 * ms}, 0, false},
	}
	const n = 2000
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sends := make([]time.Duration, n)
				for i := range sends {
					sends[i] = time.Duration(i) * tc.gap
				}
				const size = 1000
				var tx time.Duration
				if tc.p.RateBps > 0 {
					tx = txTime(size, tc.p.RateBps)
				}
				start, got, _ := runLink(t, tc.p, size, sends)
				if len(got) != n {
					t.Fatalf("got %d arrivals, want %d", len(got), n)
				}
				lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
				reordered := 0
				var latest time.Time // latest departure among the packets arrived so far
				for _, a := range got {
					k := a.index()
					// With back-to-back sends at a rate, packet k leaves the
					// wire (k+1)×tx after the start.
					dep := start.Add(sends[k] + time.Duration(k+1)*tx)
					extra := a.at.Sub(dep) - tc.p.Delay
					if extra < 0 || extra >= max(tc.p.Jitter, 1) {
						t.Fatalf("packet %d: jitter %v outside [0, %v)", k, extra, tc.p.Jitter)
					}
					lo, hi = min(lo, extra), max(hi, extra)
					if latest.After(dep) {
						// Packet k was overtaken; only by packets that left
						// the wire less than Jitter after it.
						reordered++
						if gap := latest.Sub(dep); gap >= tc.p.Jitter {
							t.Errorf("packet %d overtaken by a packet that left %v after it (jitter %v)", k, gap, tc.p.Jitter)
						}
					} else {
						latest = dep
					}
				}
				if tc.p.Jitter > 0 && (lo > tc.p.Jitter/10 || hi < tc.p.Jitter*9/10) {
					t.Errorf("jitter range [%v, %v] does not cover [0, %v)", lo, hi, tc.p.Jitter)
				}
				if tc.reorder != (reordered > 0) {
					t.Errorf("%d reordered arrivals, want reordering %v", reordered, tc.reorder)
				}
			})
		})
	}
}

func TestLinkClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var s sink
		l, err := NewLink(Profile{Delay: time.Second}, s.deliver)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			if err := l.Send(mkPacket(i, 100), nil); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(10 * time.Millisecond)
		for range 3 {
			if err := l.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
		}
		err = l.Send(mkPacket(9, 100), nil)
		if !errors.Is(err, ErrClosed) || !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Send after Close = %v, want ErrClosed and net.ErrClosed", err)
		}
		time.Sleep(2 * time.Second)
		if got := s.arrivals(); len(got) != 0 {
			t.Fatalf("%d packets delivered after Close", len(got))
		}
		st := l.Stats()
		if st.Discarded != (Count{5, 500}) || st.InFlight != (Count{}) {
			t.Errorf("stats after Close = %+v, want 5 packets discarded", st)
		}
		checkInvariant(t, st)
		// synctest.Test fails if the scheduler goroutine is still alive.
	})
}

func TestLinkCopiesPayload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var s sink
		l, _ := NewLink(Profile{Delay: time.Millisecond}, s.deliver)
		defer l.Close()
		buf := mkPacket(1, 10)
		l.Send(buf, nil)
		buf[0] = 0xff // the caller reuses its buffer
		time.Sleep(2 * time.Millisecond)
		if got := s.arrivals(); len(got) != 1 || got[0].index() != 1 {
			t.Fatalf("delivered %v, want the original payload", got)
		}
	})
}

func TestLinkWriteFailed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fail := func([]byte, net.Addr) error { return errors.New("boom") }
		l, _ := NewLink(Profile{}, fail)
		for i := range 3 {
			l.Send(mkPacket(i, 10), nil)
		}
		time.Sleep(time.Millisecond)
		st := l.Stats()
		l.Close()
		if st.WriteFailed != (Count{3, 30}) {
			t.Errorf("WriteFailed = %+v, want 3 packets", st.WriteFailed)
		}
		checkInvariant(t, st)
	})
}

func TestQueueHeapOrder(t *testing.T) {
	base := time.Unix(0, 0)
	var q timeQueue
	// Times in a scrambled order, with ties broken by seq.
	offs := []int{5, 3, 9, 3, 0, 7, 5, 1, 8, 2, 6, 4, 9, 0}
	for i, o := range offs {
		q.push(item{at: base.Add(time.Duration(o)), seq: uint64(i)})
	}
	prev := item{at: base.Add(-1)}
	for len(q) > 0 {
		it := q.pop()
		if before(&it, &prev) {
			t.Fatalf("popped (%v, %d) after (%v, %d)", it.at.Sub(base), it.seq, prev.at.Sub(base), prev.seq)
		}
		prev = it
	}
}
