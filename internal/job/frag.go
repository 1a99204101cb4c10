package job

import "github.com/blocktorrent/blocktorrent/internal/wire"

// Bounds on partial bodies (bodies larger than a datagram, arriving as
// fragments): bytes held for reassembly before a body is whole and can be
// checked against its leaf. A liar can send fragments of bodies it never
// completes; these caps keep that memory bounded and keep one liar from
// taking the room honest senders need.
const (
	maxFragBytes     = 16 << 20 // per job
	maxFragPeerBytes = 4 << 20  // per job and sender: one largest transaction (4,000,000 bytes)
	maxFragAllBytes  = 64 << 20 // all jobs together
)

// fragKey names a partial body: the leaf and the peer sending it. Each
// sender's fragments are reassembled apart, so a liar's bytes never mix
// into an honest sender's body (which would then fail its txid and get
// the honest sender scored), and a liar announcing another TOTAL for a
// leaf resets only its own buffer.
type fragKey struct {
	leaf uint32
	peer PeerID
}

// fragBuf reassembles one transaction body from fragments.
type fragBuf struct {
	data []byte
	have []span // received byte ranges, sorted and merged
}

type span struct{ lo, hi uint32 }

// held returns how many bytes of the body have arrived.
func (f *fragBuf) held() uint32 {
	n := uint32(0)
	for _, h := range f.have {
		n += h.hi - h.lo
	}
	return n
}

// add records data at off and reports whether the body is complete.
func (f *fragBuf) add(off uint32, data []byte) bool {
	copy(f.data[off:], data)
	s := span{off, off + uint32(len(data))}
	out := f.have[:0:0]
	for _, h := range f.have {
		if h.hi < s.lo || h.lo > s.hi {
			out = append(out, h)
			continue
		}
		s.lo, s.hi = min(s.lo, h.lo), max(s.hi, h.hi)
	}
	out = append(out, s)
	f.have = out
	return len(out) == 1 && out[0].lo == 0 && out[0].hi == uint32(len(f.data))
}

// fragBytesAll returns the bytes held in partial bodies by every job.
func (e *Engine) fragBytesAll() int {
	n := 0
	for _, j := range e.jobs {
		n += j.fragBytes
	}
	return n
}

// reassemble adds a fragment from a peer and returns the whole body once
// complete, and whether the fragment brought bytes not held before. A
// fragment that would need a new buffer past the caps is dropped (the
// body is fetched again later, by request).
func (e *Engine) reassemble(j *job, from PeerID, f wire.TxFragment) ([]byte, bool) {
	if f.Offset == 0 && int(f.Total) == len(f.Data) {
		return f.Data, true
	}
	key := fragKey{f.Leaf, from}
	fb := j.frags[key]
	if fb != nil && len(fb.data) != int(f.Total) {
		j.dropFrag(key)
		fb = nil
	}
	if fb == nil {
		n := int(f.Total)
		if j.fragBytes+n > maxFragBytes || j.fragBy[from]+n > maxFragPeerBytes || e.fragBytesAll()+n > maxFragAllBytes {
			e.m.FragsDropped.Inc()
			return nil, false
		}
		fb = &fragBuf{data: make([]byte, n)}
		j.frags[key] = fb
		j.fragBytes += n
		j.fragBy[from] += n
	}
	before := fb.held()
	if !fb.add(f.Offset, f.Data) {
		return nil, fb.held() > before
	}
	j.dropFrag(key)
	return fb.data, true
}

// dropFrag forgets one partial body.
func (j *job) dropFrag(key fragKey) {
	fb, ok := j.frags[key]
	if !ok {
		return
	}
	delete(j.frags, key)
	j.fragBytes -= len(fb.data)
	if j.fragBy[key.peer] -= len(fb.data); j.fragBy[key.peer] <= 0 {
		delete(j.fragBy, key.peer)
	}
}

// dropFrags forgets every sender's partial body of leaf (it is stored).
func (j *job) dropFrags(leaf uint32) {
	if len(j.frags) == 0 {
		return
	}
	for id := range j.fragBy {
		j.dropFrag(fragKey{leaf, id})
	}
}

// dropPeerFrags forgets the partial bodies a peer was sending.
func (j *job) dropPeerFrags(peer PeerID) {
	if j.fragBy[peer] == 0 {
		return
	}
	for k := range j.frags {
		if k.peer == peer {
			j.dropFrag(k)
		}
	}
}

// clearFrags forgets every partial body (the job completed or closes).
func (j *job) clearFrags() {
	j.frags = map[fragKey]*fragBuf{}
	j.fragBy = map[PeerID]int{}
	j.fragBytes = 0
}
