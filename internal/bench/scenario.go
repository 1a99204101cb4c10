package bench

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/lab"
	"github.com/blocktorrent/blocktorrent/internal/linkemu"
)

// Scenario is one network, one block and where the block starts.
type Scenario struct {
	Name  string
	Title string // one line for the report
	// Nodes are numbered 0..Nodes-1; Links join them, each direction shaped
	// by the link's Profile (lab.Start's convention: direction seeds are
	// Profile.Seed+2k+1 and +2k+2 for link k).
	Nodes int
	Links []lab.Link
	// Sources hold the block at the start and submit it at the same moment.
	Sources []int
	// The block: blockgen with these parameters.
	Txs        int
	AvgTxBytes int
	Seed       uint64
	// Warm is the fraction of the block's non-coinbase transactions that
	// every receiver's mempool holds before the block is sent (0: cold).
	Warm float64
	// DownlinkBps, if set, is Receiver's inbound capacity: the fan-in limit
	// is the block over min(sum of the sources' link rates, DownlinkBps).
	Receiver    int
	DownlinkBps int64
	// Timeout bounds each protocol's run (see also ScenarioBudget); nodes
	// without the block by then count as incomplete.
	Timeout time.Duration
}

// Names lists the scenarios in the order they run.
var Names = []string{"line6", "line6-loss", "fanin4", "warm", "mesh", "mesh-warm"}

const (
	lineNodes   = 7
	lineDelay   = 25 * time.Millisecond
	lineRate    = 100e6
	fullTxs     = 10000
	quickTxs    = 1000
	avgTxBytes  = 400
	warmPercent = 0.99
)

// Get returns the named scenario, full-size or reduced for --quick.
func Get(name string, quick bool) (Scenario, error) {
	txs := fullTxs
	meshN, meshDeg := 30, 8
	timeout := 30 * time.Second
	if quick {
		txs = quickTxs
		meshN, meshDeg = 10, 4
		timeout = 10 * time.Second
	}
	line := linkemu.Profile{Delay: lineDelay, RateBps: lineRate, Seed: 100}
	sc := Scenario{Name: name, Txs: txs, AvgTxBytes: avgTxBytes, Seed: 1, Timeout: timeout, Sources: []int{0}}
	switch name {
	case "line6", "warm", "line6-loss":
		sc.Nodes = lineNodes
		if name == "line6-loss" {
			line.Loss = 0.02
		}
		sc.Links = lab.Line(lineNodes, line)
		sc.Title = fmt.Sprintf("%d nodes in a line, %v one way, %s each way, %.0f%% loss per link",
			lineNodes, lineDelay, mbit(lineRate), line.Loss*100)
		if name == "warm" {
			sc.Warm = warmPercent
			sc.Title += fmt.Sprintf("; mempools hold %.0f%% of the block", warmPercent*100)
		}
	case "fanin4":
		const sources = 4
		up := linkemu.Profile{Delay: lineDelay, RateBps: 25e6, Seed: 200}
		sc.Nodes = sources + 1
		sc.Sources = nil
		for i := range sources {
			sc.Sources = append(sc.Sources, i)
			sc.Links = append(sc.Links, lab.Link{A: i, B: sources, Profile: up})
		}
		sc.Receiver, sc.DownlinkBps = sources, 100e6
		sc.Title = fmt.Sprintf("%d sources with the block, each %s to one receiver (downlink %s), %v one way",
			sources, mbit(up.RateBps), mbit(sc.DownlinkBps), lineDelay)
	case "mesh", "mesh-warm":
		sc.Nodes = meshN
		sc.Links = Mesh(meshN, meshDeg, 7)
		sc.Title = fmt.Sprintf("%d nodes, random %d-regular graph, 10-100 ms one way, 20-200 Mbit/s per link, one source", meshN, meshDeg)
		if name == "mesh-warm" {
			sc.Warm = warmPercent
			sc.Title += fmt.Sprintf("; mempools hold %.0f%% of the block", warmPercent*100)
		}
	case SyncName:
		return Scenario{}, fmt.Errorf("bench: %s is a chain-download scenario: run it with Run or RunSync", SyncName)
	default:
		return Scenario{}, fmt.Errorf("bench: unknown scenario %q (have %s)", name, strings.Join(Names, ", "))
	}
	return sc, nil
}

