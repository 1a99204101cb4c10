package job

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the engine's Prometheus collectors. Each node has its own
// registry, so several nodes can run in one process (tests, demo, bench).
type Metrics struct {
	JobsOpened      prometheus.Counter
	JobsCompleted   prometheus.Counter
	CompleteSeconds prometheus.Histogram
	Rejected        *prometheus.CounterVec
	Duplicate       prometheus.Counter
	Wasted          prometheus.Counter
	Dropped         prometheus.Counter
	Pushed          prometheus.Counter
	Served          prometheus.Counter
	DataOut         prometheus.Counter
	Requests        prometheus.Counter
	Timeouts        prometheus.Counter
	ShortUnresolved prometheus.Counter
	JobsIgnored     prometheus.Counter
	JobsExpired     prometheus.Counter
	FragsDropped    prometheus.Counter
}

// NewMetrics creates the collectors and registers them with reg when reg is
// not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		JobsOpened:    prometheus.NewCounter(prometheus.CounterOpts{Name: "blocktorrent_jobs_opened_total", Help: "Jobs opened (local and from peers)."}),
		JobsCompleted: prometheus.NewCounter(prometheus.CounterOpts{Name: "blocktorrent_jobs_completed_total", Help: "Blocks completed from the network."}),
		CompleteSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "blocktorrent_job_complete_seconds", Help: "Time from a job's first data datagram to the whole block.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		Rejected:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "blocktorrent_rejected_total", Help: "Rejected data and misbehaviour, by reason."}, []string{"reason"}),
		Duplicate: prometheus.NewCounter(prometheus.CounterOpts{Name: "blocktorrent_duplicate_bytes_total", Help: "Bytes of data datagrams that brought nothing new."}),
		Wasted:    prometheus.NewCounter(prometheus.CounterOpts{Name: "blocktorrent_wasted_bytes_total", Help: "Bytes received for unknown jobs or past the unsolicited limit."}),
		Dropped:   prometheus.NewCounter(prometheus.CounterOpts{Name: "blocktorrent_dropped_messages_total", Help: "Messages dropped because a queue was full."}),
		Pushed:    prometheus.NewCounter(prometheus.CounterOpts{Name: "blocktorrent_pushed_bytes_total", Help: "Unsolicited bytes sent."}),
		Served:    prometheus.NewCounter(prometheus.CounterOpts{Name: "blocktorrent_served_groups_total", Help: "Node groups served on request."}),
		DataOut:   prometheus.NewCounter(prometheus.CounterOpts{Name: "blocktorrent_data_bytes_out_total", Help: "Bytes of job data datagrams sent."}),
		Requests:  prometheus.NewCounter(prometheus.CounterOpts{Name: "blocktorrent_requests_total", Help: "Group requests issued."}),
		Timeouts:  prometheus.NewCounter(prometheus.CounterOpts{Name: "blocktorrent_request_timeouts_total", Help: "Requests that timed out."}),
		ShortUnresolved: prometheus.NewCounter(prometheus.CounterOpts{Name: "blocktorrent_short_hashes_unresolved_total",
			Help: "Short leaf hashes the mempool could not resolve (asked for in full; never an offence)."}),
		JobsIgnored: prometheus.NewCounter(prometheus.CounterOpts{Name: "blocktorrent_jobs_ignored_total",
			Help: "OPEN_JOBs ignored past the per-peer or global limit on incomplete jobs."}),
		JobsExpired: prometheus.NewCounter(prometheus.CounterOpts{Name: "blocktorrent_jobs_expired_total",
			Help: "Incomplete jobs abandoned after making no verified progress."}),
		FragsDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "blocktorrent_fragments_dropped_total",
			Help: "Body fragments dropped because partial bodies were at their limit (per job, per sender or in all)."}),
	}
	if reg != nil {
		reg.MustRegister(m.JobsOpened, m.JobsCompleted, m.CompleteSeconds, m.Rejected, m.Duplicate,
			m.Wasted, m.Dropped, m.Pushed, m.Served, m.DataOut, m.Requests, m.Timeouts, m.ShortUnresolved, m.JobsIgnored, m.JobsExpired,
			m.FragsDropped)
	}
	return m
}
