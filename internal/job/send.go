package job

import (
	"time"

	"github.com/blocktorrent/blocktorrent/internal/treestate"
	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chainhash/v2"
)

// response is a request from a peer still being served.
type response struct {
	j      *job
	reqID  uint32
	nodes  []treestate.Range // GET_NODES: flat ranges still to send
	leaves []treestate.Range // GET_TXS: leaf ranges still to send
	frag   uint32            // offset into the first leaf's body
	full   bool              // GET_NODES asked for full leaf hashes
}

// maxGroup is the largest number of full hashes in one NODES datagram: 32
// nodes of 32 bytes fit a 1,200-byte datagram with room for the headers.
const maxGroup = 32

// sendAll sends what each peer's pacer allows and returns how long until a
// peer that still has work may send again.
func (e *Engine) sendAll(now time.Time) time.Duration {
	wait := time.Hour
	for _, ps := range e.peers {
		ps.refillTokens(now)
		busy := false
		for {
			if len(ps.ctrl) > 0 {
				m := ps.ctrl[0]
				ps.ctrl[0] = nil
				ps.ctrl = ps.ctrl[1:]
				if o, ok := m.(udpOpenJob); ok {
					m = o.OpenJob
				}
				e.sendUDP(ps, m, nil)
				continue
			}
			if ps.tokens <= 0 {
				busy = true
				break
			}
			if e.sendResponse(ps, now) || e.sendPush(ps, now) {
				continue
			}
			break
		}
		if busy {
			rate := max(ps.p.PaceRate(), 1)
			wait = min(wait, time.Duration(-ps.tokens/rate*float64(time.Second))+50*time.Microsecond)
		}
	}
	return wait
}

// sendUDP sends m and charges the pacer; j, when set, is charged for a data
// datagram.
func (e *Engine) sendUDP(ps *peerState, m wire.Message, j *job) int {
	n, err := ps.p.SendUDP(m)
	if err != nil {
		e.log.Debug("send failed", "peer", ps.p, "type", m.Type(), "err", err)
		return 0
	}
	ps.tokens -= float64(n)
	if j != nil {
		j.bytesOut += int64(n)
		if j.firstSend.IsZero() {
			j.firstSend = time.Now()
		}
		if j.completeAt.IsZero() {
			j.sentBeforeComplete += int64(n)
		}
		e.m.DataOut.Add(float64(n))
	}
	return n
}

// sendResponse sends the next datagram of the oldest pending response.
func (e *Engine) sendResponse(ps *peerState, now time.Time) bool {
	for len(ps.resp) > 0 {
		r := ps.resp[0]
		if e.jobs[r.j.id] != r.j || (len(r.nodes) == 0 && len(r.leaves) == 0) {
			ps.resp = ps.resp[1:]
			continue
		}
		jp := r.j.peer(ps)
		if len(r.nodes) > 0 {
			rg := r.nodes[0]
			n := min(rg.Count, maxGroup)
			hs, ok := r.j.st.Hashes(rg.Level, rg.Start, n)
			r.nodes[0].Start += n
			r.nodes[0].Count -= n
			if r.nodes[0].Count == 0 {
				r.nodes = r.nodes[1:]
			}
			if !ok {
				continue // not all verified here: the peer asks someone else
			}
			e.sendNodes(ps, r.j, jp, r.reqID, rg.Level, rg.Start, hs, r.full)
			e.m.Served.Add(1)
			return true
		}
		m := &wire.Txs{JobID: r.j.id, ReqID: r.reqID}
		room := ps.payloadRoom() - 8 - 4 - 3
		room, r.leaves, r.frag = fillBodies(r.j, jp, m, room, r.leaves, r.frag)
		if len(m.Fragments) == 0 {
			r.leaves = nil
			continue
		}
		e.sendUDP(ps, m, r.j)
		return true
	}
	return false
}

// sendNodes sends one NODES datagram holding a flat run and marks it
// covered for the peer.
func (e *Engine) sendNodes(ps *peerState, j *job, jp *jobPeer, reqID uint32, level uint8, start uint32, hs []chainhash.Hash, full bool) int {
	run := wire.FlatRun(level, start, hs)
	if level == j.shape.Depth() {
		if !full && reqID == 0 && e.shortFor(ps) && len(j.tiers) > 1 {
			run = e.packLeafGroups(ps, j, jp, start, hs)
		} else {
			run = e.leafRun(ps, level, start, hs, full)
		}
	}
	m := &wire.Nodes{JobID: j.id, ReqID: reqID, Runs: wire.Workout{Runs: []wire.Run{run}}}
	_ = jp.covered.AddRange(treestate.Range{Level: level, Start: start, Count: uint32(run.Seq.Count)})
	return e.sendUDP(ps, m, j)
}

