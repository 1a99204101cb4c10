package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/lab"
	"github.com/blocktorrent/blocktorrent/internal/linkemu"
)

func link(a, b int, delay time.Duration, mbit float64) lab.Link {
	return lab.Link{A: a, B: b, Profile: linkemu.Profile{Delay: delay, RateBps: int64(mbit * 1e6)}}
}

func TestPathLimitsLine(t *testing.T) {
	// 1 MB at 100 Mbit/s is 80 ms; the delays add up along the line.
	got := PathLimits(3, lab.Line(3, linkemu.Profile{Delay: 10 * time.Millisecond, RateBps: 100e6}), []int{0}, 1e6)
	want := []time.Duration{0, 90 * time.Millisecond, 100 * time.Millisecond}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestPathLimitsPrefersFatPipe(t *testing.T) {
	// 0-1-3 is short but thin (10 Mbit/s: 800 ms for 1 MB); 0-2-3 is long
	// and fat (1 Gbit/s: 8 ms). Node 3 goes the long way; node 1 is best
	// served directly even though its link is thin.
	links := []lab.Link{
		link(0, 1, 5*time.Millisecond, 10), link(1, 3, 5*time.Millisecond, 10),
		link(0, 2, 50*time.Millisecond, 1000), link(2, 3, 50*time.Millisecond, 1000),
	}
	got := PathLimits(5, links, []int{0}, 1e6)
	want := []time.Duration{0, 805 * time.Millisecond, 58 * time.Millisecond, 108 * time.Millisecond, -1}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestPathLimitsUnlimitedAndSources(t *testing.T) {
	links := []lab.Link{link(0, 1, 7*time.Millisecond, 0), link(1, 2, 3*time.Millisecond, 0), link(2, 3, 4*time.Millisecond, 0)}
	got := PathLimits(4, links, []int{0, 3}, 4e6)
	want := []time.Duration{0, 7 * time.Millisecond, 4 * time.Millisecond, 0}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestPathLimitsBruteForce compares PathLimits with an enumeration of
// every simple path on small random graphs.
func TestPathLimitsBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		n := 2 + rng.IntN(6)
		var links []lab.Link
		for a := range n {
			for b := a + 1; b < n; b++ {
				if rng.IntN(2) == 0 {
					links = append(links, link(a, b, time.Duration(1+rng.IntN(50))*time.Millisecond, float64(1+rng.IntN(5)*20)))
				}
			}
		}
		size := 1 + rng.IntN(2e6)
		got := PathLimits(n, links, []int{0}, size)
		want := bruteLimits(n, links, size)
		for i := range n {
			if d := got[i] - want[i]; d < -time.Microsecond || d > time.Microsecond {
				t.Fatalf("trial %d node %d: got %v, want %v (links %v)", trial, i, got[i], want[i], links)
			}
		}
	}
}

func bruteLimits(n int, links []lab.Link, size int) []time.Duration {
	best := make([]time.Duration, n)
	for i := range best {
		best[i] = -1
	}
	best[0] = 0
	seen := make([]bool, n)
	var walk func(at int, delay time.Duration, rate float64)
	walk = func(at int, delay time.Duration, rate float64) {
		seen[at] = true
		defer func() { seen[at] = false }()
		if at != 0 {
			v := delay + time.Duration(float64(size)*8/rate*float64(time.Second))
			if best[at] < 0 || v < best[at] {
				best[at] = v
			}
		}
		for _, l := range links {
			next := -1
			if l.A == at {
				next = l.B
			} else if l.B == at {
				next = l.A
			}
			if next >= 0 && !seen[next] {
				walk(next, delay+l.Profile.Delay, math.Min(rate, float64(l.Profile.RateBps)))
			}
		}
	}
	walk(0, 0, math.Inf(1))
	return best
}

func TestFanInLimit(t *testing.T) {
	rates := []int64{25e6, 25e6, 25e6, 25e6}
	if got, want := FanInLimit(1e6, 25*time.Millisecond, rates, 100e6), 105*time.Millisecond; got != want {
		t.Errorf("aggregate-bound: got %v, want %v", got, want)
	}
	if got, want := FanInLimit(1e6, 25*time.Millisecond, rates, 50e6), 185*time.Millisecond; got != want {
		t.Errorf("downlink-bound: got %v, want %v", got, want)
	}
	sc, err := Get("fanin4", false)
	if err != nil {
		t.Fatal(err)
	}
	lim := Limits(&sc, 1e6)
	if lim[sc.Receiver] != 105*time.Millisecond {
		t.Errorf("fanin4 receiver limit %v, want 105ms", lim[sc.Receiver])
	}
	if got := ScenarioLimit(&sc, 1e6); got != 105*time.Millisecond {
		t.Errorf("fanin4 limit %v", got)
	}
}

func TestLine6Limit(t *testing.T) {
	sc, err := Get("line6", false)
	if err != nil {
		t.Fatal(err)
	}
	// Six hops of 25 ms plus 4 MB at 100 Mbit/s.
	if got, want := ScenarioLimit(&sc, 4e6), 150*time.Millisecond+320*time.Millisecond; got != want {
		t.Errorf("line6 limit %v, want %v", got, want)
	}
}

func TestMesh(t *testing.T) {
	for _, c := range []struct{ n, d int }{{30, 8}, {10, 4}} {
		links := Mesh(c.n, c.d, 7)
		if !slices.EqualFunc(links, Mesh(c.n, c.d, 7), func(a, b lab.Link) bool { return a == b }) {
			t.Fatal("Mesh is not deterministic")
		}
		deg := make([]int, c.n)
		seen := make(map[[2]int]bool)
		for _, l := range links {
			if l.A >= l.B || seen[[2]int{l.A, l.B}] {
				t.Fatalf("bad or repeated link %d-%d", l.A, l.B)
			}
			seen[[2]int{l.A, l.B}] = true
			deg[l.A]++
			deg[l.B]++
			if d := l.Profile.Delay; d < 10*time.Millisecond || d > 100*time.Millisecond {
				t.Errorf("delay %v", d)
			}
			if r := l.Profile.RateBps; r < 20e6 || r > 200e6 {
				t.Errorf("rate %v", r)
			}
		}
		for i, d := range deg {
			if d != c.d {
				t.Errorf("node %d has degree %d", i, d)
			}
		}
		if !connected(c.n, func(yield func(a, b int)) {
			for _, l := range links {
				yield(l.A, l.B)
			}
		}) {
			t.Error("mesh not connected")
		}
	}
}

func TestSelect(t *testing.T) {
	all, err := Select(nil, true)
	if err != nil || len(all) != len(Names) {
		t.Fatalf("Select(nil): %d, %v", len(all), err)
	}
	two, err := Select([]string{"warm", "line6"}, false)
	if err != nil || len(two) != 2 || two[0].Name != "line6" || two[1].Name != "warm" {
		t.Fatalf("Select: %v, %v", two, err)
	}
	if _, err := Select([]string{"nosuch"}, false); err == nil {
		t.Error("unknown scenario accepted")
	}
	if scs, err := Select([]string{SyncName}, false); err != nil || len(scs) != 0 {
		t.Errorf("Select(sync8): %v, %v", scs, err)
	}
}

func TestSummarize(t *testing.T) {
	pr := ProtocolResult{BytesSent: 1000, Nodes: []NodeResult{
		{Node: 0, Source: true, Arrival: 0, Exact: true},
		{Node: 1, Arrival: 10 * time.Millisecond, Exact: true},
		{Node: 2, Arrival: 30 * time.Millisecond, Exact: true},
		{Node: 3, Arrival: 20 * time.Millisecond, Exact: true},
		{Node: 4, Arrival: -1},
	}}
	summarize(&pr, 100, 400)
	if pr.P50Ms == nil || *pr.P50Ms != 20 || pr.P90Ms != nil || pr.MaxMs != nil || pr.Complete != 0.75 {
		t.Errorf("got p50 %v p90 %v max %v complete %v", pr.P50Ms, pr.P90Ms, pr.MaxMs, pr.Complete)
	}
	if pr.BytesPerKnownTx == nil || *pr.BytesPerKnownTx != 6 {
		t.Errorf("bytes per known tx %v", pr.BytesPerKnownTx)
	}
}
