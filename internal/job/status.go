package job

import (
	"context"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// JobStatus is one job as /status shows it.
type JobStatus struct {
	Block          string `json:"block"`
	State          string `json:"state"` // "open" or "complete"
	Txs            uint32 `json:"txs"`
	LeavesVerified int    `json:"leaves_verified"`
	Bodies         int    `json:"bodies"`
	Local          bool   `json:"local"`
	CompleteMs     int64  `json:"complete_ms"`      // first data datagram to whole block; -1 while open
	FirstForwardMs int64  `json:"first_forward_ms"` // first data datagram to the first forwarded; -1 if none
	BytesIn        int64  `json:"bytes_in"`
	BytesOut       int64  `json:"bytes_out"`
	DuplicateBytes int64  `json:"duplicate_bytes"`
	// DuplicatePushed and DuplicateFromComplete split DuplicateBytes: the
	// part that came pushed (not asked for), and the part that came from
	// peers holding the whole block.
	DuplicatePushed       int64  `json:"duplicate_pushed_bytes"`
	DuplicateFromComplete int64  `json:"duplicate_from_complete_bytes"`
	ForwardedEarlyBy      int64  `json:"forwarded_before_complete_bytes"`
	OpenedAt              string `json:"opened_at"`
	// FromMempool counts bodies taken from the mempool, not the network.
	FromMempool int `json:"bodies_from_mempool"`
	// ShortLeaves and ShortBytes count the leaves named by short hashes
	// and the bytes of their runs less the full hashes of unknown leaves:
	// ShortBytes/ShortLeaves is the cost of naming a known transaction.
	ShortLeaves int   `json:"short_leaves"`
	ShortBytes  int64 `json:"short_leaf_bytes"`
	// BodyRequests counts leaf groups whose bodies were requested.
	BodyRequests int `json:"body_requests"`
	// CompletedAt is when the block was whole here (zero while open).
	CompletedAt time.Time `json:"completed_at"`
}

// Status returns the engine's jobs, oldest first.
func (e *Engine) Status(ctx context.Context) ([]JobStatus, error) {
	var out []JobStatus
	err := e.call(ctx, func() {
		for _, id := range e.order {
			out = append(out, e.jobs[id].status())
		}
	})
	return out, err
}

// Block returns a completed block the engine still holds.
func (e *Engine) Block(ctx context.Context, hash chainhash.Hash) (*btcwire.MsgBlock, error) {
	var blk *btcwire.MsgBlock
	err := e.call(ctx, func() {
		for _, j := range e.jobs {
			if j.hash == hash {
				blk = j.block
			}
		}
	})
	return blk, err
}

func (j *job) status() JobStatus {
	s := JobStatus{
		Block:          j.hash.String(),
		State:          "open",
		Txs:            j.shape.Leaves(),
		LeavesVerified: j.st.LeavesVerified(),
		Bodies:         j.st.BodyCount(),
		Local:          j.local,
		CompleteMs:     -1,
		FirstForwardMs: -1,
		BytesIn:        j.bytesIn,
		BytesOut:       j.bytesOut,
		DuplicateBytes: j.dupBytes, DuplicatePushed: j.dupPushed, DuplicateFromComplete: j.dupFromComplete,
		OpenedAt: j.openedAt.UTC().Format(time.RFC3339Nano),
	}
	s.ForwardedEarlyBy = j.sentBeforeComplete
	s.FromMempool = j.fromMempool
	s.ShortLeaves, s.ShortBytes, s.BodyRequests = j.shortLeaves, j.shortBytes, j.bodyReqs
	start := j.firstData
	if start.IsZero() {
		start = j.openedAt
	}
	if !j.completeAt.IsZero() {
		s.CompletedAt = j.completeAt
		s.State = "complete"
		if !j.local {
			s.CompleteMs = j.completeAt.Sub(start).Milliseconds()
		} else {
			s.CompleteMs = 0
		}
	}
	if !j.firstSend.IsZero() {
		s.FirstForwardMs = j.firstSend.Sub(start).Milliseconds()
	}
	return s
}
