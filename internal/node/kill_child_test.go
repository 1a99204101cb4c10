package node_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/linkemu"
	"github.com/blocktorrent/blocktorrent/internal/node"
	"github.com/btcsuite/btcd/chainhash/v2"
)

// The relay the kill tests run in a child process, SIGKILL, SIGSTOP and
// restart, and the parent's side of it.

// TestKillRelayChild is the relay that TestKillRelayMidJob runs in a child
// process and kills; it is skipped otherwise. It reports on stdout, one
// line each: "up ADDR STATUSADDR" once listening, "tip HEIGHT HASH" when its
// tip changes, "peers N" when its peer count changes, and "midjob HASH
// BODIES TXS" the first time it sees a job open with some but not all of
// its transaction bodies.
func TestKillRelayChild(t *testing.T) {
	dir := os.Getenv(envKillDir)
	if dir == "" {
		t.Skip("run by TestKillRelayMidJob")
	}
	ctx, cancel := context.WithTimeout(context.Background(), killChildRun)
	defer cancel()
	listen := os.Getenv(envKillListen)
	ap := netip.MustParseAddrPort(listen)
	cfg := node.DefaultConfig()
	cfg.Network, cfg.DataDir, cfg.Listen = "regtest", dir, listen
	cfg.Status = netip.AddrPortFrom(ap.Addr(), 0).String()
	cfg.RedialInterval = 200 * time.Millisecond
	cfg.Link = func(netip.Addr) linkemu.Profile { return killLink }
	cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	nd, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := nd.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer nd.Close()
	fmt.Printf("up %s %s\n", nd.Addr(), nd.StatusAddr())
	lastTip, lastPeers := chainhash.Hash{}, -1
	seen := map[string]bool{}
	for range int(killChildRun / (5 * time.Millisecond)) {
		if ctx.Err() != nil {
			return
		}
		if best, h, _ := nd.Tip(); best != lastTip {
			lastTip = best
			fmt.Printf("tip %d %s\n", h, best)
		}
		if p := nd.Peers(); p != lastPeers {
			lastPeers = p
			fmt.Printf("peers %d\n", p)
		}
		jobs, err := nd.Engine().Status(ctx)
		if err == nil {
			for _, j := range jobs {
				if j.State == "open" && j.Bodies > 0 && j.Bodies < int(j.Txs) && !seen[j.Block] {
					seen[j.Block] = true
					fmt.Printf("midjob %s %d %d\n", j.Block, j.Bodies, j.Txs)
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// killEvent is one line of the child's output.
type killEvent struct {
	at     time.Time
	kind   string // up, tip, peers, midjob
	fields []string
}

// killChild is one run of the child relay.
type killChild struct {
	cmd    *exec.Cmd
	events chan killEvent // closed when its stdout ends
	status string         // its status address, from "up"
	log    string         // its stderr
	tipH   atomic.Int64   // the last tip height it reported: durable
}

// startKillChild starts the child relay on dir and listen and waits until it
// listens.
func startKillChild(t *testing.T, ctx context.Context, dir, listen, logPath string) *killChild {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestKillRelayChild$", "-test.v")
	cmd.Env = append(os.Environ(), envKillDir+"="+dir, envKillListen+"="+listen)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close() // the child holds its own descriptor
	c := &killChild{cmd: cmd, events: make(chan killEvent, 1024), log: logPath}
	c.tipH.Store(-1)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	go func() {
		defer close(c.events)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 0 {
				continue
			}
			if f[0] == "tip" && len(f) == 3 {
				var h int64
				if _, err := fmt.Sscan(f[1], &h); err == nil {
					c.tipH.Store(h)
				}
			}
			switch f[0] {
			case "up", "tip", "peers", "midjob":
				c.events <- killEvent{at: time.Now(), kind: f[0], fields: f[1:]}
			}
		}
	}()
	select {
	case ev, ok := <-c.events:
		if !ok || ev.kind != "up" || len(ev.fields) != 2 {
			t.Fatalf("child did not start: %v %+v; log:\n%s", ok, ev, tail(logPath))
		}
		c.status = ev.fields[1]
	case <-ctx.Done():
		t.Fatalf("child did not start; log:\n%s", tail(logPath))
	}
	return c
}

// kill sends SIGKILL and reaps the child.
func (c *killChild) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = c.cmd.Wait()
	for range c.events { // the rest of its output
	}
}

// childStatus fetches the child's /status.
func childStatus(ctx context.Context, c *killChild) (node.Status, error) {
	var st node.Status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.status+"/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("status: %s", resp.Status)
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

// tail returns the last lines of a log file.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-40):], "\n")
}

// waitChildTip waits until the child relay c reports tip as its best block
// and returns its status then.
func waitChildTip(t *testing.T, ctx context.Context, c *killChild, tip chainhash.Hash) node.Status {
	t.Helper()
	for i := 0; ; i++ {
		st, err := childStatus(ctx, c)
		if err == nil && st.BestHash == tip.String() {
			return st
		}
		if i > 3000 || ctx.Err() != nil {
			t.Fatalf("R1 did not reach the tip: %+v %v; log:\n%s", st, err, tail(c.log))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
