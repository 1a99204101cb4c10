package bench

import (
	"math"
	"slices"
	"time"
)

// Protocol names, in the order they run.
const (
	ProtoTCPBlock     = "tcp-block"
	ProtoCompact      = "compact"
	ProtoBlocktorrent = "blocktorrent"
)

// Protocols lists every protocol in run order.
var Protocols = []string{ProtoTCPBlock, ProtoCompact, ProtoBlocktorrent}

// ScenarioResult is one scenario's outcome; it marshals to the --json
// format.
type ScenarioResult struct {
	Scenario   string           `json:"scenario"`
	BlockBytes int              `json:"block_bytes"`
	Txs        int              `json:"txs"`
	LimitMs    float64          `json:"limit_ms"`
	Results    []ProtocolResult `json:"results"`
	// Sync holds sync8's figures (BlockBytes is then the chain's size).
	Sync *SyncResult `json:"sync,omitempty"`

	Title   string          `json:"-"`
	Limits  []time.Duration `json:"-"` // per node
	Sources []int           `json:"-"`
}

// ProtocolResult is one protocol's outcome in a scenario. Percentiles are
// over the receiving nodes (not the sources), nearest rank, with a node
// that never got the exact block counted as infinitely late: a percentile
// that lands on such a node is null.
type ProtocolResult struct {
	Protocol string   `json:"protocol"`
	P50Ms    *float64 `json:"p50_ms"`
	P90Ms    *float64 `json:"p90_ms"`
	MaxMs    *float64 `json:"max_ms"`
	// BytesSent is every byte all nodes wrote to the network (payload and
	// framing, after the emulator's input) from submission until the last
	// node had the block.
	BytesSent int64 `json:"bytes_sent"`
	// BytesPerKnownTx is (BytesSent - the bodies of the transactions each
	// receiver lacked) / (the block's transactions the receivers already
	// held): what relaying a block costs per transaction the receiver
	// already knew. Null in cold scenarios.
	BytesPerKnownTx *float64 `json:"bytes_per_known_tx"`
	// Complete is the fraction of receiving nodes that ended with the
	// exact block.
	Complete float64 `json:"complete"`

	Nodes []NodeResult `json:"-"`
	Note  string       `json:"-"`
	// DuplicateBytes is what receivers got more than once (Blocktorrent's
	// jobs count it; the baselines never fetch a block twice).
	DuplicateBytes int64 `json:"-"`
	// DuplicatePushed and DuplicateFromComplete split DuplicateBytes by
	// cause: pushed rather than asked for, and sent by a peer that held
	// the whole block.
	DuplicatePushed, DuplicateFromComplete int64 `json:"-"`
	// KernelUDPDrops is how many datagrams the kernel dropped for full
	// socket receive buffers during the run, machine-wide (-1: unknown).
	KernelUDPDrops int64 `json:"-"`
}

// NodeResult is one node's outcome under one protocol.
type NodeResult struct {
	Node    int
	Source  bool
	Arrival time.Duration // from submission; -1 if the block never arrived
	Exact   bool          // holds a block byte-for-byte equal to the original
}

// summarize fills a ProtocolResult's statistics from its nodes.
func summarize(pr *ProtocolResult, knownTxs, lackedBytes int64) {
	var arr []float64
	for _, n := range pr.Nodes {
		if n.Source {
			continue
		}
		if n.Exact && n.Arrival >= 0 {
			arr = append(arr, ms(n.Arrival))
		} else {
			arr = append(arr, math.Inf(1))
		}
	}
	if len(arr) == 0 {
		return
	}
	slices.Sort(arr)
	pr.P50Ms = percentile(arr, 0.5)
	pr.P90Ms = percentile(arr, 0.9)
	pr.MaxMs = percentile(arr, 1)
	got := 0
	for _, a := range arr {
		if !math.IsInf(a, 1) {
			got++
		}
	}
	pr.Complete = float64(got) / float64(len(arr))
	if knownTxs > 0 {
		v := math.Round(100*float64(max(0, pr.BytesSent-lackedBytes))/float64(knownTxs)) / 100
		pr.BytesPerKnownTx = &v
	}
}

// percentile is the nearest-rank percentile of sorted values; nil if it is
// infinite.
func percentile(sorted []float64, p float64) *float64 {
	k := int(math.Ceil(p*float64(len(sorted)))) - 1
	k = min(max(k, 0), len(sorted)-1)
	v := sorted[k]
	if math.IsInf(v, 1) {
		return nil
	}
	return &v
}

// ms converts to milliseconds rounded to 0.1 ms.
func ms(d time.Duration) float64 { return math.Round(float64(d)/1e5) / 10 }
