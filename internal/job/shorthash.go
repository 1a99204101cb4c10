package job

import (
	"errors"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/mempool"
	"github.com/blocktorrent/blocktorrent/internal/merkle"
	"github.com/blocktorrent/blocktorrent/internal/treestate"
	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chainhash/v2"
)

// This file connects the job engine to the mempool: short leaf hashes on
// the way out, their resolution on the way in, and bodies the node already
// holds (docs/protocol.md §8).

// shortFor reports whether leaf groups to ps go with short hashes.
func (e *Engine) shortFor(ps *peerState) bool {
	return e.cfg.Mempool != nil && ps.p.ShortHashes()
}

// leafRun builds the run of a leaf group for ps: short hashes when the peer
// accepts them (leaves this node did not have before the block go as full
// hashes), full hashes otherwise.
func (e *Engine) leafRun(ps *peerState, level uint8, start uint32, hs []chainhash.Hash, full bool) wire.Run {
	if !full && e.shortFor(ps) {
		if seq, _, err := e.cfg.Mempool.EncodeLeaves(hs, nil, mempool.MinShortSize); err == nil {
			return wire.Run{Dir: wire.Flat, Level: level, Start: start, Seq: seq}
		}
	}
	return wire.FlatRun(level, start, hs)
}

// resolveRun turns a leaf run with short hashes into leaf nodes using the
// mempool. The run must cover whole leaf groups (one or several in a row);
// each group is resolved and merkle-checked against its verified parent on
// its own. Groups that cannot be resolved now (no mempool, parent not
// verified yet, transactions missing from the mempool) are left out and
// asked for as full hashes. Only a group of full hashes that fails to
// verify is an error.
func (e *Engine) resolveRun(j *job, from *peerState, run *wire.Run, now time.Time) ([]merkle.Node, error) {
	if e.cfg.Mempool == nil || len(j.tiers) < 2 || run.Level != j.shape.Depth() || run.Dir != wire.Flat {
		return nil, nil
	}
	k := len(j.tiers) - 1
	hashes := run.Seq.Hashes()
	var nodes []merkle.Node
	fullInRun := 0
	for off := 0; off < len(hashes); {
		g := groupOf(j, k, run.Start+uint32(off))
		if g.Start != run.Start+uint32(off) || off+int(g.Count) > len(hashes) {
			return nodes, nil // not whole groups: cannot be checked alone
		}
		seq := subSeq(&run.Seq, hashes, off, int(g.Count))
		off += int(g.Count)
		parent := merkle.Pos{Level: j.tiers[k-1], Index: g.Start >> (g.Level - j.tiers[k-1])}
		ph, ok := j.st.Verified(parent)
		if !ok {
			continue
		}
		txids, unresolved, err := e.cfg.Mempool.Resolve(j.shape, parent, ph, g.Start, seq)
		if err != nil {
			if errors.Is(err, mempool.ErrInvalidRun) {
				return nil, err
			}
			continue
		}
		if len(unresolved) > 0 {
			e.m.ShortUnresolved.Add(float64(len(unresolved)))
			key := reqKey{g.Level, g.Start}
			if e.fetchMissing(j, from, g, parent, seq, unresolved, now) {
				// The bodies resolve the group when they land; full hashes
				// only if they have not after a round trip.
				if _, ok := j.lost[key]; !ok {
					j.lost[key] = now.Add(from.p.RTT() + 20*time.Millisecond)
				}
				continue
			}
			// Ask for this group's full hashes at once, from any holder.
			if _, ok := j.lost[key]; !ok {
				j.lost[key] = now.Add(-lostGrace)
			}
			continue
		}
		for _, h := range hashes[off-int(g.Count) : off] {
			if len(h) < 32 {
				j.shortLeaves++
			} else {
				fullInRun++
			}
		}
		for i, id := range txids {
			nodes = append(nodes, merkle.Node{Pos: j.shape.Leaf(g.Start + uint32(i)), Hash: id})
		}
	}
	if len(nodes) > 0 {
		// The run's bytes, less the full hashes of unknown leaves, are
		// what naming the known leaves cost.
		j.shortBytes += int64(len(wire.AppendRun(nil, run, false)) - 32*fullInRun)
	}
	return nodes, nil
}

// subSeq returns the hash sequence of hashes[from:from+n] of seq.
func subSeq(seq *wire.HashSeq, hashes [][]byte, from, n int) wire.HashSeq {
	out := wire.HashSeq{Count: n, DefaultSize: seq.DefaultSize}
	for i := from; i < from+n; i++ {
		h := hashes[i]
		if len(h) != int(seq.DefaultSize) {
			out.Exceptions = append(out.Exceptions, wire.Exception{Index: i - from, Size: uint8(len(h))})
		}
		out.Data = append(out.Data, h...)
	}
	return out
}

