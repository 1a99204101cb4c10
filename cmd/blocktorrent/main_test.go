package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildBinary builds the command once for the process tests.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "blocktorrent")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freePort returns a free TCP port on ip (the node also binds UDP there;
// it retries inside if needed).
func freePort(t *testing.T, ip string) string {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestNodeProcesses runs two `blocktorrent node` processes with the flags
// of the contract, connects them, and checks /status and /metrics.
func TestNodeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, b := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.2")
	sa, sb := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.2")
	start := func(listen, status string, peers ...string) *exec.Cmd {
		args := []string{"node", "--network", "regtest", "--datadir", t.TempDir(), "--listen", listen, "--status", status, "--log-level", "warn"}
		for _, p := range peers {
			args = append(args, "--peer", p)
		}
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
		return cmd
	}
	start(a, sa)
	start(b, sb, a)

	type status struct {
		Network  string `json:"network"`
		Height   *int   `json:"height"`
		BestHash string `json:"best_hash"`
		Peers    []struct {
			Address  string   `json:"address"`
			RTTMs    *float64 `json:"rtt_ms"`
			BytesIn  int64    `json:"bytes_in"`
			BytesOut int64    `json:"bytes_out"`
		} `json:"peers"`
		Jobs []json.RawMessage `json:"jobs"`
	}
	get := func(addr, path string) ([]byte, error) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	var st status
	for {
		body, err := get(sb, "/status")
		if err == nil && json.Unmarshal(body, &st) == nil && len(st.Peers) == 1 && st.Peers[0].BytesIn > 0 && *st.Peers[0].RTTMs > 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("node b never showed its peer: %v %s", err, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st.Network != "regtest" || st.Height == nil || *st.Height != 0 || len(st.BestHash) != 64 || st.Jobs == nil {
		t.Fatalf("status: %+v", st)
	}
	if !strings.HasPrefix(st.Peers[0].Address, "127.0.0.1:") || st.Peers[0].BytesOut == 0 {
		t.Fatalf("peer: %+v", st.Peers[0])
	}
	m, err := get(sa, "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"blocktorrent_peer_bytes_in_total", "blocktorrent_jobs_opened_total", "blocktorrent_job_complete_seconds", "blocktorrent_peers 1"} {
		if !strings.Contains(string(m), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	out, err := exec.CommandContext(ctx, bin, "status", "--status", sa).Output()
	if err != nil || !strings.Contains(string(out), `"best_hash"`) {
		t.Fatalf("blocktorrent status: %v %s", err, out)
	}
}

// TestUsage checks the command's errors on bad input.
func TestUsage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	for _, args := range [][]string{{"nosuch"}, {"node", "--network", "nosuchnet"}, {"node", "--role", "king"},
		{"node", "--limit-peer-pps", "-1"}, {"node", "--limit-global-mbit", "NaN"}, {"node", "--ban-duration", "0s"}, {"node", "--target-peers", "-2"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err == nil {
			t.Errorf("%v: no error\n%s", args, out)
		}
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "blocktorrent ") {
		t.Fatalf("version: %v %q", err, out)
	}
}
