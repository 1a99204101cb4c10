package node_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/blockgen"
	"github.com/blocktorrent/blocktorrent/internal/lab"
	"github.com/blocktorrent/blocktorrent/internal/linkemu"
	"github.com/blocktorrent/blocktorrent/internal/node"
	"github.com/blocktorrent/blocktorrent/internal/session"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// Soak test parameters.
const (
	soakNodes       = 12
	soakDefault     = 14 * time.Second // CI runs it without -short: keep it short
	soakMax         = 2 * time.Hour    // BLOCKTORRENT_SOAK is capped here
	soakBlockEvery  = 2 * time.Second
	soakChurnEvery  = 3 * time.Second
	soakTxs         = 300              // ~120 KB blocks
	soakDeadline    = 10 * time.Second // for a block to reach every node that must get it
	soakWarmup      = 500 * time.Millisecond
	soakHeapLimit   = 1 << 30 // HeapAlloc after GC, bytes
	soakSubnet      = 80      // the first 12 nodes; newcomers use 81..89
	soakTargetPeers = 3       // discovery keeps each node at this many peers
)

// soakMember is one node of the soak network, from start to close.
type soakMember struct {
	name    string
	nd      *node.Node
	started time.Time
	ready   time.Time // first seen with a measured peer; zero before
	closed  time.Time // zero while up
	mu      sync.Mutex
	got     map[chainhash.Hash]time.Time // blocks completed from the network
}

func (m *soakMember) onBlock(blk *btcwire.MsgBlock) {
	m.mu.Lock()
	m.got[blk.BlockHash()] = time.Now()
	m.mu.Unlock()
}

func (m *soakMember) has(h chainhash.Hash) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	at, ok := m.got[h]
	return at, ok
}

func (m *soakMember) up() bool { return m.closed.IsZero() }

// soakBlock is one submitted block awaiting its check.
type soakBlock struct {
	height int
	hash   chainhash.Hash
	at     time.Time
}

// soakGraph returns a connected random graph of n nodes with degrees 3 or
// 4: a ring plus random chords.
func soakGraph(rng *rand.Rand, n int, p linkemu.Profile) []lab.Link {
	edge := make(map[[2]int]bool)
	deg := make([]int, n)
	var links []lab.Link
	add := func(a, b int) bool {
		if a == b || deg[a] >= 4 || deg[b] >= 4 {
			return false
		}
		k := [2]int{min(a, b), max(a, b)}
		if edge[k] {
			return false
		}
		edge[k] = true
		deg[a]++
		deg[b]++
		links = append(links, lab.Link{A: k[0], B: k[1], Profile: p})
		return true
	}
	for i := range n {
		add(i, (i+1)%n)
	}
	for range 1000 {
		var low []int
		for i, d := range deg {
			if d < 3 {
				low = append(low, i)
			}
		}
		if len(low) == 0 {
			break
		}
		a := low[rng.IntN(len(low))]
		add(a, rng.IntN(n))
	}
	return links
}

// soakDuration is how long the churn runs: BLOCKTORRENT_SOAK (a Go
// duration, capped at soakMax) or soakDefault.
func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv("BLOCKTORRENT_SOAK")
	if v == "" {
		return soakDefault
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("BLOCKTORRENT_SOAK=%q: want a positive Go duration such as 5m", v)
	}
	return min(d, soakMax)
}

