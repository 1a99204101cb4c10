package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// ScenarioBudget bounds one scenario's wall time, counted from its start:
// each protocol's run stops waiting for nodes at the scenario's Timeout or
// when the budget is spent, whichever comes first, so what is left goes to
// the protocol that runs last. Starting a network is not interrupted (it
// takes a few seconds; lab.Start gives up after 20).
const ScenarioBudget = 52 * time.Second

// Options configure a benchmark run.
type Options struct {
	// Quick runs the reduced scenarios (fewer transactions, a smaller
	// mesh): a smoke test.
	Quick bool
	// Protocols to run (default: all, in the order of Protocols).
	Protocols []string
	// Bars draws live progress bars; otherwise a line per protocol run.
	Bars bool
	// Verbose adds every node's arrival time to the report.
	Verbose bool
}

// Run runs the named scenarios (all if none), writing progress and the
// final table to w.
func Run(ctx context.Context, w io.Writer, names []string, o Options) ([]ScenarioResult, error) {
	// No names: every relay scenario (Select's default), then sync8.
	var relay []string
	sync := len(names) == 0
	for _, n := range names {
		if n == SyncName {
			sync = true
		} else {
			relay = append(relay, n)
		}
	}
	var out []ScenarioResult
	if len(relay) > 0 || len(names) == 0 {
		scs, err := Select(relay, o.Quick)
		if err != nil {
			return nil, err
		}
		for k := range scs {
			r, err := RunScenario(ctx, w, &scs[k], o)
			if err != nil {
				return out, err
			}
			out = append(out, r)
		}
	}
	if sync {
		r, err := RunSync(ctx, w, o.Quick)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	fmt.Fprintln(w)
	WriteTable(w, out)
	return out, nil
}

// RunScenario runs every protocol of o on one scenario.
func RunScenario(ctx context.Context, w io.Writer, sc *Scenario, o Options) (ScenarioResult, error) {
	began := time.Now()
	until := began.Add(ScenarioBudget)
	e, err := newEnv(sc, &o)
	if err != nil {
		return ScenarioResult{}, err
	}
	res := ScenarioResult{
		Scenario: sc.Name, BlockBytes: e.size, Txs: len(e.blk.Transactions), Title: sc.Title,
		Limits: Limits(sc, e.size), Sources: sc.Sources,
	}
	lim := ScenarioLimit(sc, e.size)
	res.LimitMs = ms(lim)
	fmt.Fprintf(w, "\n%s: %s\n", sc.Name, sc.Title)
	fmt.Fprintf(w, "  block %v: %d txs, %.2f MB; physical limit of the farthest node %v\n",
		e.hash, res.Txs, float64(e.size)/1e6, lim.Round(time.Millisecond))
	protos := o.Protocols
	if len(protos) == 0 {
		protos = Protocols
	}
	for _, p := range Protocols {
		if !slices.Contains(protos, p) {
			continue
		}
		label := fmt.Sprintf("  %-12s", p)
		tr := newTracker(w, o.Bars, label, e.receivers())
		var pr ProtocolResult
		runtime.GC() // the previous run's garbage is not collected during this one
		if p == ProtoBlocktorrent {
			pr, err = runBlocktorrent(ctx, e, until, tr)
		} else {
			pr, err = runLegacy(ctx, e, p, until, tr)
		}
		tr.finish()
		if err != nil {
			return res, fmt.Errorf("%s %s: %w", sc.Name, p, err)
		}
		fmt.Fprintf(w, "%s %s\n", label, summaryLine(&pr, res.LimitMs))
		if o.Verbose {
			fmt.Fprintf(w, "%s %s\n", strings.Repeat(" ", len(label)), nodeLine(&pr, res.Limits))
		}
		res.Results = append(res.Results, pr)
	}
	fmt.Fprintf(w, "  (%s took %.1f s)\n", sc.Name, time.Since(began).Seconds())
	return res, nil
}

func summaryLine(pr *ProtocolResult, limit float64) string {
	s := fmt.Sprintf("p50 %s  p90 %s  max %s (%s of the limit)  %.2f MB sent  %.0f%% complete",
		fmtMs(pr.P50Ms), fmtMs(pr.P90Ms), fmtMs(pr.MaxMs), ratio(pr.MaxMs, limit), float64(pr.BytesSent)/1e6, 100*pr.Complete)
	if pr.DuplicateBytes >= 10e3 {
		s += fmt.Sprintf(" (%.2f MB received twice: %.2f pushed, %.2f from peers with the whole block)",
			float64(pr.DuplicateBytes)/1e6, float64(pr.DuplicatePushed)/1e6, float64(pr.DuplicateFromComplete)/1e6)
	}
	if pr.KernelUDPDrops > 0 {
		s += fmt.Sprintf(" (%d datagrams dropped by full UDP receive buffers, machine-wide)", pr.KernelUDPDrops)
	}
	if pr.Note != "" {
		s += " — " + pr.Note
	}
	return s
}

// nodeLine lists each receiver's arrival time and its own limit.
func nodeLine(pr *ProtocolResult, limits []time.Duration) string {
	var b strings.Builder
	b.WriteString("per node (arrival/limit ms):")
	for _, n := range pr.Nodes {
		if n.Source {
			continue
		}
		a := "—"
		if n.Exact && n.Arrival >= 0 {
			a = fmt.Sprintf("%.0f", ms(n.Arrival))
		}
		fmt.Fprintf(&b, " %d:%s/%.0f", n.Node, a, ms(limits[n.Node]))
	}
	return b.String()
}

func fmtMs(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%.0f ms", *v)
}

func ratio(v *float64, limit float64) string {
	if v == nil || limit <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", *v/limit)
}

// WriteTable writes the results as one table.
func WriteTable(w io.Writer, rs []ScenarioResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tprotocol\tp50 ms\tp90 ms\tmax ms\tlimit ms\tmax/limit\tvs tcp-block\tMB sent\tB/known tx\tcomplete\t")
	for _, r := range rs {
		var tcpMax *float64
		for _, pr := range r.Results {
			if pr.Protocol == ProtoTCPBlock {
				tcpMax = pr.MaxMs
			}
		}
		for _, pr := range r.Results {
			speed := "—"
			if tcpMax != nil && pr.MaxMs != nil && *pr.MaxMs > 0 {
				speed = fmt.Sprintf("%.2f×", *tcpMax / *pr.MaxMs)
			}
			bpk := "—"
			if pr.BytesPerKnownTx != nil {
				bpk = fmt.Sprintf("%.1f", *pr.BytesPerKnownTx)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.0f\t%s\t%s\t%.2f\t%s\t%.0f%%\t\n", r.Scenario, pr.Protocol,
				num(pr.P50Ms), num(pr.P90Ms), num(pr.MaxMs), r.LimitMs, ratio(pr.MaxMs, r.LimitMs), speed,
				float64(pr.BytesSent)/1e6, bpk, 100*pr.Complete)
		}
	}
	tw.Flush()
}

func num(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%.0f", *v)
}

// WriteJSON writes the results in the --json format.
func WriteJSON(path string, rs []ScenarioResult) error {
	if rs == nil {
		rs = []ScenarioResult{}
	}
	b, err := json.MarshalIndent(rs, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// progress: bars or lines.

type lineTracker struct{}

func (lineTracker) set(int) {}
func (lineTracker) finish() {}

type barTracker struct {
	p   *mpb.Progress
	bar *mpb.Bar
}

func (b *barTracker) set(done int) { b.bar.SetCurrent(int64(done)) }

func (b *barTracker) finish() {
	if !b.bar.Completed() {
		b.bar.Abort(true)
	}
	b.p.Wait()
}

type finisher interface {
	tracker
	finish()
}

func newTracker(w io.Writer, bars bool, label string, total int) finisher {
	if !bars {
		return lineTracker{}
	}
	p := mpb.New(mpb.WithOutput(w), mpb.WithWidth(30), mpb.WithRefreshRate(50*time.Millisecond))
	bar := p.AddBar(int64(total),
		mpb.PrependDecorators(decor.Name(strings.TrimRight(label, " ")+" ")),
		mpb.AppendDecorators(decor.CountersNoUnit(" %d/%d nodes"), decor.Name(" "), decor.Elapsed(decor.ET_STYLE_GO)),
		mpb.BarRemoveOnComplete())
	return &barTracker{p: p, bar: bar}
}