// Select returns the named relay scenarios (all when names is empty) in
// run order. The chain-download scenario (SyncName) is accepted and left
// out: Run runs it with RunSync.
func Select(names []string, quick bool) ([]Scenario, error) {
	if len(names) == 0 {
		names = Names
	}
	var out []Scenario
	for _, want := range Names {
		if !slices.Contains(names, want) {
			continue
		}
		sc, err := Get(want, quick)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	for _, n := range names {
		if n != SyncName && !slices.Contains(Names, n) {
			_, err := Get(n, quick)
			return nil, err
		}
	}
	return out, nil
}

// Mesh returns a connected random degree-regular graph on n nodes, made
// from a circulant graph by many random degree-preserving edge swaps, with
// each link's one-way delay drawn from 10-100 ms and rate from 20-200 Mbit/s
// (whole milliseconds and Mbit/s, the same both ways). The same arguments
// give the same graph.
func Mesh(n, degree int, seed uint64) []lab.Link {
	if degree%2 != 0 || degree >= n {
		panic("bench: Mesh needs an even degree below n")
	}
	rng := rand.New(rand.NewPCG(seed, 0x6d657368))
	type edge struct{ a, b int }
	var edges []edge
	has := make(map[[2]int]bool)
	key := func(a, b int) [2]int { return [2]int{min(a, b), max(a, b)} }
	for i := range n {
		for k := 1; k <= degree/2; k++ {
			j := (i + k) % n
			edges = append(edges, edge{i, j})
			has[key(i, j)] = true
		}
	}
	for {
		for range 20 * len(edges) {
			x, y := rng.IntN(len(edges)), rng.IntN(len(edges))
			e, f := edges[x], edges[y]
			if rng.IntN(2) == 1 {
				f.a, f.b = f.b, f.a
			}
			// (a,b),(c,d) -> (a,d),(c,b)
			if e.a == f.b || f.a == e.b || has[key(e.a, f.b)] || has[key(f.a, e.b)] || x == y {
				continue
			}
			delete(has, key(e.a, e.b))
			delete(has, key(f.a, f.b))
			edges[x], edges[y] = edge{e.a, f.b}, edge{f.a, e.b}
			has[key(e.a, f.b)] = true
			has[key(f.a, e.b)] = true
		}
		if connected(n, func(yield func(a, b int)) {
			for _, e := range edges {
				yield(e.a, e.b)
			}
		}) {
			break
		}
	}
	slices.SortFunc(edges, func(e, f edge) int {
		e.a, e.b = min(e.a, e.b), max(e.a, e.b)
		f.a, f.b = min(f.a, f.b), max(f.a, f.b)
		if e.a != f.a {
			return e.a - f.a
		}
		return e.b - f.b
	})
	var links []lab.Link
	for k, e := range edges {
		p := linkemu.Profile{
			Delay:   time.Duration(10+rng.IntN(91)) * time.Millisecond,
			RateBps: int64(20+rng.IntN(181)) * 1e6,
			Seed:    int64(1000 + 10*k),
		}
		links = append(links, lab.Link{A: min(e.a, e.b), B: max(e.a, e.b), Profile: p})
	}
	return links
}

// connected reports whether the graph on n nodes with the edges that each
// yields is connected.
func connected(n int, each func(yield func(a, b int))) bool {
	parent := make([]int, n)
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	comps := n
	each(func(a, b int) {
		if ra, rb := find(a), find(b); ra != rb {
			parent[ra] = rb
			comps--
		}
	})
	return comps == 1
}

// directionProfiles returns the profile of each direction of every link,
// with the per-direction seeds lab.Start uses, keyed by [from, to].
func directionProfiles(links []lab.Link) map[[2]int]linkemu.Profile {
	out := make(map[[2]int]linkemu.Profile, 2*len(links))
	for k, l := range links {
		pa, pb := l.Profile, l.Profile
		pa.Seed = l.Profile.Seed + int64(2*k+1)
		pb.Seed = l.Profile.Seed + int64(2*k+2)
		out[[2]int{l.A, l.B}] = pa
		out[[2]int{l.B, l.A}] = pb
	}
	return out
}

func mbit(bps int64) string { return fmt.Sprintf("%g Mbit/s", float64(bps)/1e6) }
