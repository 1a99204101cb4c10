package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestDemo runs a reduced demo and checks that every node completed and
// the report names them all.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := DefaultOptions()
	o.Nodes, o.Txs, o.Delay, o.Bars = 4, 400, 5*time.Millisecond, false
	var out bytes.Buffer
	res, err := Run(ctx, &out, o)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if len(res) != 3 {
		t.Fatalf("%d results, want 3", len(res))
	}
	for _, r := range res {
		if r.Complete <= 0 || r.BytesIn == 0 {
			t.Fatalf("node %d: %+v", r.Node, r)
		}
	}
	if !strings.Contains(out.String(), "store-and-forward") {
		t.Fatalf("report lacks the comparison:\n%s", out.String())
	}
}
