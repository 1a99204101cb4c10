package job

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
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
	start uint32 // first node or leaf requested (bodies: may differ from the key's group start)
	count uint32
	bytes int
	sent  time.Time
	tries int
}

// Timing of the scheduler.
const (
	stateInterval = 2 * time.Millisecond  // JOB_STATE batching
	lostGrace     = 5 * time.Millisecond  // reordering allowance
	pushIdleMin   = 10 * time.Millisecond // a pusher silent this long is idle
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
	tellNoPush := jp.noPush && !jp.noPushSent
	if jp.stateVer == j.version && since < repeat && !tellNoPush {
		return repeat - since
	}
	m := &wire.JobState{JobID: j.id}
	if jp.noPush {
		m.Flags |= wire.JobStateNoPush
	}
	if j.st.Complete() {
		// Completion is announced at least once to every peer that knows
		// the job, complete ones included: the peer that offered it counts
		// it against our MAX_JOBS until it hears.
		if !tellNoPush && jp.toldComplete && (jp.completeAcked || !jp.complete) && (jp.complete || (jp.stateVer == j.version && since < 4*repeat)) {
			return time.Hour
		}
		if jp.toldComplete && !jp.completeAcked && since < repeat {
			// Repeated until acknowledged: a lost announcement would hold
			// one of the peer's MAX_JOBS slots at its sender for good.
			return repeat - since
		}
		jp.toldComplete = true
		m.Flags |= wire.JobStateComplete
	} else {
		room := ps.payloadRoom() - 8 - 4 - 1 - 2
		var nodes, bodies []treestate.Range
		for _, l := range j.tiers[1:] {
			nodes = append(nodes, j.st.Missing(jp.told, l)...)
		}
		bodies = j.st.MissingBodies(jp.told)
		if e.pushingTo(ps, jp) {
			// What this node will push to the peer is announced once it
			// has been pushed, so the peer does not ask for data that is
			// merely waiting for the pacer.
			nodes = onlyCovered(nodes, jp.covered, false)
			bodies = onlyCovered(bodies, jp.covered, true)
		}
		nodes, room = fitRanges(nodes, room/2+room%2)
		bodies, _ = fitRanges(bodies, room+room/2)
		if len(nodes) == 0 && len(bodies) == 0 && !tellNoPush {
			jp.stateVer = j.version
			return time.Hour
		}
		m.Nodes = treestate.RangesToWorkout(nodes)
		m.Bodies = treestate.RangesToWorkout(bodies)
	}
	jp.stateSeq++
	m.StateSeq = jp.stateSeq
	if tellNoPush {
		jp.noPushSent = true
	}
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
	if jp.complete && !jp.liar {
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

// request expires timed-out requests and issues new ones: every group
// whose parent is verified and that some peer holds is asked of the
// eligible holder expected to deliver it first (see eligible).
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
			// A stall is four timeouts in a row for the job, the peer
			// having sent nothing at all, for any job, for the last whole
			// timeout (a lossy but live peer still acknowledges and
			// answers; a busy one is serving other jobs), scored at most
			// once a second per peer.
			if jp.timeouts >= 4 && now.Sub(ps.lastRecv) > to && now.Sub(ps.stallAt) > time.Second {
				jp.timeouts = 0
				ps.stallAt = now
				e.penalize(ps, ReasonStall, errors.New("four requests in a row unanswered"))
			}
			e.unanswered(j, ps, jp, r, now)
		} else if to-age < wait {
			wait = to - age
		}
	}
	// Collect the missing groups some peer holds, node tiers top down and
	// then bodies; each is considered once.
	type cand struct {
		key  reqKey
		g    treestate.Range
		body bool
	}
	var cands []cand
	seen := make(map[reqKey]bool)
	for k := 1; k < len(j.tiers); k++ {
		level := j.tiers[k]
		for _, jp := range j.peers {
			for _, r := range j.st.Wanted(j.holder(jp), level) {
				for idx := r.Start; idx < r.End(); {
					g := groupOf(j, k, idx)
					idx = g.End()
					key := reqKey{g.Level, g.Start}
					if seen[key] {
						continue
					}
					seen[key] = true
					if e.needGroup(j, k, g) {
						cands = append(cands, cand{key, g, false})
					}
				}
			}
		}
	}
	avg := 400
	if j.bodyCount > 0 {
		avg = int(j.bodyBytes / j.bodyCount)
	}
	for _, jp := range j.peers {
		for _, r := range j.st.WantedBodies(j.holder(jp)) {
			for idx := r.Start; idx < r.End(); {
				g := bodyGroup(j, idx)
				idx = g.End()
				key := reqKey{bodyTier, g.Start}
				if seen[key] {
					continue
				}
				seen[key] = true
				if _, ok := j.reqs[key]; ok {
					continue
				}
				if g = clipVerifiedWithoutBody(j, g); g.Count > 0 {
					cands = append(cands, cand{key, g, true})
				}
			}
		}
	}
	gets := map[PeerID]*pendingGets{}
	issued := 0
	for _, c := range cands {
		if issued >= maxReqPerTick {
			wait = 0
			break
		}
		ps, retry := e.pick(j, c.key, c.g, c.body, now)
		if ps == nil {
			if retry > 0 && retry < wait {
				wait = retry
			}
			continue
		}
		bytes := 32 * int(c.g.Count)
		if c.body {
			bytes = avg * int(c.g.Count)
		}
		gets[ps.p.ID()] = gets[ps.p.ID()].add(ps, c.g, c.body)
		e.track(j, ps, c.key, c.g.Start, c.g.Count, bytes, now)
		if c.body {
			j.bodyReqs++
		}
		issued++
	}
	for _, pg := range gets {
		pg.flush(e, j)
	}
	return wait
}

