package job

import (
	"bytes"
	"errors"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
	"github.com/blocktorrent/blocktorrent/internal/treestate"
	"github.com/blocktorrent/blocktorrent/internal/wire"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// Limits that bound what one peer can make the engine hold.
const (
	maxResponses   = 256  // pending responses per peer
	bodyTier       = 255  // pushIdx key for bodies
	maxServedNodes = 4096 // nodes per GET_NODES, as the spec limits
)

// duplicate accounts a data datagram that brought nothing new, by how it
// came (pushed or answering a request) and from whom (a peer with the whole
// block or a relay), so the waste can be traced to its cause.
func (e *Engine) duplicate(j *job, jp *jobPeer, reqID uint32, size int) {
	j.dupBytes += int64(size)
	if reqID == 0 {
		j.dupPushed += int64(size)
	}
	if jp.complete {
		j.dupFromComplete += int64(size)
	}
	e.m.Duplicate.Add(float64(size))
}

// unsolicited accounts an unrequested datagram and reports whether it is
// within what this node accepts from the peer for the job.
func (e *Engine) unsolicited(ps *peerState, jp *jobPeer, size int, now time.Time) bool {
	if jp.pushAt.IsZero() && !jp.complete {
		// A relay pushing the job to us. Relays push in arrival order, so
		// past the first maxRelayPushers they mostly duplicate each other:
		// ask the others to stop (complete sources push different parts
		// and stay welcome).
		if j := jp.job; j.relayPushers < maxRelayPushers {
			j.relayPushers++
		} else {
			jp.noPush = true
		}
	}
	jp.pushAt = now
	jp.recvUns += int64(size)
	limit := int64(e.cfg.Local.MaxUnsolicited)
	if limit != wire.NoLimit && jp.recvUns > limit {
		e.m.Wasted.Add(float64(size))
		e.penalize(ps, ReasonUnrequested, errors.New("unsolicited data past MAX_UNSOLICITED"))
		return false
	}
	return true
}

// dataIn accounts a NODES or TXS datagram from ps for job id and returns
// the job and the peer's view of it, or nil when the datagram is to be
// dropped (no such job, or unsolicited data past the peer's allowance).
func (e *Engine) dataIn(ps *peerState, id wire.JobID, reqID uint32, size int, now time.Time) (*job, *jobPeer) {
	j := e.jobs[id]
	if j == nil {
		e.m.Wasted.Add(float64(size))
		return nil, nil
	}
	jp := j.peer(ps)
	jp.knows = true
	j.bytesIn += int64(size)
	if j.firstData.IsZero() {
		j.firstData = now
	}
	if reqID == 0 && !e.unsolicited(ps, jp, size, now) {
		return nil, nil
	}
	if reqID != 0 {
		jp.timeouts = 0 // it answers requests, even if some datagrams are lost
		jp.unanswered = 0
	}
	return j, jp
}

// onNodes verifies a NODES datagram against what is already verified.
func (e *Engine) onNodes(ps *peerState, m *wire.Nodes, size int, now time.Time) {
	j, jp := e.dataIn(ps, m.JobID, m.ReqID, size, now)
	if j == nil {
		return
	}
	var nodes []merkle.Node
	for i := range m.Runs.Runs {
		run := &m.Runs.Runs[i]
		var ns []merkle.Node
		var err error
		if run.Seq.DefaultSize != 32 || len(run.Seq.Exceptions) > 0 {
			// Short leaf hashes: resolve them against the mempool. A
			// collision or a missing transaction is never an offence.
			ns, err = e.resolveRun(j, ps, run, now)
			if err != nil {
				e.penalize(ps, ReasonInvalidRun, err)
				return
			}
			if run.Level == j.shape.Depth() && m.ReqID == 0 {
				jp.pushIdx[run.Level] = run.Start + uint32(run.Seq.Count)
			}
			if ns == nil {
				continue
			}
		} else if ns, err = run.Nodes(); err != nil {
			e.penalize(ps, ReasonProtocol, err)
			return
		}
		nodes = append(nodes, ns...)
		if m.ReqID == 0 && len(ns) > 0 && run.Dir == wire.Flat {
			if prev, ok := jp.pushIdx[run.Level]; ok {
				e.markGaps(j, jp, run.Level, prev, run.Start, now)
			}
			jp.pushIdx[run.Level] = run.Start + uint32(len(ns))
		}
	}
	if len(nodes) == 0 {
		return
	}
	if j.st.Complete() {
		e.duplicate(j, jp, m.ReqID, size)
		return
	}
	newly, err := j.st.AddNodesFrom(sourceOf(ps), nodes)
	e.takeRejections(j)
	if err != nil {
		reason := ReasonInvalidRun
		switch {
		case errors.Is(err, merkle.ErrMutated):
			reason = ReasonMutated
		case errors.Is(err, treestate.ErrBadPos), errors.Is(err, merkle.ErrBadPos):
			reason = ReasonProtocol
		}
		e.penalize(ps, reason, err)
		return
	}
	for _, n := range nodes {
		jp.has.Add(n.Pos)
		jp.covered.Add(n.Pos)
		jp.told.Add(n.Pos)
	}
	if len(newly) == 0 {
		if j.st.PendingLen() == 0 || allVerified(j, nodes) {
			e.duplicate(j, jp, m.ReqID, size)
		}
		return
	}
	jp.timeouts = 0
	j.progressAt = now
	e.fillFromMempool(j, newly)
	e.verified(j, now)
	e.settleRequests(j, now)
}

// allVerified reports whether every node is verified already.
func allVerified(j *job, nodes []merkle.Node) bool {
	for _, n := range nodes {
		if _, ok := j.st.Verified(n.Pos); !ok {
			return false
		}
	}
	return true
}

// verified notes that j gained verified data: peers will hear of it in the
// next JOB_STATE and pushes pick it up at once.
func (e *Engine) verified(j *job, now time.Time) {
	j.version++
	// Bodies held until their leaf verified are stored by now; the list
	// is only drained so it does not grow.
	j.st.TakeNewBodies()
	if j.st.Complete() && j.completeAt.IsZero() {
		e.complete(j, now)
	}
}

// takeRejections penalizes the sources of pending data that later failed
// verification.
func (e *Engine) takeRejections(j *job) {
	for _, r := range j.st.TakeRejections() {
		for _, ps := range e.peers {
			if sourceOf(ps) == r.Source {
				reason := ReasonInvalidRun
				if errors.Is(r.Err, merkle.ErrMutated) {
					reason = ReasonMutated
				} else if errors.Is(r.Err, treestate.ErrBadBody) {
					reason = ReasonInvalidBody
				}
				e.penalize(ps, reason, r.Err)
			}
		}
	}
}

// onTxs reassembles bodies and keeps those whose txid is a verified leaf.
func (e *Engine) onTxs(ps *peerState, m *wire.Txs, size int, now time.Time) {
	j, jp := e.dataIn(ps, m.JobID, m.ReqID, size, now)
	if j == nil {
		return
	}
	useful := false
	for _, f := range m.Fragments {
		if f.Leaf >= j.shape.Leaves() {
			e.penalize(ps, ReasonProtocol, errors.New("body for a leaf outside the block"))
			return
		}
		if m.ReqID == 0 && f.Offset == 0 {
			if prev, ok := jp.pushIdx[bodyTier]; ok {
				e.markGaps(j, jp, bodyTier, prev, f.Leaf, now)
			}
			jp.pushIdx[bodyTier] = f.Leaf + 1
		}
		if j.st.HasBody(f.Leaf) || !e.bodyFromAllowed(j, ps.p.ID()) {
			continue
		}
		body, grew := e.reassemble(j, ps.p.ID(), f)
		if body == nil {
			useful = true // a fragment on its way to a body
			if _, ok := j.st.Verified(j.shape.Leaf(f.Leaf)); ok && grew {
				// A large body of a verified leaf arriving slowly is
				// progress (a lying sender is caught when it completes).
				j.progressAt = now
			}
			continue
		}
		var tx btcwire.MsgTx
		if err := tx.Deserialize(bytes.NewReader(body)); err != nil {
			e.penalize(ps, ReasonInvalidBody, err)
			return
		}
		if _, ok := j.st.Verified(j.shape.Leaf(f.Leaf)); !ok {
			// A body asked for to resolve a short-hash group: its txid
			// may complete the group (verified like any other group).
			if ns := e.resolveWaiting(j, f.Leaf, body); ns != nil {
				newly, err := j.st.AddNodesFrom(sourceOf(ps), ns)
				if err != nil {
					e.penalize(ps, ReasonInvalidRun, err)
					return
				}
				e.fillFromMempool(j, newly)
				useful = true
				j.progressAt = now
				continue
			}
		}
		stored, err := j.st.AddBodyFrom(sourceOf(ps), f.Leaf, tx.TxHash(), body)
		if err != nil {
			e.penalize(ps, ReasonInvalidBody, err)
			return
		}
		jp.has.AddBody(f.Leaf)
		jp.covered.AddBody(f.Leaf)
		jp.told.AddBody(f.Leaf)
		useful = useful || stored
		if stored {
			j.dropFrags(f.Leaf)
			j.progressAt = now
			j.bodyBytes += int64(len(body))
			j.bodyCount++
		}
	}
	e.takeRejections(j)
	if !useful {
		e.duplicate(j, jp, m.ReqID, size)
		return
	}
	jp.timeouts = 0
	e.verified(j, now)
	e.settleRequests(j, now)
}

// onJobState records what a peer has and acknowledges it.
func (e *Engine) onJobState(ps *peerState, m *wire.JobState, now time.Time) {
	j := e.jobs[m.JobID]
	if j == nil {
		return
	}
	jp := j.peer(ps)
	jp.knows = true
	if m.Flags&wire.JobStateComplete != 0 && !jp.complete {
		jp.complete, jp.completeAt = true, now
	}
	if m.Flags&wire.JobStateNoPush != 0 && jp.pushTo {
		jp.pushTo = false
		j.pushPeers--
	}
	sets := []*treestate.Set{jp.has, jp.covered, jp.told}
	if jp.liar {
		// Its announcements are not believed any more: what it holds is
		// what it has sent.
		sets = sets[1:]
	}
	rs, bs, err := addRuns(j, &m.Nodes, &m.Bodies, sets...)
	if err != nil {
		e.penalize(ps, ReasonProtocol, err)
		return
	}
	e.hear(j, jp, rs, bs, now)
	ack := wire.JobStateAck(*m)
	ps.ctrl = append(ps.ctrl, &ack)
}

// onJobStateAck records what a peer now knows we have.
func (e *Engine) onJobStateAck(ps *peerState, m *wire.JobStateAck) {
	j := e.jobs[m.JobID]
	if j == nil {
		return
	}
	jp := j.peer(ps)
	if m.Flags&wire.JobStateComplete != 0 {
		jp.completeAcked = true
	}
	if _, _, err := addRuns(j, &m.Nodes, &m.Bodies, jp.told); err != nil {
		e.penalize(ps, ReasonProtocol, err)
	}
}

// addRuns adds the flat runs of a JOB_STATE (nodes and bodies) to sets.
// It returns the decoded node and body ranges.
func addRuns(j *job, nodes, bodies *wire.Workout, sets ...*treestate.Set) (rs, bs []treestate.Range, err error) {
	if rs, err = treestate.RangesFromWorkout(j.shape, *nodes); err != nil {
		return nil, nil, err
	}
	if bs, err = treestate.RangesFromWorkout(j.shape, *bodies); err != nil {
		return nil, nil, err
	}
	for _, b := range bs {
		if b.Level != j.shape.Depth() {
			return nil, nil, errors.New("JOB_STATE bodies not at the leaf level")
		}
	}
	for _, s := range sets {
		for _, r := range rs {
			if err := s.AddRange(r); err != nil {
				return nil, nil, err
			}
		}
		for _, b := range bs {
			if err := s.AddBodies(b); err != nil {
				return nil, nil, err
			}
		}
	}
	return rs, bs, nil
}

// onGetNodes queues a response to GET_NODES.
func (e *Engine) onGetNodes(ps *peerState, m *wire.GetNodes, now time.Time) {
	j := e.jobs[m.JobID]
	if j == nil {
		return
	}
	rs, err := treestate.RangesFromWorkout(j.shape, m.Want)
	if err != nil || totalCount(rs) > maxServedNodes {
		e.penalize(ps, ReasonProtocol, errors.Join(errors.New("bad GET_NODES"), err))
		return
	}
	e.queueResponse(ps, &response{j: j, reqID: m.ReqID, nodes: rs, full: m.LeafHashSize == 32})
}

// onGetTxs queues a response to GET_TXS.
func (e *Engine) onGetTxs(ps *peerState, m *wire.GetTxs, now time.Time) {
	j := e.jobs[m.JobID]
	if j == nil {
		return
	}
	rs, err := treestate.RangesFromWorkout(j.shape, m.Leaves)
	if err == nil {
		for _, r := range rs {
			if r.Level != j.shape.Depth() {
				err = errors.New("GET_TXS names nodes above the leaves")
			}
		}
	}
	if err != nil || totalCount(rs) > maxServedNodes {
		e.penalize(ps, ReasonProtocol, errors.Join(errors.New("bad GET_TXS"), err))
		return
	}
	e.queueResponse(ps, &response{j: j, reqID: m.ReqID, leaves: rs})
}

// queueResponse adds a response, dropping it when the peer already has too
// many waiting (it will time out and ask again, perhaps elsewhere).
func (e *Engine) queueResponse(ps *peerState, r *response) {
	if len(ps.resp) >= maxResponses {
		e.m.Dropped.Inc()
		return
	}
	ps.resp = append(ps.resp, r)
}

func totalCount(rs []treestate.Range) int {
	n := 0
	for _, r := range rs {
		n += int(r.Count)
	}
	return n
}

// hear records when a peer announced each group of a JOB_STATE, so the
// scheduler can give data already on its way time to land.
func (e *Engine) hear(j *job, jp *jobPeer, rs, bs []treestate.Range, now time.Time) {
	note := func(key reqKey) {
		if _, ok := jp.heard[key]; !ok {
			jp.heard[key] = now
		}
	}
	for _, r := range rs {
		k := tierIndex(j, r.Level)
		if k <= 0 {
			continue
		}
		for idx := r.Start; idx < r.End(); {
			g := groupOf(j, k, idx)
			idx = g.End()
			note(reqKey{g.Level, g.Start})
		}
	}
	for _, r := range bs {
		for idx := r.Start; idx < r.End(); {
			g := bodyGroup(j, idx)
			idx = g.End()
			note(reqKey{bodyTier, g.Start})
		}
	}
}
