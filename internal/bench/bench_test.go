package bench

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/lab"
	"github.com/blocktorrent/blocktorrent/internal/linkemu"
)

// tinyScenarios are small enough for a unit test and still exercise every
// path: a lossy line (TCP retransmission delays, UDP loss), warm mempools
// (compact reconstruction with getblocktxn), and a fan-in from two sources.
func tinyScenarios() []Scenario {
	p := linkemu.Profile{Delay: 5 * time.Millisecond, RateBps: 50e6, Loss: 0.01, Seed: 3}
	clean := linkemu.Profile{Delay: 5 * time.Millisecond, RateBps: 50e6, Seed: 4}
	return []Scenario{
		{Name: "tiny-line", Nodes: 3, Links: lab.Line(3, p), Sources: []int{0}, Txs: 200, Seed: 1, Timeout: 15 * time.Second},
		{Name: "tiny-warm", Nodes: 3, Links: lab.Line(3, clean), Sources: []int{0}, Txs: 200, Seed: 2, Warm: 0.9, Timeout: 15 * time.Second},
		{Name: "tiny-fanin", Nodes: 3, Links: []lab.Link{{A: 0, B: 2, Profile: clean}, {A: 1, B: 2, Profile: clean}},
			Sources: []int{0, 1}, Receiver: 2, DownlinkBps: 100e6, Txs: 200, Seed: 3, Timeout: 15 * time.Second},
	}
}

// TestEveryProtocolDeliversTheBlock runs the tiny scenarios and checks that
// every protocol gives every node the exact block, and the JSON shape.
func TestEveryProtocolDeliversTheBlock(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var all []ScenarioResult
	for _, sc := range tinyScenarios() {
		r, err := RunScenario(ctx, io.Discard, &sc, Options{})
		if err != nil {
			t.Fatalf("%s: %v", sc.Name, err)
		}
		if len(r.Results) != len(Protocols) {
			t.Fatalf("%s: %d results", sc.Name, len(r.Results))
		}
		for _, pr := range r.Results {
			if pr.Complete != 1 {
				t.Errorf("%s %s: complete %v (%s)", sc.Name, pr.Protocol, pr.Complete, pr.Note)
			}
			for _, n := range pr.Nodes {
				if !n.Exact || n.Arrival < 0 {
					t.Errorf("%s %s: node %d exact=%v arrival=%v", sc.Name, pr.Protocol, n.Node, n.Exact, n.Arrival)
				}
			}
			if pr.MaxMs == nil || pr.P50Ms == nil || pr.P90Ms == nil || *pr.P50Ms > *pr.P90Ms || *pr.P90Ms > *pr.MaxMs {
				t.Errorf("%s %s: percentiles %v %v %v", sc.Name, pr.Protocol, pr.P50Ms, pr.P90Ms, pr.MaxMs)
			}
			if sc.Warm == 0 && pr.BytesSent < int64(r.BlockBytes)/2 {
				t.Errorf("%s %s: only %d bytes sent for a %d-byte block", sc.Name, pr.Protocol, pr.BytesSent, r.BlockBytes)
			}
			if (sc.Warm > 0) != (pr.BytesPerKnownTx != nil) {
				t.Errorf("%s %s: bytes_per_known_tx %v", sc.Name, pr.Protocol, pr.BytesPerKnownTx)
			}
		}
		if r.LimitMs <= 0 {
			t.Errorf("%s: limit %v", sc.Name, r.LimitMs)
		}
		all = append(all, r)
	}
	// The warm compact relay sends short ids and the few missing bodies,
	// far less than the cold relays.
	warm := all[1]
	for _, pr := range warm.Results {
		if pr.Protocol == ProtoCompact && pr.BytesSent > int64(warm.BlockBytes) {
			t.Errorf("warm compact sent %d bytes for a %d-byte block", pr.BytesSent, warm.BlockBytes)
		}
	}

	for _, name := range []string{"bench.svg", "bench.png"} {
		path := filepath.Join(t.TempDir(), name)
		if err := Plot(path, all); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(path); err != nil || st.Size() < 1000 {
			t.Errorf("%s: %v, %v", name, st, err)
		}
	}
	if err := Plot(filepath.Join(t.TempDir(), "bench.pdf"), all); err == nil {
		t.Error("Plot accepted a .pdf")
	}

	path := filepath.Join(t.TempDir(), "bench.json")
	if err := WriteJSON(path, all); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(all) {
		t.Fatalf("%d scenarios in JSON", len(got))
	}
	wantTop := []string{"block_bytes", "limit_ms", "results", "scenario", "txs"}
	wantRes := []string{"bytes_per_known_tx", "bytes_sent", "complete", "max_ms", "p50_ms", "p90_ms", "protocol"}
	for _, s := range got {
		if k := keys(s); !slices.Equal(k, wantTop) {
			t.Errorf("scenario keys %v, want %v", k, wantTop)
		}
		res, _ := s["results"].([]any)
		if len(res) != len(Protocols) {
			t.Fatalf("%d results in JSON", len(res))
		}
		for k, r := range res {
			m := r.(map[string]any)
			if kk := keys(m); !slices.Equal(kk, wantRes) {
				t.Errorf("result keys %v, want %v", kk, wantRes)
			}
			if m["protocol"] != Protocols[k] {
				t.Errorf("protocol %v, want %v", m["protocol"], Protocols[k])
			}
		}
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
