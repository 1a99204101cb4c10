package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"

	"github.com/blocktorrent/blocktorrent/internal/bench"
)

// runBench runs the benchmark lab (docs/benchmarks.md).
func runBench(args []string) error {
	var o bench.Options
	var jsonPath, plotPath, protocols, cpuProfile string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: blocktorrent bench [--quick] [--json FILE] [--plot FILE.svg|.png] [SCENARIO ...]\n\n")
		fmt.Fprintf(fs.Output(), "Relays one block through networks of real nodes on loopback with emulated links,\n")
		fmt.Fprintf(fs.Output(), "with Blocktorrent and the legacy relays (tcp-block, compact), and compares them\n")
		fmt.Fprintf(fs.Output(), "with the physical limit. Scenarios: %s (default: all).\n\n", strings.Join(append(bench.Names, bench.SyncName), ", "))
		fs.PrintDefaults()
	}
	fs.BoolVar(&o.Quick, "quick", false, "run reduced scenarios (fewer transactions, a smaller mesh): a smoke test")
	fs.StringVar(&jsonPath, "json", "", "write the results as JSON to `FILE`")
	fs.StringVar(&plotPath, "plot", "", "draw arrival-time CDFs and per-node timelines to `FILE` (.svg or .png)")
	fs.StringVar(&protocols, "protocols", "", "comma-separated protocols to run (default: "+strings.Join(bench.Protocols, ",")+")")
	fs.BoolVar(&o.Verbose, "v", false, "also print every node's arrival time")
	fs.BoolVar(&o.Bars, "progress", isTerminal(os.Stdout), "show live progress bars")
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to `FILE` (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if protocols != "" {
		o.Protocols = strings.Split(protocols, ",")
		for _, p := range o.Protocols {
			if !slices.Contains(bench.Protocols, p) {
				return fmt.Errorf("unknown protocol %q", p)
			}
		}
	}
	if plotPath != "" {
		if err := bench.CheckPlotPath(plotPath); err != nil {
			return err
		}
	}
	if _, err := bench.Select(fs.Args(), o.Quick); err != nil {
		return err
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := bench.Run(ctx, os.Stdout, fs.Args(), o)
	if err != nil {
		return err
	}
	if jsonPath != "" {
		if err := bench.WriteJSON(jsonPath, res); err != nil {
			return err
		}
		fmt.Printf("\nwrote %s\n", jsonPath)
	}
	if plotPath != "" {
		if err := bench.Plot(plotPath, res); err != nil {
			return err
		}
		fmt.Printf("wrote %s\n", plotPath)
	}
	// Times are reported, never judged; a node without the exact block is
	// a failure.
	for _, r := range res {
		for _, pr := range r.Results {
			if pr.Complete < 1 {
				return fmt.Errorf("%s: %s left %.0f%% of the nodes without the exact block", r.Scenario, pr.Protocol, 100*(1-pr.Complete))
			}
		}
	}
	return nil
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