// TestSoakChurn runs a dozen nodes on a random graph of degree 3-4 with
// emulated links while, every soakChurnEvery, one node other than the
// source is closed and a new node takes its place (it dials the live node
// with the fewest peers and finds more by discovery: every node keeps
// soakTargetPeers peers through GET_BTADDR), and the source submits a new block, chained on
// the last, every soakBlockEvery. Every node that was up and connected
// from before a block was submitted until it arrived everywhere must
// complete that block, and the heap (after GC) must stay under
// soakHeapLimit and, in runs long enough for completed jobs to expire,
// stop growing. It runs soakDefault (14 s) by default; BLOCKTORRENT_SOAK=5m runs it for
// five minutes.
func TestSoakChurn(t *testing.T) {
	dur := soakDuration(t)
	ctx, cancel := context.WithTimeout(context.Background(), dur+2*time.Minute)
	defer cancel()
	rng := rand.New(rand.NewPCG(80, 89))
	link := linkemu.Profile{Delay: 5 * time.Millisecond, Jitter: time.Millisecond, RateBps: 50e6, Loss: 0.002}

	members := make([]*soakMember, 0, soakNodes)
	for i := range soakNodes {
		members = append(members, &soakMember{name: fmt.Sprintf("n%d", i), got: make(map[chainhash.Hash]time.Time)})
	}
	nw, err := lab.Start(ctx, soakNodes, soakGraph(rng, soakNodes, link), lab.Options{
		Subnet: soakSubnet,
		Configure: func(i int, cfg *node.Config) {
			cfg.OnBlock = members[i].onBlock
			// Every node looks for soakTargetPeers peers (discovery), and
			// links to peers found that way have the same profile.
			cfg.TargetPeers = soakTargetPeers
			graph := cfg.Link
			cfg.Link = func(remote netip.Addr) linkemu.Profile {
				if p := graph(remote); p != (linkemu.Profile{}) {
					return p
				}
				return link
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i, m := range members {
		m.nd, m.started, m.ready = nw.Nodes[i], now, now
	}
	defer func() {
		for _, m := range members {
			if m.up() {
				m.nd.Close()
			}
		}
	}()
	source := members[0]

	// newcomer starts a node at the next free IP of subnets 81..89 and
	// has it dial the live nodes with the fewest peers.
	newcomers := 0
	newcomer := func() (*soakMember, error) {
		k := newcomers
		newcomers++
		if k >= 9*250 {
			return nil, fmt.Errorf("out of newcomer addresses")
		}
		ip := netip.AddrFrom4([4]byte{127, 77, byte(soakSubnet + 1 + k/250), byte(1 + k%250)})
		m := &soakMember{name: fmt.Sprintf("new%d", k), got: make(map[chainhash.Hash]time.Time)}
		cfg := node.DefaultConfig()
		cfg.Listen = netip.AddrPortFrom(ip, 0).String()
		cfg.Log = slog.New(slog.DiscardHandler)
		cfg.RedialInterval = 200 * time.Millisecond
		cfg.TargetPeers = soakTargetPeers
		lk := link
		lk.Seed = int64(1000 + k)
		cfg.Link = func(netip.Addr) linkemu.Profile { return lk }
		cfg.OnBlock = m.onBlock
		nd, err := node.New(cfg)
		if err != nil {
			return nil, err
		}
		if err := nd.Start(ctx); err != nil {
			return nil, err
		}
		m.nd, m.started = nd, time.Now()
		var live []*soakMember
		for _, o := range members {
			if o.up() {
				live = append(live, o)
			}
		}
		// It knows one live node, the one with the fewest peers, and
		// finds the others by discovery.
		sort.Slice(live, func(i, j int) bool { return live[i].nd.Peers() < live[j].nd.Peers() })
		if len(live) > 0 {
			nd.AddPeer(live[0].nd.Addr())
		}
		return m, nil
	}

	var (
		pending  []soakBlock
		checked  int
		heaps    []uint64 // HeapAlloc after GC, one sample per block
		prev     = *chaincfg.RegressionNetParams.GenesisHash
		height   = 0
		churned  = 0
		start    = time.Now()
		end      = start.Add(dur)
		nextBlk  = start
		nextChrn = start.Add(soakChurnEvery)
		failed   = 0             // blocks that missed a node
		misses   = 0             // (block, node) pairs
		spread   []time.Duration // per block: submit to the last arrival
	)
	// required reports whether m must complete b: up (and with a measured
	// peer) from before b was submitted until now.
	required := func(m *soakMember, b soakBlock) bool {
		return m != source && m.up() && !m.ready.IsZero() && m.ready.Add(soakWarmup).Before(b.at)
	}
	// check removes the blocks every required node has; a block past its
	// deadline fails for the nodes that lack it.
	check := func(now time.Time) {
		keep := pending[:0]
		for _, b := range pending {
			var missing []*soakMember
			var last time.Duration
			for _, m := range members {
				at, ok := m.has(b.hash)
				switch {
				case !ok && required(m, b):
					missing = append(missing, m)
				case ok:
					last = max(last, at.Sub(b.at))
				}
			}
			switch {
			case len(missing) == 0:
				checked++
				spread = append(spread, last)
			case now.Sub(b.at) > soakDeadline:
				failed++
				for _, m := range missing {
					misses++
					if misses > 10 {
						continue // counted; the first ones are detailed
					}
					t.Errorf("block %d (%v) did not reach %s (up since %v, ready %v, %d peers) within %v",
						b.height, b.hash, m.name, m.started.Sub(start).Round(time.Millisecond),
						m.ready.Sub(start).Round(time.Millisecond), m.nd.Peers(), soakDeadline)
					dumpStatus(ctx, t, m.name, m.nd)
				}
			default:
				keep = append(keep, b)
			}
		}
		pending = keep
	}
	maxIter := int(dur/(20*time.Millisecond)) + 1000
	for iter := 0; iter < maxIter && ctx.Err() == nil; iter++ {
		now := time.Now()
		if !now.Before(end) {
			break
		}
		for _, m := range members {
			if m.up() && m.ready.IsZero() && m.nd.Ready(1) {
				m.ready = now
			}
		}
		if !now.Before(nextBlk) && now.Before(end.Add(-soakBlockEvery/2)) {
			height++
			blk, err := blockgen.Block(blockgen.Config{Txs: soakTxs, Seed: uint64(height), Prev: prev, Height: int32(height)})
			if err != nil {
				t.Fatal(err)
			}
			if err := source.nd.Submit(ctx, blk); err != nil {
				t.Fatalf("submit block %d: %v", height, err)
			}
			prev = blk.BlockHash()
			pending = append(pending, soakBlock{height: height, hash: prev, at: time.Now()})
			nextBlk = nextBlk.Add(soakBlockEvery)
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			heaps = append(heaps, ms.HeapAlloc)
			if ms.HeapAlloc > soakHeapLimit {
				t.Fatalf("heap %d MiB after block %d, limit %d MiB", ms.HeapAlloc>>20, height, soakHeapLimit>>20)
			}
		}
		if !now.Before(nextChrn) {
			nextChrn = nextChrn.Add(soakChurnEvery)
			var victims []int
			for i, m := range members {
				if m != source && m.up() {
					victims = append(victims, i)
				}
			}
			if len(victims) > 0 {
				i := victims[rng.IntN(len(victims))]
				v := members[i]
				v.nd.Close()
				v.closed = time.Now()
				// Forget the closed node, so the heap measures the live
				// ones (the lab keeps its first nodes too).
				v.nd = nil
				if i < len(nw.Nodes) {
					nw.Nodes[i] = nil
				}
				m, err := newcomer()
				if err != nil {
					t.Fatal(err)
				}
				members = append(members, m)
				churned++
			}
		}
		check(time.Now())
		time.Sleep(20 * time.Millisecond)
	}
	// The last blocks: every loop is bounded by the block deadline.
	for range int(soakDeadline/(20*time.Millisecond)) + 10 {
		if len(pending) == 0 || ctx.Err() != nil {
			break
		}
		check(time.Now())
		time.Sleep(20 * time.Millisecond)
	}
	if len(pending) > 0 {
		t.Errorf("%d blocks still pending after the deadline", len(pending))
	}
	if failed > 0 {
		t.Errorf("%d of %d blocks missed %d nodes in all", failed, height, misses)
	}

	// The survivors from the start hold the whole chain: their tip is the
	// last block.
	for _, m := range members[:soakNodes] {
		if m.up() && m != source {
			if best, h, _ := m.nd.Tip(); best != prev || int(h) != height {
				t.Errorf("%s (up all along) has tip %v at height %d, want %v at %d", m.name, best, h, prev, height)
			}
		}
	}

	// What the live nodes hold against each other: honest nodes must not
	// ban one another or score one another for anything but slowness
	// (session.SoftReason).
	penalties, bans := map[string]int{}, map[string]int{}
	for _, m := range members {
		if !m.up() {
			continue
		}
		st, err := m.nd.Status(ctx)
		if err != nil {
			t.Errorf("%s: Status: %v", m.name, err)
			continue
		}
		for _, p := range st.Peers {
			for r, v := range p.Penalties {
				penalties[r] += v
			}
		}
		for _, b := range st.Bans {
			bans[b.Reason]++
		}
	}
	t.Logf("live nodes: penalty points by reason %v, bans by reason %v", penalties, bans)
	for r, v := range penalties {
		if !session.SoftReason(r) {
			t.Errorf("honest live nodes scored one another %d points for %s", v, r)
		}
	}
	if len(bans) > 0 {
		t.Errorf("honest live nodes banned one another: bans by reason %v", bans)
	}
	arrivals := 0
	for _, m := range members {
		m.mu.Lock()
		arrivals += len(m.got)
		m.mu.Unlock()
	}
	slices.Sort(spread)
	var p50, pmax time.Duration
	if n := len(spread); n > 0 {
		p50, pmax = spread[n/2], spread[n-1]
	}
	mib := func(b uint64) float64 { return float64(b) / (1 << 20) }
	heapLog := make([]string, len(heaps))
	for i, h := range heaps {
		heapLog[i] = fmt.Sprintf("%.0f", mib(h))
	}
	minPeers, maxPeers := 1<<30, 0
	for _, m := range members {
		if m.up() {
			minPeers, maxPeers = min(minPeers, m.nd.Peers()), max(maxPeers, m.nd.Peers())
		}
	}
	t.Logf("soak %v: %d blocks, %d checked, %d nodes churned (live nodes end with %d to %d peers), %d nodes in all, %d block arrivals, submit to last arrival median %v max %v; heap after GC per block (MiB): %v; goroutines %d",
		dur, height, checked, churned, minPeers, maxPeers, len(members), arrivals, p50.Round(time.Millisecond), pmax.Round(time.Millisecond), heapLog, runtime.NumGoroutine())

	// Completed jobs linger (60 s) before they close, so the heap grows
	// for the first minute or so. In runs long enough to see the plateau,
	// the last third must not sit above the middle third by more than a
	// margin.
	if n := len(heaps); dur >= 3*time.Minute && n >= 9 {
		peak := func(hs []uint64) uint64 {
			var p uint64
			for _, h := range hs {
				p = max(p, h)
			}
			return p
		}
		mid, last := peak(heaps[n/3:2*n/3]), peak(heaps[2*n/3:])
		if last > mid+mid/2+64<<20 {
			t.Errorf("heap keeps growing: peak %.0f MiB in the middle third of the run, %.0f MiB in the last", mib(mid), mib(last))
		}
	}
}
