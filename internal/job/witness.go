package job

import (
	"errors"
	"time"
)

// witnessState is a job's recovery from a witness commitment mismatch
// (docs/protocol.md §7.5), owned by the engine goroutine like the job.
//
// A body is accepted when its txid matches a verified leaf, but the txid
// does not cover the witness: a peer can send a body whose witness it
// altered, and only the assembled block's witness commitment shows it.
// Nor can the node tell who lied: a relay forwards bodies before it holds
// the whole block, so an honest relay may pass on a liar's witness. So on
// a mismatch the node drops every witness-bearing body and fetches them
// all again from one peer that announced the block complete (a complete
// peer has checked the commitment itself) and from no one else. If that
// round fails too, that peer claimed a block it could not have checked:
// it is scored invalid-body and not asked again, and the next complete
// peer is tried. A job therefore costs a liar at most one round of witness
// bodies per lie, instead of a loop of refetches from whoever is fastest.
type witnessState struct {
	active bool            // a mismatch was seen; bodies come from peer only
	peer   PeerID          // the complete peer asked this round; 0 if none yet
	bad    map[PeerID]bool // peers that served a failed round or stopped answering
}

// witnessTimeouts is how many requests in a row may time out at the
// chosen peer before the next complete peer is tried (without a penalty:
// it may only be slow).
const witnessTimeouts = 3

// witnessMismatch records a failed commitment check: a round served by
// one complete peer convicts it.
func (e *Engine) witnessMismatch(j *job) {
	w := &j.wit
	if w.bad == nil {
		w.bad = make(map[PeerID]bool)
	}
	if w.active && w.peer != 0 {
		w.bad[w.peer] = true
		if ps := e.peers[w.peer]; ps != nil {
			e.penalize(ps, ReasonInvalidBody, errors.New("a peer that announced the block complete served witnesses that break its commitment"))
		}
	}
	w.active, w.peer = true, 0
}

// witnessPeer returns the peer that may supply j's bodies while it
// recovers from a mismatch, choosing one if needed: the complete peer
// with the shortest round trip that has not failed a round. It returns 0
// when no peer qualifies yet (no body is requested until one does).
func (e *Engine) witnessPeer(j *job) PeerID {
	w := &j.wit
	if w.peer != 0 {
		jp, ps := j.peers[w.peer], e.peers[w.peer]
		switch {
		case jp == nil || ps == nil || jp.closed:
			w.peer = 0
		case jp.timeouts >= witnessTimeouts:
			w.bad[w.peer] = true
			w.peer = 0
		default:
			return w.peer
		}
	}
	var best time.Duration
	for id, jp := range j.peers {
		ps := e.peers[id]
		if ps == nil || jp.closed || !jp.complete || w.bad[id] {
			continue
		}
		if rtt := ps.p.RTT(); w.peer == 0 || rtt < best {
			w.peer, best = id, rtt
		}
	}
	return w.peer
}

// bodyFromAllowed reports whether a body for j may be taken from peer:
// always, except during a witness recovery, when only the chosen peer's
// are.
func (e *Engine) bodyFromAllowed(j *job, peer PeerID) bool {
	return !j.wit.active || peer == e.witnessPeer(j)
}