// fillFromMempool adds the bodies of newly verified leaves that the mempool
// holds, so they never cross the wire.
func (e *Engine) fillFromMempool(j *job, newly []merkle.Node) {
	if e.cfg.Mempool == nil {
		return
	}
	d := j.shape.Depth()
	for _, n := range newly {
		if n.Pos.Level != d || j.st.HasBody(n.Pos.Index) {
			continue
		}
		if body, ok := e.cfg.Mempool.Get(n.Hash); ok {
			if stored, err := j.st.AddBody(n.Pos.Index, n.Hash, body); err == nil && stored {
				j.fromMempool++
			}
		}
	}
}

// knownToPeer reports whether a body need not be pushed to ps: the peer
// takes short hashes and the transaction was in this node's mempool, so
// the peer most likely has it (it asks if not).
func (e *Engine) knownToPeer(j *job, ps *peerState, leaf uint32) bool {
	if !e.shortFor(ps) {
		return false
	}
	h, ok := j.st.Verified(j.shape.Leaf(leaf))
	return ok && e.cfg.Mempool.Has(h)
}

// skipKnownBodies marks as covered, for ps, the bodies from leaf on that
// the peer most likely has, and returns the first leaf to push.
func (e *Engine) skipKnownBodies(j *job, ps *peerState, jp *jobPeer, n uint32) (uint32, bool) {
	for range n {
		b, ok := nextBody(j, jp, n)
		if !ok || jp.bodyOff > 0 || !e.knownToPeer(j, ps, b) {
			return b, ok
		}
		jp.covered.AddBody(b)
	}
	return 0, false
}

// shortGroup is a leaf group whose short hashes named transactions this
// node lacks; it is resolved again when their bodies arrive.
type shortGroup struct {
	parent merkle.Pos
	seq    wire.HashSeq
}

// maxMissingPerGroup bounds the bodies fetched to resolve one group; a
// group missing more is cheaper to fetch as full hashes.
const maxMissingPerGroup = 8

// fetchMissing asks the peer that sent a short-hash group for the bodies of
// the leaves no mempool transaction matches, when that is all that stops
// the group from resolving: the bodies are needed anyway, and their txids
// complete the group (docs/protocol.md §8).
func (e *Engine) fetchMissing(j *job, from *peerState, g treestate.Range, parent merkle.Pos, seq wire.HashSeq, unresolved []int, now time.Time) bool {
	if from == nil || len(unresolved) > maxMissingPerGroup || j.shortWait[g.Start] != nil {
		return j.shortWait[g.Start] != nil
	}
	hashes := seq.Hashes()
	for _, i := range unresolved {
		if len(hashes[i]) == 32 || len(e.cfg.Mempool.Candidates(hashes[i], 1)) != 0 {
			return false // ambiguous, not missing: full hashes settle it
		}
	}
	j.shortWait[g.Start] = &shortGroup{parent: parent, seq: seq}
	var rs []treestate.Range
	for _, i := range unresolved {
		rs = append(rs, treestate.Range{Level: g.Level, Start: g.Start + uint32(i), Count: 1})
	}
	j.reqID++
	from.ctrl = append(from.ctrl, &wire.GetTxs{JobID: j.id, ReqID: j.reqID, Leaves: treestate.RangesToWorkout(rs)})
	j.bodyReqs++
	return true
}

// resolveWaiting retries the short-hash group holding leaf after a body
// for it arrived: the body goes into the mempool, and if the group now
// resolves its leaves are returned for verification.
func (e *Engine) resolveWaiting(j *job, leaf uint32, body []byte) []merkle.Node {
	if e.cfg.Mempool == nil || len(j.tiers) < 2 {
		return nil
	}
	g := groupOf(j, len(j.tiers)-1, leaf)
	sg := j.shortWait[g.Start]
	if sg == nil {
		return nil
	}
	if _, _, err := e.cfg.Mempool.AddRaw(body); err != nil {
		return nil
	}
	ph, ok := j.st.Verified(sg.parent)
	if !ok {
		return nil
	}
	txids, unresolved, err := e.cfg.Mempool.Resolve(j.shape, sg.parent, ph, g.Start, sg.seq)
	if err != nil || len(unresolved) > 0 {
		return nil
	}
	delete(j.shortWait, g.Start)
	delete(j.lost, reqKey{g.Level, g.Start})
	nodes := make([]merkle.Node, len(txids))
	for i, id := range txids {
		nodes[i] = merkle.Node{Pos: j.shape.Leaf(g.Start + uint32(i)), Hash: id}
	}
	return nodes
}
