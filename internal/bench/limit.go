package bench

import (
	"container/heap"
	"math"
	"slices"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/lab"
)

// PathLimits returns, for every node, the physical limit of relaying a
// block of size bytes from the nearest source: the minimum over paths of
// the sum of the links' one-way delays plus size over the path's bottleneck
// rate, i.e. cut-through relay with nothing lost, no queueing and no
// processing. Links carry the same Profile both ways; a RateBps of 0 is an
// unlimited link. Unreachable nodes get -1; sources get 0.
//
// The objective is not additive (the bottleneck is a minimum), so it is
// solved exactly by one Dijkstra per distinct rate b: over the links at
// least as fast as b, the least-delay path plus size/b. The best path P,
// with bottleneck b*, is found in the pass for b*, and every pass's value
// is at least the true cost of the path it found, so the minimum over the
// passes is the optimum.
func PathLimits(n int, links []lab.Link, sources []int, size int) []time.Duration {
	type arc struct {
		to    int
		delay time.Duration
		rate  float64 // bits per second; +Inf when unlimited
	}
	adj := make([][]arc, n)
	rates := []float64{math.Inf(1)}
	for _, l := range links {
		r := float64(l.Profile.RateBps)
		if r <= 0 {
			r = math.Inf(1)
		}
		adj[l.A] = append(adj[l.A], arc{l.B, l.Profile.Delay, r})
		adj[l.B] = append(adj[l.B], arc{l.A, l.Profile.Delay, r})
		rates = append(rates, r)
	}
	slices.Sort(rates)
	rates = slices.Compact(rates)

	best := make([]time.Duration, n)
	isSource := make([]bool, n)
	for i := range best {
		best[i] = -1
	}
	for _, s := range sources {
		best[s], isSource[s] = 0, true
	}
	dist := make([]time.Duration, n)
	for _, b := range rates {
		for i := range dist {
			dist[i] = math.MaxInt64
		}
		q := &delayQueue{}
		for _, s := range sources {
			dist[s] = 0
			heap.Push(q, qitem{s, 0})
		}
		for q.Len() > 0 {
			it := heap.Pop(q).(qitem)
			if it.d > dist[it.node] {
				continue
			}
			for _, a := range adj[it.node] {
				if a.rate < b {
					continue
				}
				if d := it.d + a.delay; d < dist[a.to] {
					dist[a.to] = d
					heap.Push(q, qitem{a.to, d})
				}
			}
		}
		tx := time.Duration(0)
		if !math.IsInf(b, 1) {
			tx = time.Duration(float64(size) * 8 / b * float64(time.Second))
		}
		for i, d := range dist {
			if d == math.MaxInt64 || isSource[i] {
				continue
			}
			if v := d + tx; best[i] < 0 || v < best[i] {
				best[i] = v
			}
		}
	}
	return best
}

// FanInLimit is the limit of a receiver fed by several sources at once:
// the block over the receiver's usable inbound rate, min(the sum of the
// sources' rates towards it, its downlink), plus the one-way delay.
func FanInLimit(size int, delay time.Duration, sourceRatesBps []int64, downlinkBps int64) time.Duration {
	var sum int64
	for _, r := range sourceRatesBps {
		sum += r
	}
	rate := sum
	if downlinkBps > 0 && downlinkBps < rate {
		rate = downlinkBps
	}
	if rate <= 0 {
		return delay
	}
	return delay + time.Duration(float64(size)*8/float64(rate)*float64(time.Second))
}

// Limits returns each node's limit in sc for a block of size bytes: the
// best single path (PathLimits) and, for a fan-in receiver, the better of
// that and FanInLimit over the sources linked to it directly.
func Limits(sc *Scenario, size int) []time.Duration {
	lim := PathLimits(sc.Nodes, sc.Links, sc.Sources, size)
	if sc.DownlinkBps > 0 {
		var rates []int64
		var delay time.Duration
		for _, l := range sc.Links {
			other := -1
			switch sc.Receiver {
			case l.A:
				other = l.B
			case l.B:
				other = l.A
			}
			if other >= 0 && slices.Contains(sc.Sources, other) {
				rates = append(rates, l.Profile.RateBps)
				delay = max(delay, l.Profile.Delay)
			}
		}
		if len(rates) > 0 {
			if f := FanInLimit(size, delay, rates, sc.DownlinkBps); lim[sc.Receiver] < 0 || f < lim[sc.Receiver] {
				lim[sc.Receiver] = f
			}
		}
	}
	return lim
}

// ScenarioLimit is the limit of the farthest node (the largest per-node
// limit over the receivers).
func ScenarioLimit(sc *Scenario, size int) time.Duration {
	var worst time.Duration
	for i, l := range Limits(sc, size) {
		if !slices.Contains(sc.Sources, i) && l > worst {
			worst = l
		}
	}
	return worst
}

type qitem struct {
	node int
	d    time.Duration
}

type delayQueue []qitem

func (q delayQueue) Len() int           { return len(q) }
func (q delayQueue) Less(i, j int) bool { return q[i].d < q[j].d }
func (q delayQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *delayQueue) Push(x any)        { *q = append(*q, x.(qitem)) }
func (q *delayQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}
