package demo

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/bench"
	"github.com/blocktorrent/blocktorrent/internal/blockgen"
	"github.com/blocktorrent/blocktorrent/internal/lab"
	"github.com/blocktorrent/blocktorrent/internal/linkemu"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// Options shape the demo network.
type Options struct {
	Nodes int           // nodes in a line (hops = Nodes-1)
	Txs   int           // transactions in the block
	Delay time.Duration // one-way delay per link
	Mbit  float64       // link rate each way
	Loss  float64       // random loss each way
	Seed  uint64
	Bars  bool // live progress bars (off for logs and tests)
}

// DefaultOptions is the README's demo: six nodes in a line, 25 ms and
// 50 Mbit/s per link with 1% loss, a block of 2,500 transactions (~1 MB).
func DefaultOptions() Options {
	return Options{Nodes: 6, Txs: 2500, Delay: 25 * time.Millisecond, Mbit: 50, Loss: 0.01, Seed: 1, Bars: true}
}

// Result is one node's outcome.
type Result struct {
	Node       int
	Hops       int
	Complete   time.Duration // from the block's submission at node 0
	BytesIn    int64
	BytesOut   int64
	Duplicate  int64
	StoreFwd   time.Duration // store-and-forward relay (tcp-block) measured to this node; -1 if it never arrived
	CutThrough time.Duration // physical limit to this node (bench.Limits)
}

// Run runs the demo and writes its report to w.
func Run(ctx context.Context, w io.Writer, o Options) ([]Result, error) {
	if o.Nodes < 2 || o.Txs < 1 {
		return nil, fmt.Errorf("demo: need at least 2 nodes and 1 transaction")
	}
	blk, err := blockgen.Block(blockgen.Config{Txs: o.Txs, Seed: o.Seed, Prev: *chaincfg.RegressionNetParams.GenesisHash, Height: 1})
	if err != nil {
		return nil, err
	}
	size := blk.SerializeSize()
	p := linkemu.Profile{Delay: o.Delay, Loss: o.Loss, RateBps: int64(o.Mbit * 1e6), Jitter: time.Millisecond}
	fmt.Fprintf(w, "Blocktorrent demo: %d real nodes on loopback in a line, each link %v one way, %.0f Mbit/s, %.1f%% loss.\n",
		o.Nodes, o.Delay, o.Mbit, o.Loss*100)
	fmt.Fprintf(w, "Block %v: %d transactions, %.2f MB, made on node 0.\n", blk.BlockHash(), o.Txs, float64(size)/1e6)
	links := lab.Line(o.Nodes, p)
	// The store-and-forward baseline below runs the same block (bench
	// makes it from the same blockgen parameters) over the same links.
	sc := bench.Scenario{
		Name: "demo", Title: "demo line", Nodes: o.Nodes, Links: links, Sources: []int{0},
		Txs: o.Txs, Seed: o.Seed, Timeout: 40 * time.Second,
	}
	limits := bench.Limits(&sc, size)
	start := time.Now()
	net, err := lab.Start(ctx, o.Nodes, links, lab.Options{Subnet: 200})
	if err != nil {
		return nil, err
	}
	defer net.Close()
	fmt.Fprintf(w, "Nodes connected and paths measured in %v.\n\n", time.Since(start).Round(time.Millisecond))

	var prog *mpb.Progress
	var bars []*mpb.Bar
	if o.Bars {
		prog = mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(20*time.Millisecond))
		for i := 1; i < o.Nodes; i++ {
			bars = append(bars, prog.AddBar(int64(o.Txs),
				mpb.PrependDecorators(decor.Name(fmt.Sprintf("node %d (%d hops)", i, i))),
				mpb.AppendDecorators(decor.CountersNoUnit("%d / %d txs"))))
		}
	}
	submitted := time.Now()
	if err := net.Nodes[0].Submit(ctx, blk); err != nil {
		return nil, err
	}
	hash := blk.BlockHash()
	deadline := time.Now().Add(40 * time.Second)
	for {
		done := 0
		for i := 1; i < o.Nodes; i++ {
			st, err := net.Nodes[i].Status(ctx)
			if err != nil {
				return nil, err
			}
			have := 0
			for _, js := range st.Jobs {
				if js.Block == hash.String() {
					have = js.Bodies
					if js.State == "complete" {
						done++
					}
				}
			}
			if bars != nil {
				bars[i-1].SetCurrent(int64(have))
			}
		}
		if done == o.Nodes-1 {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if prog != nil {
				for _, b := range bars {
					b.Abort(false)
				}
				prog.Wait()
			}
			return nil, fmt.Errorf("demo: the block did not reach every node within 40 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if prog != nil {
		prog.Wait()
	}
	var res []Result
	for i := 1; i < o.Nodes; i++ {
		st, err := net.Nodes[i].Status(ctx)
		if err != nil {
			return nil, err
		}
		for _, js := range st.Jobs {
			if js.Block != hash.String() {
				continue
			}
			res = append(res, Result{
				Node: i, Hops: i, Complete: js.CompletedAt.Sub(submitted),
				BytesIn: js.BytesIn, BytesOut: js.BytesOut, Duplicate: js.DuplicateBytes,
				StoreFwd:   -1,
				CutThrough: limits[i],
			})
		}
	}
	// The same block over the same links with legacy store-and-forward
	// relay (inv, getdata, block over TCP; each node relays only once it
	// holds the whole block), measured, not estimated.
	fmt.Fprintf(w, "\nNow the same block over the same links with store-and-forward relay (tcp-block)...\n")
	sr, err := bench.RunScenario(ctx, io.Discard, &sc, bench.Options{Protocols: []string{bench.ProtoTCPBlock}})
	if err != nil {
		return nil, fmt.Errorf("demo: store-and-forward baseline: %w", err)
	}
	for _, pr := range sr.Results {
		for _, nr := range pr.Nodes {
			for k := range res {
				if res[k].Node == nr.Node {
					res[k].StoreFwd = nr.Arrival
				}
			}
		}
	}
	report(w, res, size)
	return res, nil
}

func report(w io.Writer, res []Result, size int) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "node\thops\twhole block at\tcut-through limit\tstore-and-forward\tspeed-up\tMB in\tMB out\tduplicate\t")
	for _, r := range res {
		sf, speed := "never", "—"
		if r.StoreFwd >= 0 {
			sf = r.StoreFwd.Round(time.Millisecond).String()
			speed = fmt.Sprintf("%.1f×", float64(r.StoreFwd)/float64(max(r.Complete, 1)))
		}
		fmt.Fprintf(tw, "%d\t%d\t%v\t%v\t%s\t%s\t%.2f\t%.2f\t%.1f%%\t\n", r.Node, r.Hops,
			r.Complete.Round(time.Millisecond), r.CutThrough.Round(time.Millisecond), sf, speed,
			float64(r.BytesIn)/1e6, float64(r.BytesOut)/1e6, 100*float64(r.Duplicate)/float64(max(r.BytesIn, 1)))
	}
	tw.Flush()
	fmt.Fprintf(w, "\nEvery node holds the same %.2f MB block, checked piece by piece against its merkle root; intermediate\n", float64(size)/1e6)
	fmt.Fprintln(w, "nodes forwarded verified pieces before they had the whole block. Store-and-forward is the legacy")
	fmt.Fprintln(w, "inv/getdata/block relay over TCP on the same emulated links, each node relaying only the whole block;")
	fmt.Fprintln(w, "`blocktorrent bench` runs more scenarios and the compact-block baseline.")
}