// packLeafGroups builds one short-hash run from the leaf group at start
// and the consecutive groups after it that the peer lacks, as many as fit a
// datagram: with 2–3 byte hashes one run names hundreds of leaves, so the
// run's few bytes of header vanish per leaf.
func (e *Engine) packLeafGroups(ps *peerState, j *job, jp *jobPeer, start uint32, hs []chainhash.Hash) wire.Run {
	k := len(j.tiers) - 1
	room := ps.payloadRoom() - 8 - 4 - 1
	run := e.leafRun(ps, j.shape.Depth(), start, hs, false)
	all := hs
	for range 64 {
		next := start + uint32(len(all))
		g := groupOf(j, k, next)
		if next >= j.shape.Leaves() || g.Start != next || jp.covered.HasRange(g) {
			break
		}
		more, ok := j.st.Hashes(g.Level, g.Start, g.Count)
		if !ok {
			break
		}
		cand := append(all[:len(all):len(all)], more...)
		r := e.leafRun(ps, j.shape.Depth(), start, cand, false)
		if len(wire.AppendRun(nil, &r, false)) > room {
			break
		}
		all, run = cand, r
	}
	return run
}

// fillBodies adds body fragments for the leaves of ranges to m, up to room
// bytes, starting frag bytes into the first leaf. It returns the room left,
// the ranges not yet done and the offset into the first of them.
func fillBodies(j *job, jp *jobPeer, m *wire.Txs, room int, ranges []treestate.Range, frag uint32) (int, []treestate.Range, uint32) {
	for len(ranges) > 0 && room > 16 {
		leaf := ranges[0].Start
		body := j.st.Body(leaf)
		if body == nil {
			ranges[0].Start++
			ranges[0].Count--
			if ranges[0].Count == 0 {
				ranges = ranges[1:]
			}
			frag = 0
			continue
		}
		rest := body[frag:]
		over := fragmentOverhead(leaf, len(body), frag, len(rest))
		if len(rest)+over > room {
			// The body does not fit: cut a fragment, unless the datagram
			// already carries something and the room left is small.
			if len(m.Fragments) > 0 && room < 300 {
				break
			}
			n := room - over
			if n <= 0 {
				break
			}
			m.Fragments = append(m.Fragments, wire.TxFragment{Leaf: leaf, Total: uint32(len(body)), Offset: frag, Data: rest[:n]})
			frag += uint32(n)
			room = 0
			break
		}
		m.Fragments = append(m.Fragments, wire.TxFragment{Leaf: leaf, Total: uint32(len(body)), Offset: frag, Data: rest})
		room -= len(rest) + over
		jp.covered.AddBody(leaf)
		frag = 0
		ranges[0].Start++
		ranges[0].Count--
		if ranges[0].Count == 0 {
			ranges = ranges[1:]
		}
	}
	return room, ranges, frag
}

// fragmentOverhead is the encoded size of a fragment's four varints.
func fragmentOverhead(leaf uint32, total int, off uint32, n int) int {
	return wire.VarintLen(uint64(leaf)) + wire.VarintLen(uint64(total)) + wire.VarintLen(uint64(off)) + wire.VarintLen(uint64(n))
}

// sendPush sends one unsolicited datagram to ps from the next job, in
// round robin, that has something the peer is not known to have.
func (e *Engine) sendPush(ps *peerState, now time.Time) bool {
	if !e.cfg.Push || len(e.order) == 0 {
		return false
	}
	for k := 0; k < len(e.order); k++ {
		ps.rr = (ps.rr + 1) % len(e.order)
		j := e.jobs[e.order[ps.rr]]
		if j == nil {
			continue
		}
		jp := j.peers[ps.p.ID()]
		if jp == nil || !jp.knows || !jp.pushTo || jp.complete || jp.closed {
			continue
		}
		if !pushBudget(ps, jp) {
			continue
		}
		if n := e.pushOne(ps, j, jp); n > 0 {
			jp.pushUsed += int64(n)
			e.m.Pushed.Add(float64(n))
			return true
		}
	}
	return false
}

// pushBudget reports whether one more datagram to ps fits what it accepts
// unsolicited for the job (its MAX_UNSOLICITED): a push is sent only when a
// whole datagram fits, so the receiver's count never passes its limit and
// it never scores this node `unrequested`.
func pushBudget(ps *peerState, jp *jobPeer) bool {
	limit := int64(ps.p.Params().MaxUnsolicited)
	return limit == wire.NoLimit || jp.pushUsed+int64(ps.p.MaxDatagram()) <= limit
}