// A peer that announces data it does not deliver while staying talkative
// (the silence rule in request misses it): maxUnanswered request batches
// in a row timed out, spanning at least unansweredSpan, with no response
// datagram from the peer in between.
const (
	maxUnanswered  = 8
	unansweredSpan = time.Second
)

// unanswered counts a timed-out request r to a peer. Requests issued
// together (one tick, often one datagram) count once, so one lost datagram
// is one miss: with 5% loss each way about one batch in ten goes
// unanswered, and eight in a row about once in 10^8; the span keeps a
// burst of late answers from an honest but busy peer from counting as
// many. Past both limits the peer is scored `stall` and its announcements
// for j are no longer believed: it is taken to hold only what it has sent,
// so requests go to honest holders.
func (e *Engine) unanswered(j *job, ps *peerState, jp *jobPeer, r *request, now time.Time) {
	if jp.liar || !r.sent.After(jp.missedAt) {
		return
	}
	if jp.unanswered == 0 {
		jp.missFrom = r.sent
	}
	jp.missedAt = r.sent
	jp.unanswered++
	if jp.unanswered < maxUnanswered || now.Sub(jp.missFrom) < unansweredSpan {
		return
	}
	jp.unanswered = 0
	jp.liar = true
	jp.has = treestate.NewSet(j.shape)
	for _, lr := range lapRanges(j) {
		_ = jp.has.AddRange(lr)
	}
	clear(jp.heard)
	e.penalize(ps, ReasonStall, fmt.Errorf("%d request batches in %v unanswered while the peer kept talking",
		maxUnanswered, now.Sub(jp.missFrom).Round(time.Millisecond)))
}

