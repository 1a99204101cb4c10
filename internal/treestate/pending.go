package treestate

import (
	"slices"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
	"github.com/btcsuite/btcd/chainhash/v2"
)

// DefaultPendingLimit is the default budget of a State's pending buffer:
// 256 KiB per job, as docs/protocol.md (NODES) allows.
const DefaultPendingLimit = 256 << 10

// Budget costs of pending data: a node costs its hash, its position and
// bookkeeping; a body costs its bytes plus its leaf, txid and bookkeeping.
const (
	pendingNodeCost     = 40
	pendingBodyOverhead = 64
)

// entry is one item of the pending buffer: the nodes of one call that could
// not be verified yet (a group), or one body whose leaf is not verified yet.
type entry struct {
	seq  uint64 // arrival order; the oldest entries are dropped first
	src  Source
	cost int
	dead bool

	// A node group: its pending nodes, the generation of its watch
	// registrations and how many positions it watches.
	nodes  []merkle.Node
	gen    uint32
	nwatch int
	mark   uint64 // the resolve round that last queued it for a retry

	// A body.
	isBody bool
	leaf   uint32
	txid   chainhash.Hash
	body   []byte
}

// claim is one pending node at a position.
type claim struct {
	e    *entry
	hash chainhash.Hash
}

// watchRef registers a node group for a retry when a position becomes
// verified. It is stale when the group died or re-registered since.
type watchRef struct {
	e   *entry
	gen uint32
}

// pending is the bounded buffer of nodes and bodies that wait for an
// ancestor or a leaf. Node groups are indexed by the positions whose
// verification could let them verify (watch), so that new verified nodes
// retry exactly the groups they concern; bodies are indexed by leaf.
type pending struct {
	limit   int
	bytes   int
	seq     uint64
	queue   []*entry // by arrival; dead entries are skipped and compacted
	head    int
	live    int
	nodes   int
	nbodies int

	claims    map[merkle.Pos][]claim
	watch     map[merkle.Pos][]watchRef
	watchRefs int // references in watch, stale ones included
	liveWatch int // references of live entries' current generations
	bodies    map[uint32][]*entry
}

func (p *pending) init(limit int) {
	p.limit = limit
	p.claims = make(map[merkle.Pos][]claim)
	p.watch = make(map[merkle.Pos][]watchRef)
	p.bodies = make(map[uint32][]*entry)
}

// dropped counts what makeRoom discarded.
type dropped struct{ nodes, bodies int }

// makeRoom drops the oldest entries until cost more bytes fit the limit.
func (p *pending) makeRoom(cost int) dropped {
	var d dropped
	for p.bytes+cost > p.limit && p.head < len(p.queue) {
		e := p.queue[p.head]
		p.queue[p.head] = nil
		p.head++
		if e.dead {
			continue
		}
		if e.isBody {
			d.bodies++
		} else {
			d.nodes += len(e.nodes)
		}
		p.kill(e)
	}
	p.compact()
	return d
}

// push appends a new entry to the queue.
func (p *pending) push(e *entry) {
	p.seq++
	e.seq = p.seq
	p.queue = append(p.queue, e)
	p.live++
	p.bytes += e.cost
}

// compact removes dead entries from the queue when they outnumber the live
// ones, so that the queue stays proportional to what is held.
func (p *pending) compact() {
	if len(p.queue)-p.head <= 2*p.live+64 {
		return
	}
	q := p.queue[:0]
	for _, e := range p.queue[p.head:] {
		if !e.dead {
			q = append(q, e)
		}
	}
	clear(p.queue[len(q):])
	p.queue, p.head = q, 0
}

// kill removes e from the buffer and its indexes.
func (p *pending) kill(e *entry) {
	if e.dead {
		return
	}
	e.dead = true
	p.live--
	p.bytes -= e.cost
	if e.isBody {
		p.nbodies--
		list := p.bodies[e.leaf]
		for i, o := range list {
			if o == e {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(p.bodies, e.leaf)
		} else {
			p.bodies[e.leaf] = list
		}
		e.body = nil
	} else {
		p.unclaim(e)
		p.liveWatch -= e.nwatch
		e.nwatch = 0
		e.nodes = nil
	}
	p.compact()
}

// holds reports whether a live group with exactly these nodes (sorted by
// position, as merkle.VerifyAgainst returns them) is pending.
func (p *pending) holds(nodes []merkle.Node) bool {
	for _, c := range p.claims[nodes[0].Pos] {
		if c.hash == nodes[0].Hash && slices.Equal(c.e.nodes, nodes) {
			return true
		}
	}
	return false
}

// claim indexes the nodes of e by position.
func (p *pending) claim(e *entry) {
	for _, n := range e.nodes {
		p.claims[n.Pos] = append(p.claims[n.Pos], claim{e: e, hash: n.Hash})
	}
	p.nodes += len(e.nodes)
}

// unclaim removes the nodes of e from the position index.
func (p *pending) unclaim(e *entry) {
	for _, n := range e.nodes {
		list := p.claims[n.Pos]
		for i, c := range list {
			if c.e == e {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(p.claims, n.Pos)
		} else {
			p.claims[n.Pos] = list
		}
	}
	p.nodes -= len(e.nodes)
}

// register makes e a candidate for a retry when any position of watch
// becomes verified, replacing its earlier registrations.
func (p *pending) register(e *entry, watch []merkle.Pos) {
	e.gen++
	p.liveWatch += len(watch) - e.nwatch
	e.nwatch = len(watch)
	for _, w := range watch {
		p.watch[w] = append(p.watch[w], watchRef{e: e, gen: e.gen})
	}
	p.watchRefs += len(watch)
	if p.watchRefs > 2*p.liveWatch+1024 {
		p.sweepWatch()
	}
}

// sweepWatch drops the stale references from the watch index.
func (p *pending) sweepWatch() {
	p.watchRefs = 0
	for pos, refs := range p.watch {
		keep := refs[:0]
		for _, r := range refs {
			if !r.e.dead && r.gen == r.e.gen {
				keep = append(keep, r)
			}
		}
		if len(keep) == 0 {
			delete(p.watch, pos)
			continue
		}
		clear(refs[len(keep):])
		p.watch[pos] = keep
		p.watchRefs += len(keep)
	}
}

// triggered appends to out the live node groups that watch pos and were not
// queued in this round yet, and removes pos from the index (the groups
// register again if they stay pending).
func (p *pending) triggered(pos merkle.Pos, round uint64, out []*entry) []*entry {
	refs, ok := p.watch[pos]
	if !ok {
		return out
	}
	delete(p.watch, pos)
	p.watchRefs -= len(refs)
	for _, r := range refs {
		if r.e.dead || r.gen != r.e.gen || r.e.mark == round {
			continue
		}
		r.e.mark = round
		out = append(out, r.e)
	}
	return out
}

// replace gives the node group e a new (smaller) set of pending nodes and
// the positions it now watches; with no nodes left it dies.
func (p *pending) replace(e *entry, nodes []merkle.Node, watch []merkle.Pos) {
	if len(nodes) == 0 {
		p.kill(e)
		return
	}
	p.unclaim(e)
	p.bytes -= e.cost
	e.nodes = nodes
	e.cost = len(nodes) * pendingNodeCost
	p.bytes += e.cost
	p.claim(e)
	p.register(e, watch)
}