// pushOne builds and sends the most useful datagram of j for the peer:
// upper tiers first, then leaf groups a little ahead of the bodies under
// them, so a relay can verify and forward bodies early.
func (e *Engine) pushOne(ps *peerState, j *job, jp *jobPeer) int {
	// Upper tiers, top down.
	for k := 1; k < len(j.tiers)-1; k++ {
		if n := e.pushGroup(ps, j, jp, k, 0); n > 0 {
			return n
		}
	}
	n := j.shape.Leaves()
	leafTier := len(j.tiers) - 1
	h, hok := uint32(0), false
	if leafTier > 0 {
		h, hok = nextFrom(j.st.NextMissing, jp.covered, j.shape.Depth(), jp.offset, n)
	}
	b, bok := e.skipKnownBodies(j, ps, jp, n)
	if hok && (!bok || ahead(jp.offset, h, n) <= ahead(jp.offset, b, n)+2*maxGroup) {
		if n := e.pushGroup(ps, j, jp, leafTier, h); n > 0 {
			return n
		}
	}
	if !bok {
		return 0
	}
	m := &wire.Txs{JobID: j.id}
	room := ps.payloadRoom() - 8 - 4 - 3
	for room > 64 {
		frag := uint32(0)
		if jp.bodyOff > 0 && jp.bodyLeaf == b {
			frag = jp.bodyOff
		}
		before := len(m.Fragments)
		room, _, frag = fillBodies(j, jp, m, room, []treestate.Range{{Level: j.shape.Depth(), Start: b, Count: 1}}, frag)
		if frag > 0 {
			// A large body was cut: the next datagram goes on from here.
			jp.bodyLeaf, jp.bodyOff = b, frag
			break
		}
		jp.bodyOff = 0
		if len(m.Fragments) == before {
			break // the next body does not fit what is left
		}
		if b, bok = e.skipKnownBodies(j, ps, jp, n); !bok {
			break
		}
	}
	if len(m.Fragments) == 0 {
		return 0
	}
	return e.sendUDP(ps, m, j)
}

// nextBody returns the next leaf, from the peer's rotation offset, whose
// body we have and the peer is not known to have.
func nextBody(j *job, jp *jobPeer, n uint32) (uint32, bool) {
	if jp.bodyOff > 0 {
		return jp.bodyLeaf, true
	}
	return nextFrom(func(s *treestate.Set, _ uint8, from uint32) (uint32, bool) {
		return j.st.NextMissingBody(s, from)
	}, jp.covered, 0, jp.offset, n)
}

// nextFrom searches [off, n) and then [0, off) with find.
func nextFrom(find func(*treestate.Set, uint8, uint32) (uint32, bool), set *treestate.Set, level uint8, off, n uint32) (uint32, bool) {
	if off >= n {
		off = 0
	}
	if i, ok := find(set, level, off); ok {
		return i, true
	}
	if off == 0 {
		return 0, false
	}
	i, ok := find(set, level, 0)
	if ok && i >= off {
		return 0, false
	}
	return i, ok
}

// ahead is how far i lies after off in rotation order over n items.
func ahead(off, i, n uint32) uint32 {
	if i >= off {
		return i - off
	}
	return n - off + i
}

// pushGroup sends the group of tier k that holds node index idx (or, for
// idx 0 with an upper tier, the first uncovered verified group) when the
// whole group is verified and the peer lacks part of it.
func (e *Engine) pushGroup(ps *peerState, j *job, jp *jobPeer, k int, idx uint32) int {
	level := j.tiers[k]
	if k < len(j.tiers)-1 {
		i, ok := j.st.NextMissing(jp.covered, level, 0)
		if !ok {
			return 0
		}
		idx = i
	}
	// Groups are verified whole, so a group with an unverified node is
	// rare (a foreign peer's odd-shaped lap); skip such groups, a bounded
	// number of them per call.
	for range 64 {
		g := groupOf(j, k, idx)
		if hs, ok := j.st.Hashes(level, g.Start, g.Count); ok {
			return e.sendNodes(ps, j, jp, 0, level, g.Start, hs, false)
		}
		i, ok := j.st.NextMissing(jp.covered, level, g.End())
		if !ok {
			return 0
		}
		idx = i
	}
	return 0
}

// groupOf returns the group of tier k (k ≥ 1) that holds node idx: the
// nodes of tier k under the same node of tier k-1.
func groupOf(j *job, k int, idx uint32) treestate.Range {
	level, parent := j.tiers[k], j.tiers[k-1]
	shift := level - parent
	start := idx >> shift << shift
	count := min(uint32(1)<<shift, j.shape.Count(level)-start)
	return treestate.Range{Level: level, Start: start, Count: count}
}