// bodyGroup returns the leaf-tier group holding leaf idx: bodies are
// requested a leaf group at a time.
func bodyGroup(j *job, idx uint32) treestate.Range {
	if len(j.tiers) == 1 {
		return treestate.Range{Level: j.shape.Depth(), Start: 0, Count: j.shape.Leaves()}
	}
	return groupOf(j, len(j.tiers)-1, idx)
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

// needGroup reports whether group g of tier k is worth requesting: its
// parent is verified, it is not all verified, and it is not in flight.
func (e *Engine) needGroup(j *job, k int, g treestate.Range) bool {
	if _, ok := j.reqs[reqKey{g.Level, g.Start}]; ok {
		return false
	}
	parent := merkle.Pos{Level: j.tiers[k-1], Index: g.Start >> (g.Level - j.tiers[k-1])}
	if _, ok := j.st.Verified(parent); !ok {
		return false
	}
	return !j.st.HasRange(g)
}

// eligible reports whether the group named key may be asked of the peer
// now, and if not, how long until it may. A group a pusher skipped (a gap
// in its push order) is due from any holder after lostGrace. Otherwise a
// peer that is pushing this job to us is left to push it; a peer that is
// not is asked once it has announced the group long enough ago for data
// already on the way to have landed: max(20 ms, RTT/2).
func (e *Engine) eligible(j *job, jp *jobPeer, ps *peerState, key reqKey, now time.Time) (bool, time.Duration) {
	if t, ok := j.lost[key]; ok {
		if d := now.Sub(t); d < lostGrace {
			return false, lostGrace - d
		}
		return true, 0
	}
	rtt := ps.p.RTT()
	if !jp.pushAt.IsZero() && now.Sub(jp.pushAt) < max(pushIdleMin, rtt/4) {
		return false, max(pushIdleMin, rtt/4)
	}
	heard, ok := jp.heard[key]
	if !ok {
		heard = jp.completeAt
	}
	wait := max(20*time.Millisecond, rtt/2)
	if d := now.Sub(heard); d < wait {
		return false, wait - d
	}
	return true, 0
}

// markGaps notes the items a pusher skipped: a pusher sends in index order,
// so when its item at index cur follows one that ended at prev, the groups
// between that we still lack were probably lost. A pusher that wrapped
// around (cur < prev) marks nothing.
func (e *Engine) markGaps(j *job, jp *jobPeer, level uint8, prev, cur uint32, now time.Time) {
	if cur <= prev {
		return
	}
	body := level == bodyTier
	k := len(j.tiers) - 1
	if !body {
		if k = tierIndex(j, level); k <= 0 {
			return
		}
	}
	h := j.holder(jp)
	for idx := prev; idx < cur; {
		// A group counts when we lack it and the pusher held it: what it
		// lacked it will push when it has it.
		var g treestate.Range
		var missing bool
		if body {
			g = bodyGroup(j, idx)
			// Only the part of the group between the two pushed items; a
			// body whose leaf is not verified yet may be held pending, so
			// only verified leaves without a body count.
			gap := treestate.Range{Level: g.Level, Start: max(g.Start, prev)}
			gap.Count = min(g.End(), cur) - gap.Start
			missing = h.HasBodies(gap) && clipVerifiedWithoutBody(j, gap).Count > 0
		} else {
			g = groupOf(j, k, idx)
			missing = h.HasRange(g) && !j.st.HasRange(g)
		}
		idx = g.End()
		key := reqKey{level, g.Start}
		if _, ok := j.lost[key]; missing && !ok {
			j.lost[key] = now
		}
	}
}

// pick chooses, among the holders of g for which the request is eligible,
// the one expected to deliver it first: outstanding bytes over its rate
// plus half its round trip. Peers over their in-flight budget are passed
// over. When no holder is eligible yet it returns how long until one may be.
func (e *Engine) pick(j *job, key reqKey, g treestate.Range, body bool, now time.Time) (*peerState, time.Duration) {
	var best *peerState
	bestT := time.Duration(1<<62 - 1)
	retry := time.Duration(0)
	var only PeerID // during a witness recovery, bodies come from one peer
	if body && j.wit.active {
		if only = e.witnessPeer(j); only == 0 {
			return nil, 0
		}
	}
	for id, jp := range j.peers {
		ps := e.peers[id]
		if ps == nil || jp.closed || (only != 0 && id != only) {
			continue
		}
		h := j.holder(jp)
		if body && !h.HasBodies(g) || !body && !h.HasRange(g) {
			continue
		}
		if ok, d := e.eligible(j, jp, ps, key, now); !ok {
			if retry == 0 || d < retry {
				retry = d
			}
			continue
		}
		rate := max(ps.p.PaceRate(), 1)
		budget := int(rate*(ps.p.RTT()+50*time.Millisecond).Seconds()*2) + 64<<10
		if jp.inflight > budget {
			continue
		}
		t := time.Duration(float64(jp.inflight)/rate*float64(time.Second)) + ps.p.RTT()/2
		// Each recent timeout makes a peer look one timeout slower, so a
		// peer that stops answering loses its share to the others.
		t += time.Duration(jp.timeouts) * e.timeout(ps, jp)
		if t < bestT {
			best, bestT = ps, t
		}
	}
	return best, retry
}

// track records an outstanding request.
func (e *Engine) track(j *job, ps *peerState, key reqKey, start, count uint32, bytes int, now time.Time) {
	jp := j.peer(ps)
	r := j.reqs[key]
	tries := 0
	if r != nil {
		tries = r.tries
	}
	j.reqs[key] = &request{peer: ps.p.ID(), start: start, count: count, bytes: bytes, sent: now, tries: tries + 1}
	jp.inflight += bytes
	delete(j.lost, key)
	e.m.Requests.Inc()
}

// timeout is how long a request to ps may take: two round trips, the time
// to drain what is already outstanding to it (for every job), and a
// margin.
func (e *Engine) timeout(ps *peerState, jp *jobPeer) time.Duration {
	rate := max(ps.p.PaceRate(), 1)
	drain := time.Duration(float64(max(jp.inflight, ps.inflightAll)) / rate * 1.5 * float64(time.Second))
	base := 2*ps.p.RTT() + drain + 30*time.Millisecond
	if ps.srt > 0 {
		base = max(base, ps.srt+4*ps.srtVar+10*time.Millisecond)
	}
	return base
}

// settleRequests drops requests whose data has all arrived.
func (e *Engine) settleRequests(j *job, now time.Time) {
	for k, r := range j.reqs {
		var done bool
		if k.level == bodyTier {
			done = j.st.HasBodies(treestate.Range{Level: j.shape.Depth(), Start: r.start, Count: r.count})
		} else {
			done = j.st.HasRange(treestate.Range{Level: k.level, Start: r.start, Count: r.count})
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
			// The txids were right, so nobody is to blame by them; drop the
			// bodies that carry witness data and fetch them again from one
			// complete peer (§7.5, witness.go).
			dropped := 0
			for i, tx := range blk.Transactions {
				if tx.HasWitness() && j.st.RemoveBody(uint32(i)) {
					dropped++
				}
			}
			e.witnessMismatch(j)
			j.version++
			e.log.Warn("witness commitment mismatch; fetching witness bodies again", "block", j.hash, "bodies", dropped, "err", err)
			return
		}
	}
	j.block = blk
	j.completeAt = now
	// Outstanding requests are moot: their bytes no longer count as in
	// flight to their peers (timeout drains a peer's bytes over all jobs).
	for _, r := range j.reqs {
		if jp := j.peers[r.peer]; jp != nil {
			jp.inflight -= r.bytes
		}
	}
	j.reqs = map[reqKey]*request{}
	j.clearFrags()
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

// pushingTo reports whether this node is still pushing j to the peer.
func (e *Engine) pushingTo(ps *peerState, jp *jobPeer) bool {
	if !e.cfg.Push || !jp.pushTo {
		return false
	}
	return pushBudget(ps, jp)
}

// onlyCovered keeps the parts of ranges that set covers (as nodes, or as
// bodies when bodies is set).
func onlyCovered(ranges []treestate.Range, set *treestate.Set, bodies bool) []treestate.Range {
	var out []treestate.Range
	for _, r := range ranges {
		start, n := r.Start, uint32(0)
		for i := r.Start; i < r.End(); i++ {
			var has bool
			if bodies {
				has = set.HasBody(i)
			} else {
				has = set.Has(merkle.Pos{Level: r.Level, Index: i})
			}
			if has {
				if n == 0 {
					start = i
				}
				n++
				continue
			}
			if n > 0 {
				out = append(out, treestate.Range{Level: r.Level, Start: start, Count: n})
				n = 0
			}
		}
		if n > 0 {
			out = append(out, treestate.Range{Level: r.Level, Start: start, Count: n})
		}
	}
	return out
}

// tierIndex returns the index of level in j's tiers, or -1 when level is
// not a tier.
func tierIndex(j *job, level uint8) int {
	for k, t := range j.tiers {
		if t == level {
			return k
		}
	}
	return -1
}
