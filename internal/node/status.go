package node

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"sort"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/job"
	chainsync "github.com/blocktorrent/blocktorrent/internal/sync"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Status is what GET /status returns.
type Status struct {
	Network  string          `json:"network"`
	Addr     string          `json:"addr"`
	Height   uint32          `json:"height"`
	BestHash string          `json:"best_hash"`
	Peers    []PeerStatus    `json:"peers"`
	Jobs     []job.JobStatus `json:"jobs"`
	Bans     []Ban           `json:"bans"`
	UDP      UDPStatus       `json:"udp"`
	// Sync is the chain download (only with a DataDir).
	Sync *chainsync.Status `json:"sync,omitempty"`
}

// PeerStatus is one peer in /status.
type PeerStatus struct {
	Address   string         `json:"address"`
	RTTMs     float64        `json:"rtt_ms"`
	BytesIn   int64          `json:"bytes_in"`
	BytesOut  int64          `json:"bytes_out"`
	RateMbit  float64        `json:"pace_mbit"`
	Datagram  int            `json:"datagram"`
	Role      string         `json:"role"`
	Score     int            `json:"score"`
	Penalties map[string]int `json:"penalties,omitempty"`
	Dialer    bool           `json:"outbound"`
}

// UDPStatus counts datagrams dropped before reaching a session.
type UDPStatus struct {
	UnknownSource int64 `json:"unknown_source"`
	BadToken      int64 `json:"bad_token"`
	Replayed      int64 `json:"replayed"`
	Malformed     int64 `json:"malformed"`
	RateLimited   int64 `json:"rate_limited"`   // over the peer's own rate limit
	GlobalLimited int64 `json:"global_limited"` // over the node's global rate limit
}

// Status returns the node's state.
func (n *Node) Status(ctx context.Context) (Status, error) {
	best, height, _ := n.tip()
	st := Status{Network: n.params.Name, Addr: n.Addr(), Height: height, BestHash: best.String(), Peers: []PeerStatus{}}
	n.mu.Lock()
	for _, s := range n.sessions {
		in, out := s.Traffic()
		score, reasons := s.Score()
		st.Peers = append(st.Peers, PeerStatus{
			Address: s.String(), RTTMs: float64(s.RTT().Microseconds()) / 1000,
			BytesIn: in, BytesOut: out, RateMbit: s.PaceRate() * 8 / 1e6, Datagram: s.MaxDatagram(),
			Role: s.Params().Role.String(), Score: score, Penalties: reasons, Dialer: s.Dialer(),
		})
	}
	n.mu.Unlock()
	sort.Slice(st.Peers, func(i, j int) bool { return st.Peers[i].Address < st.Peers[j].Address })
	jobs, err := n.engine.Status(ctx)
	if err != nil {
		return st, err
	}
	st.Jobs = jobs
	if st.Jobs == nil {
		st.Jobs = []job.JobStatus{}
	}
	st.Bans = n.bans.list(time.Now())
	if n.cs != nil {
		ss := n.cs.syncer.Status(ctx)
		st.Sync = &ss
	}
	st.UDP = UDPStatus{
		UnknownSource: n.sock.Stats.UnknownSource.Load(), BadToken: n.sock.Stats.BadToken.Load(),
		Replayed: n.sock.Stats.Replayed.Load(), Malformed: n.sock.Stats.Malformed.Load(),
		RateLimited: n.sock.Stats.RateLimited.Load(), GlobalLimited: n.sock.Stats.GlobalLimited.Load(),
	}
	return st, nil
}

// serveStatus starts the HTTP status listener.
func (n *Node) serveStatus() error {
	ln, err := net.Listen("tcp", n.cfg.Status)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		st, err := n.Status(ctx)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(st)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{}))
	n.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	n.statusAddr = ln.Addr().String()
	n.goFunc(func() { _ = n.http.Serve(ln) })
	return nil
}

// StatusAddr returns the address the status server listens on.
func (n *Node) StatusAddr() string { return n.statusAddr }

// nodeMetrics are per-peer and chain gauges collected at scrape time.
type nodeMetrics struct{ n *Node }

var (
	descPeerIn   = prometheus.NewDesc("blocktorrent_peer_bytes_in_total", "Bytes received from a peer (TCP and UDP).", []string{"peer"}, nil)
	descPeerOut  = prometheus.NewDesc("blocktorrent_peer_bytes_out_total", "Bytes sent to a peer (TCP and UDP).", []string{"peer"}, nil)
	descPeerRate = prometheus.NewDesc("blocktorrent_peer_pace_bits_per_second", "Pacing rate toward a peer.", []string{"peer"}, nil)
	descPeerRTT  = prometheus.NewDesc("blocktorrent_peer_rtt_seconds", "Smoothed round-trip time to a peer.", []string{"peer"}, nil)
	descHeight   = prometheus.NewDesc("blocktorrent_height", "Height of the best block.", nil, nil)
	descPeers    = prometheus.NewDesc("blocktorrent_peers", "Connected peers.", nil, nil)
)

// newNodeMetrics registers n's gauges with its registry.
func newNodeMetrics(n *Node) {
	n.reg.MustRegister(&nodeMetrics{n})
}

// Describe implements prometheus.Collector.
func (m *nodeMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPeerIn, descPeerOut, descPeerRate, descPeerRTT, descHeight, descPeers} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *nodeMetrics) Collect(ch chan<- prometheus.Metric) {
	n := m.n
	_, height, _ := n.tip()
	ch <- prometheus.MustNewConstMetric(descHeight, prometheus.GaugeValue, float64(height))
	n.mu.Lock()
	defer n.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(descPeers, prometheus.GaugeValue, float64(len(n.sessions)))
	for _, s := range n.sessions {
		in, out := s.Traffic()
		name := s.String()
		ch <- prometheus.MustNewConstMetric(descPeerIn, prometheus.CounterValue, float64(in), name)
		ch <- prometheus.MustNewConstMetric(descPeerOut, prometheus.CounterValue, float64(out), name)
		ch <- prometheus.MustNewConstMetric(descPeerRate, prometheus.GaugeValue, s.PaceRate()*8, name)
		ch <- prometheus.MustNewConstMetric(descPeerRTT, prometheus.GaugeValue, s.RTT().Seconds(), name)
	}
}
