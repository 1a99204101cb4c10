package job

import (
	"time"

	"github.com/blocktorrent/blocktorrent/internal/wire"
)

// PeerID identifies a peer to the engine. The session layer assigns it.
type PeerID uint64

// Peer is the engine's view of one handshaken session. Implementations must
// be safe to call from the engine goroutine while their own goroutines run.
type Peer interface {
	// ID returns the peer's identifier.
	ID() PeerID
	// String names the peer for logs.
	String() string
	// SendUDP sends m in one datagram now and returns the datagram size. It
	// must not block for long.
	SendUDP(m wire.Message) (int, error)
	// SendTCP queues m on the control connection.
	SendTCP(m wire.Message) error
	// Params returns the peer's latest SET_PARAMS (defaults before one).
	Params() wire.SetParams
	// RTT returns the smoothed round-trip time, 0 when unknown.
	RTT() time.Duration
	// PaceRate returns the rate in bytes per second at which datagrams may
	// leave for this peer.
	PaceRate() float64
	// MaxDatagram returns the whole datagram size to use (header included).
	MaxDatagram() int
	// Penalize scores the peer for misbehaviour (docs/protocol.md §10).
	Penalize(reason string, points int)
	// ShortHashes reports whether the peer accepts short leaf hashes
	// (FEATURES bit 0 of its BTVERSION).
	ShortHashes() bool
}

// Penalty reasons and points of docs/protocol.md §10.
const (
	ReasonInvalidRun  = "invalid-run"
	ReasonInvalidBody = "invalid-body"
	ReasonBadPoW      = "bad-pow"
	ReasonMutated     = "mutated"
	ReasonUnrequested = "unrequested"
	ReasonProtocol    = "protocol"
	ReasonStall       = "stall"
)

// penalty returns the points of a reason.
func penalty(reason string) int {
	switch reason {
	case ReasonUnrequested, ReasonStall:
		return 10
	case ReasonProtocol:
		return 20
	default:
		return 100
	}
}

// peerState is the engine's per-peer bookkeeping, owned by the engine
// goroutine.
type peerState struct {
	p      Peer
	tokens float64   // pacing budget in bytes; may go negative
	refill time.Time // last token refill
	ctrl   []wire.Message
	resp   []*response
	rr     int           // round-robin position over jobs for pushes
	srt    time.Duration // smoothed request-to-response time
	srtVar time.Duration
	// since is when the peer was added: jobs opened before are offered
	// to it only as catch-up (see catchUp).
	since time.Time
	// lastRecv is when the peer last sent anything for any job; stallAt
	// when it was last scored `stall` (at most once a second per peer,
	// however many jobs time out at once).
	lastRecv time.Time
	stallAt  time.Time
	// inflightAll is the estimate of request bytes outstanding to the
	// peer over all jobs, summed at the start of each engine step: a
	// request waits behind all of them, not only its own job's.
	inflightAll int
	// excess counts OPEN_JOBs ignored past the job limits, decaying
	// (see admitJob); excessAt is when it was last updated.
	excess   float64
	excessAt time.Time
}

// sampleResponse folds one request's response time into the estimate
// (RFC 6298 smoothing, as for RTT).
func (ps *peerState) sampleResponse(d time.Duration) {
	if ps.srt == 0 {
		ps.srt, ps.srtVar = d, d/2
		return
	}
	diff := ps.srt - d
	if diff < 0 {
		diff = -diff
	}
	ps.srtVar = (3*ps.srtVar + diff) / 4
	ps.srt = (7*ps.srt + d) / 8
}

// refillTokens adds the budget earned since the last refill, capped at a
// burst of about 2 ms of sending (at least three datagrams).
func (ps *peerState) refillTokens(now time.Time) {
	rate := ps.p.PaceRate()
	burst := max(3*float64(ps.p.MaxDatagram()), rate*0.002)
	if !ps.refill.IsZero() {
		ps.tokens += rate * now.Sub(ps.refill).Seconds()
	}
	ps.tokens = min(ps.tokens, burst)
	ps.refill = now
}

// payloadRoom returns the payload bytes one datagram to this peer can carry.
func (ps *peerState) payloadRoom() int {
	return ps.p.MaxDatagram() - wire.DatagramHeaderSize
}

// sumInflight sets every peer's inflightAll from the jobs' per-peer
// estimates (once per engine step).
func (e *Engine) sumInflight() {
	for _, ps := range e.peers {
		ps.inflightAll = 0
	}
	for _, j := range e.jobs {
		for id, jp := range j.peers {
			if ps := e.peers[id]; ps != nil && jp.inflight > 0 {
				ps.inflightAll += jp.inflight
			}
		}
	}
}
