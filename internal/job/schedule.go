package job

import (
	"bytes"
	"errors"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/treestate"
	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// reqKey names one requested group: its level and first index, with
// bodies at level bodyTier.
type reqKey struct {
	level uint8
	start uint32
}

// request is one outstanding GET_NODES or GET_TXS.
type request struct {
	peer  PeerID
	count uint32
	bytes int
	sent  time.Time
	tries int
}

// Timing of the scheduler.
const (
	stateInterval = 2 * time.Millisecond  // JOB_STATE batching
	lostGrace     = 5 * time.Millisecond  // reordering allowance
	pushIdleMin   = 20 * time.Millisecond // a pusher silent this long is idle
	maxReqPerTick = 64                    // requests issued per job per tick
)

// tick sends due JOB_STATEs, expires and issues requests for j, and returns
// how soon it wants to run again.
func (e *Engine) tick(j *job, now time.Time) time.Duration {
	wait := 50 * time.Millisecond
	for _, ps := range e.peers {
		if w := e.flushState(j, ps, now); w < wait {
			wait = w
		}
	}
	if j.completeAt.IsZero() {
		if w := e.request(j, now); w < wait {
			wait = w
		}
	}
	return wait
}

// flushState sends JOB_STATE to ps when j has news for it, or repeats an
// unacknowledged one after a round trip.
func (e *Engine) flushState(j *job, ps *peerState, now time.Time) time.Duration {
	jp := j.peers[ps.p.ID()]
	if jp == nil || !jp.knows || jp.closed {
		return time.Hour
	}
	since := now.Sub(jp.stateAt)
	if since < stateInterval {
		return stateInterval - since
	}
	repeat := ps.p.RTT() + 10*time.Millisecond
	if jp.stateVer == j.version && since < repeat {
		return repeat - since
	}
	m := &wire.JobState{JobID: j.id}
	if j.st.Complete() {
		if jp.complete || (jp.stateVer == j.version && since < 4*repeat) {
			return time.Hour
		}
		m.Flags = wire.JobStateComplete
	} else {
		room := ps.payloadRoom() - 8 - 4 - 1 - 2
		var nodes, bodies []treestate.Range
		for _, l := range j.tiers[1:] {
			nodes = append(nodes, j.st.Missing(jp.told, l)...)
		}
		bodies = j.st.MissingBodies(jp.told)
		nodes, room = fitRanges(nodes, room/2+room%2)
		bodies, _ = fitRanges(bodies, room+room/2)
		if len(nodes) == 0 && len(bodies) == 0 {
			jp.stateVer = j.version
			return time.Hour
		}
		m.Nodes = treestate.RangesToWorkout(nodes)
		m.Bodies = treestate.RangesToWorkout(bodies)
	}
	jp.stateSeq++
	m.StateSeq = jp.stateSeq
	jp.stateAt = now
	jp.stateVer = j.version
	e.sendUDP(ps, m, nil)
	return stateInterval
}

// fitRanges keeps the leading ranges whose hashless encoding fits room
// bytes, and returns them with the room left.
func fitRanges(rs []treestate.Range, room int) ([]treestate.Range, int) {
	used := wire.VarintLen(uint64(len(rs)))
	for i, r := range rs {
		n := 1 + wire.VarintLen(uint64(r.Start)) + wire.VarintLen(uint64(r.Count))
		if used+n > room {
			return rs[:i], room - used
		}
		used += n
	}
	return rs, room - used
}

// holder returns the set of what a peer can serve.
func (j *job) holder(jp *jobPeer) *treestate.Set {
	if jp.complete {
		if j.all == nil {
			j.all = treestate.NewSet(j.shape)
			for l := uint8(0); l <= j.shape.Depth(); l++ {
				_ = j.all.AddRange(treestate.Range{Level: l, Count: j.shape.Count(l)})
			}
			_ = j.all.AddBodies(treestate.Range{Level: j.shape.Depth(), Count: j.shape.Leaves()})
		}
		return j.all
	}
	return jp.has
}

// request expires timed-out requests and issues new ones: for every group
// whose parent is verified and that some peer holds, ask the peer that
// should deliver it soonest. While a peer is pushing the job to us only
// the groups it skipped (likely lost) are asked for.
func (e *Engine) request(j *job, now time.Time) time.Duration {
	wait := 50 * time.Millisecond
	for k, r := range j.reqs {
		ps := e.peers[r.peer]
		if ps == nil {
			delete(j.reqs, k)
			continue
		}
		jp := j.peer(ps)
		to := e.timeout(ps, jp)
		if age := now.Sub(r.sent); age >= to {
			delete(j.reqs, k)
			jp.inflight -= r.bytes
			jp.timeouts++
			e.m.Timeouts.Inc()
			// A stall is four timeouts in a row with nothing useful from
			// the peer in between, scored at most once a second.
			if jp.timeouts >= 4 && now.Sub(jp.stallAt) > time.Second {
				jp.timeouts = 0
				jp.stallAt = now
				e.penalize(ps, ReasonStall, errors.New("four requests in a row unanswered"))
			}
		} else if to-age < wait {
			wait = to - age
		}
	}
	pushing := false
	for id, jp := range j.peers {
		if ps := e.peers[id]; ps != nil && !jp.pushAt.IsZero() && now.Sub(jp.pushAt) < max(pushIdleMin, 2*ps.p.RTT()) {
			pushing = true
		}
	}
	issued := 0
	var gets = map[PeerID]*pendingGets{}
	// Node groups, tier by tier.
	for k := 1; k < len(j.tiers) && issued < maxReqPerTick; k++ {
		level := j.tiers[k]
		for id, jp := range j.peers {
			ps := e.peers[id]
			if ps == nil {
				continue
			}
			for _, r := range j.st.Wanted(j.holder(jp), level) {
				for idx := r.Start; idx < r.End() && issued < maxReqPerTick; {
					g := groupOf(j, k, idx)
					idx = g.End()
					if e.wantGroup(j, k, g, pushing, now) {
						if p := e.pick(j, g, false, now); p != nil {
							gets[p.p.ID()] = gets[p.p.ID()].add(p, g, false)
							e.track(j, p, reqKey{g.Level, g.Start}, g.Count, 32*int(g.Count), now)
							issued++
						}
					}
				}
			}
		}
	}
	// Bodies of verified leaves, a leaf group at a time.
	leafTier := len(j.tiers) - 1
	avg := 400
	if j.bodyCount > 0 {
		avg = int(j.bodyBytes / j.bodyCount)
	}
	for id, jp := range j.peers {
		ps := e.peers[id]
		if ps == nil || issued >= maxReqPerTick {
			continue
		}
		for _, r := range j.st.WantedBodies(j.holder(jp)) {
			for idx := r.Start; idx < r.End() && issued < maxReqPerTick; {
				g := groupOf(j, max(leafTier, 1), idx)
				if leafTier == 0 {
					g = treestate.Range{Level: j.shape.Depth(), Start: 0, Count: j.shape.Leaves()}
				}
				idx = g.End()
				key := reqKey{bodyTier, g.Start}
				g = clipVerifiedWithoutBody(j, g)
				if g.Count == 0 {
					continue
				}
				if _, ok := j.reqs[key]; ok || !e.due(j, key, pushing, now) {
					continue
				}
				if p := e.pick(j, g, true, now); p != nil {
					gets[p.p.ID()] = gets[p.p.ID()].add(p, g, true)
					e.track(j, p, key, g.Count, avg*int(g.Count), now)
					issued++
				}
			}
		}
	}
	for _, pg := range gets {
		pg.flush(e, j)
	}
	if pushing {
		wait = min(wait, lostGrace)
	}
	return wait
}

// clipVerifiedWithoutBody narrows a leaf range to the span from the first to
// the last verified leaf that lacks a body.
func clipVerifiedWithoutBody(j *job, g treestate.Range) treestate.Range {
	lo, hi := g.End(), g.Start
	for i := g.Start; i < g.End(); i++ {
		if _, ok := j.st.Verified(j.shape.Leaf(i)); ok && !j.st.HasBody(i) {
			lo, hi = min(lo, i), i+1
		}
	}
	if hi <= lo {
		return treestate.Range{}
	}
	return treestate.Range{Level: g.Level, Start: lo, Count: hi - lo}
}

// wantGroup reports whether group g of tier k should be requested now: its
// parent is verified, it is not complete, not in flight, and due.
func (e *Engine) wantGroup(j *job, k int, g treestate.Range, pushing bool, now time.Time) bool {
	if _, ok := j.reqs[reqKey{g.Level, g.Start}]; ok {
		return false
	}
	parent := j.shape.Leaf(0)
	parent.Level = j.tiers[k-1]
	parent.Index = g.Start >> (g.Level - j.tiers[k-1])
	if _, ok := j.st.Verified(parent); !ok {
		return false
	}
	if j.st.HasRange(g) {
		return false
	}
	return e.due(j, reqKey{g.Level, g.Start}, pushing, now)
}

// due decides whether a missing item may be requested: always when nobody
// is pushing; while someone is, only when a pusher skipped it (a gap in its
// push order, see markGaps) and it stayed missing for lostGrace.
func (e *Engine) due(j *job, key reqKey, pushing bool, now time.Time) bool {
	if !pushing {
		return true
	}
	t, ok := j.lost[key]
	return ok && now.Sub(t) >= lostGrace
}

// markGaps notes the items a pusher skipped: a pusher sends in index order,
// so when its item at index cur follows one that ended at prev, the groups
// between that we still lack were probably lost. A pusher that wrapped
// around (cur < prev) marks nothing.
func (e *Engine) markGaps(j *job, level uint8, prev, cur uint32, now time.Time) {
	if cur <= prev {
		return
	}
	body := level == bodyTier
	k := len(j.tiers) - 1
	if !body {
		for k > 0 && j.tiers[k] != level {
			k--
		}
		if k == 0 {
			return
		}
	}
	for idx := prev; idx < cur; {
		g := groupOf(j, max(k, 1), idx)
		if len(j.tiers) == 1 {
			g = treestate.Range{Level: j.shape.Depth(), Start: 0, Count: j.shape.Leaves()}
		}
		idx = g.End()
		missing := false
		if body {
			for i := max(g.Start, prev); i < min(g.End(), cur); i++ {
				if !j.st.HasBody(i) {
					missing = true
					break
				}
			}
		} else {
			missing = !j.st.HasRange(g)
		}
		key := reqKey{level, g.Start}
		if _, ok := j.lost[key]; missing && !ok {
			j.lost[key] = now
		}
	}
}

// pick chooses the holder of g expected to deliver it first: outstanding
// bytes over its rate, plus half its round trip. Peers over their in-flight
// budget are passed over.
func (e *Engine) pick(j *job, g treestate.Range, body bool, now time.Time) *peerState {
	var best *peerState
	bestT := time.Duration(1<<62 - 1)
	for id, jp := range j.peers {
		ps := e.peers[id]
		if ps == nil || jp.closed {
			continue
		}
		h := j.holder(jp)
		if body {
			if !hasBodies(h, g) {
				continue
			}
		} else if !h.HasRange(g) {
			continue
		}
		rate := max(ps.p.PaceRate(), 1)
		budget := int(rate*(ps.p.RTT()+50*time.Millisecond).Seconds()*2) + 64<<10
		if jp.inflight > budget {
			continue
		}
		t := time.Duration(float64(jp.inflight)/rate*float64(time.Second)) + ps.p.RTT()/2
		if t < bestT {
			best, bestT = ps, t
		}
	}
	return best
}

func hasBodies(s *treestate.Set, g treestate.Range) bool {
	for i := g.Start; i < g.End(); i++ {
		if !s.HasBody(i) {
			return false
		}
	}
	return true
}

// track records an outstanding request.
func (e *Engine) track(j *job, ps *peerState, key reqKey, count uint32, bytes int, now time.Time) {
	jp := j.peer(ps)
	r := j.reqs[key]
	tries := 0
	if r != nil {
		tries = r.tries
	}
	j.reqs[key] = &request{peer: ps.p.ID(), count: count, bytes: bytes, sent: now, tries: tries + 1}
	jp.inflight += bytes
	delete(j.lost, key)
	e.m.Requests.Inc()
}

// timeout is how long a request to ps may take: two round trips, the time
// to drain what is already outstanding to it, and a margin.
func (e *Engine) timeout(ps *peerState, jp *jobPeer) time.Duration {
	rate := max(ps.p.PaceRate(), 1)
	drain := time.Duration(float64(jp.inflight) / rate * 1.5 * float64(time.Second))
	base := 2*ps.p.RTT() + drain + 30*time.Millisecond
	if ps.srt > 0 {
		base = max(base, ps.srt+4*ps.srtVar+10*time.Millisecond)
	}
	return base
}

// settleRequests drops requests whose data has all arrived.
func (e *Engine) settleRequests(j *job, now time.Time) {
	for k, r := range j.reqs {
		done := false
		if k.level == bodyTier {
			done = true
			for i := k.start; i < k.start+r.count; i++ {
				if !j.st.HasBody(i) {
					done = false
					break
				}
			}
		} else {
			done = j.st.HasRange(treestate.Range{Level: k.level, Start: k.start, Count: r.count})
		}
		if done {
			delete(j.reqs, k)
			delete(j.lost, k)
			if jp := j.peers[r.peer]; jp != nil {
				jp.inflight -= r.bytes
			}
			if ps := e.peers[r.peer]; ps != nil && r.tries == 1 {
				ps.sampleResponse(now.Sub(r.sent))
			}
		}
	}
}

// pendingGets collects one tick's requests to one peer into as few
// datagrams as possible.
type pendingGets struct {
	ps     *peerState
	nodes  []treestate.Range
	bodies []treestate.Range
}

func (pg *pendingGets) add(ps *peerState, g treestate.Range, body bool) *pendingGets {
	if pg == nil {
		pg = &pendingGets{ps: ps}
	}
	if body {
		pg.bodies = append(pg.bodies, g)
	} else {
		pg.nodes = append(pg.nodes, g)
	}
	return pg
}

// flush queues GET_NODES and GET_TXS datagrams for the collected ranges.
func (pg *pendingGets) flush(e *Engine, j *job) {
	room := pg.ps.payloadRoom() - 8 - 4 - 1 - 2
	for rs := pg.nodes; len(rs) > 0; {
		part, _ := fitRanges(rs, room)
		if len(part) == 0 {
			part = rs[:1]
		}
		rs = rs[len(part):]
		j.reqID++
		pg.ps.ctrl = append(pg.ps.ctrl, &wire.GetNodes{JobID: j.id, ReqID: j.reqID, LeafHashSize: 32, Want: treestate.RangesToWorkout(part)})
	}
	for rs := pg.bodies; len(rs) > 0; {
		part, _ := fitRanges(rs, room)
		if len(part) == 0 {
			part = rs[:1]
		}
		rs = rs[len(part):]
		j.reqID++
		pg.ps.ctrl = append(pg.ps.ctrl, &wire.GetTxs{JobID: j.id, ReqID: j.reqID, Leaves: treestate.RangesToWorkout(part)})
	}
}

// complete assembles the block, checks it and hands it on.
func (e *Engine) complete(j *job, now time.Time) {
	blk := &btcwire.MsgBlock{Header: j.header, Transactions: make([]*btcwire.MsgTx, j.shape.Leaves())}
	witness := false
	for i := range blk.Transactions {
		tx := new(btcwire.MsgTx)
		if err := tx.Deserialize(bytes.NewReader(j.st.Body(uint32(i)))); err != nil {
			e.log.Error("verified body does not decode", "block", j.hash, "leaf", i, "err", err)
			return
		}
		witness = witness || tx.HasWitness()
		blk.Transactions[i] = tx
	}
	if witness {
		if err := blockchain.ValidateWitnessCommitment(btcutil.NewBlock(blk)); err != nil {
			e.log.Warn("witness commitment mismatch; block not handed on", "block", j.hash, "err", err)
			return
		}
	}
	j.block = blk
	j.completeAt = now
	j.reqs = map[reqKey]*request{}
	j.frags = map[uint32]*fragBuf{}
	e.m.JobsCompleted.Inc()
	if !j.firstData.IsZero() {
		e.m.CompleteSeconds.Observe(now.Sub(j.firstData).Seconds())
	}
	e.log.Info("block complete", "block", j.hash, "txs", j.shape.Leaves(),
		"ms", now.Sub(j.openedAt).Milliseconds(), "in", j.bytesIn, "dup", j.dupBytes,
		"forwarded_before_complete", j.sentBeforeComplete)
	if e.cfg.OnBlock != nil {
		e.cfg.OnBlock(blk)
	}
}
