package wire

import (
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
)

// This file connects wire runs and workouts to merkle nodes: it turns runs
// into positioned hashes, builds runs from positions, and builds and checks
// the root lap of OPEN_JOB (docs/protocol.md §3.4 and §6).

// MaxLapLevelNodes is the most nodes the lap level of a root lap may have:
// the lap level is the deepest level with at most this many nodes.
const MaxLapLevelNodes = 16

// FlatRun returns a flat run of full hashes from node(level, start).
func FlatRun(level uint8, start uint32, hashes []chainhash.Hash) Run {
	return Run{Dir: Flat, Level: level, Start: start, Seq: fullSeq(hashes)}
}

// HashlessFlat returns a hashless flat run of count nodes from
// node(level, start), as JOB_STATE, GET_NODES and GET_TXS use.
func HashlessFlat(level uint8, start uint32, count int) Run {
	return Run{Dir: Flat, Level: level, Start: start, Seq: HashSeq{Count: count}}
}

// fullSeq returns a sequence of full 32-byte hashes.
func fullSeq(hashes []chainhash.Hash) HashSeq {
	s := HashSeq{Count: len(hashes), DefaultSize: MaxHashSize, Data: make([]byte, 0, MaxHashSize*len(hashes))}
	for i := range hashes {
		s.Data = append(s.Data, hashes[i][:]...)
	}
	return s
}

// Nodes returns the run's nodes: the positions Positions walks, each with
// its hash. Every hash must be a full 32-byte hash; a hashless run, a run
// with a short hash, or a sequence whose Data does not match its sizes fails
// with ErrMalformed, and so does a walk that leaves every tree. The positions
// are not checked against a tree shape. The hashes are copied.
func (run *Run) Nodes() ([]merkle.Node, error) {
	s := &run.Seq
	if s.Count == 0 {
		return nil, nil
	}
	if s.Count < 0 {
		return nil, errorf(ErrMalformed, "negative count %d", s.Count)
	}
	if s.DefaultSize == 0 {
		return nil, errorf(ErrMalformed, "hashless run has no hashes")
	}
	if s.DefaultSize != MaxHashSize {
		return nil, errorf(ErrMalformed, "short hash: default size %d", s.DefaultSize)
	}
	if len(s.Exceptions) != 0 {
		e := s.Exceptions[0]
		return nil, errorf(ErrMalformed, "short hash: hash %d has %d bytes", e.Index, e.Size)
	}
	if len(s.Data) != MaxHashSize*s.Count {
		return nil, errorf(ErrMalformed, "%d bytes of hashes for %d hashes", len(s.Data), s.Count)
	}
	pos, err := run.Positions()
	if err != nil {
		return nil, err
	}
	out := make([]merkle.Node, len(pos))
	for i, p := range pos {
		out[i].Pos = p
		copy(out[i].Hash[:], s.Data[i*MaxHashSize:])
	}
	return out, nil
}

// MerkleNodes returns the nodes of every run, in run order (see Run.Nodes;
// Workout.Nodes counts them).
func (w *Workout) MerkleNodes() ([]merkle.Node, error) {
	total := 0
	for i := range w.Runs {
		if c := w.Runs[i].Seq.Count; c > 0 {
			total += c
		}
	}
	if total == 0 {
		return nil, nil
	}
	out := make([]merkle.Node, 0, total)
	for i := range w.Runs {
		nodes, err := w.Runs[i].Nodes()
		if err != nil {
			return nil, fmt.Errorf("run %d: %w", i, err)
		}
		out = append(out, nodes...)
	}
	return out, nil
}

// nextPos returns the node after p in a run of direction dir, with the
// bounds Run.Positions applies.
func nextPos(dir Direction, p merkle.Pos) (merkle.Pos, bool) {
	switch dir {
	case Flat:
		if p.Index >= MaxStart {
			return merkle.Pos{}, false
		}
		return merkle.Pos{Level: p.Level, Index: p.Index + 1}, true
	case Up:
		return merkle.NextAscending(p)
	case Down:
		return merkle.NextDescending(p)
	}
	return merkle.Pos{}, false
}

// splitRuns cuts pos, in order, into as few runs as a greedy walk finds:
// from each position it takes the direction that continues furthest (flat
// on a tie), up to MaxSeqCount nodes a run. It returns the runs' headers
// (Seq.Count set, no hashes) and the index of each run's first position.
func splitRuns(pos []merkle.Pos) ([]Run, []int, error) {
	var runs []Run
	var firsts []int
	for k := 0; k < len(pos); {
		p := pos[k]
		if p.Level > merkle.MaxDepth || p.Index > MaxStart {
			return nil, nil, errorf(ErrLimit, "position %v cannot be named by a run", p)
		}
		best, bestLen := Flat, 0
		for _, dir := range []Direction{Flat, Down, Up} {
			m, q := 1, p
			for k+m < len(pos) && m < MaxSeqCount {
				next, ok := nextPos(dir, q)
				if !ok || next != pos[k+m] {
					break
				}
				q = next
				m++
			}
			if m > bestLen {
				best, bestLen = dir, m
			}
		}
		runs = append(runs, Run{Dir: best, Level: p.Level, Start: p.Index, Seq: HashSeq{Count: bestLen}})
		firsts = append(firsts, k)
		k += bestLen
	}
	return runs, firsts, nil
}

// RunsFromPositions returns hashless runs that walk exactly pos, in order.
// Positions deeper than any tree or with an index above MaxStart fail with
// ErrLimit.
func RunsFromPositions(pos []merkle.Pos) ([]Run, error) {
	runs, _, err := splitRuns(pos)
	return runs, err
}

// RunsFromNodes returns runs of full hashes that walk exactly the positions
// of nodes, in order, and carry their hashes.
func RunsFromNodes(nodes []merkle.Node) ([]Run, error) {
	pos := make([]merkle.Pos, len(nodes))
	for i := range nodes {
		pos[i] = nodes[i].Pos
	}
	runs, firsts, err := splitRuns(pos)
	if err != nil {
		return nil, err
	}
	for i := range runs {
		s := &runs[i].Seq
		s.DefaultSize = MaxHashSize
		s.Data = make([]byte, 0, MaxHashSize*s.Count)
		for _, n := range nodes[firsts[i] : firsts[i]+s.Count] {
			s.Data = append(s.Data, n.Hash[:]...)
		}
	}
	return runs, nil
}

// LapLevel returns the level L of the root lap of OPEN_JOB: the deepest
// level of shape with at most MaxLapLevelNodes nodes (the leaf level when
// the block has at most 16 transactions). Since count(l) > 2^(l-1) for every
// level of a tree, that is min(D, 4).
func LapLevel(shape merkle.Shape) uint8 {
	l := shape.Depth()
	for l > 0 && shape.Count(l) > MaxLapLevelNodes {
		l--
	}
	return l
}

// rootLap returns the runs of the root lap of shape as directions and
// positions (nil for the zero Shape); see BuildRootLap.
func rootLap(shape merkle.Shape) ([]Direction, [][]merkle.Pos) {
	n := shape.Leaves()
	if n == 0 {
		return nil, nil
	}
	d, l := shape.Depth(), LapLevel(shape)
	if l == d {
		leaves := make([]merkle.Pos, n)
		for i := range leaves {
			leaves[i] = merkle.Pos{Level: d, Index: uint32(i)}
		}
		return []Direction{Flat}, [][]merkle.Pos{leaves}
	}
	var dirs []Direction
	var runs [][]merkle.Pos
	if c := shape.Count(l); c > 1 {
		flat := make([]merkle.Pos, c-1)
		for i := range flat {
			flat[i] = merkle.Pos{Level: l, Index: uint32(i)}
		}
		dirs, runs = append(dirs, Flat), append(runs, flat)
	}
	down := []merkle.Pos{shape.Leaf(n - 1)}
	for p := down[0]; ; {
		next, ok := merkle.NextDescending(p)
		if !ok || next.Level <= l {
			break
		}
		down = append(down, next)
		p = next
	}
	return append(dirs, Down), append(runs, down)
}

// RootLapPositions returns the positions of the root lap BuildRootLap builds,
// in order: the nodes 0..count(L)-2 of the lap level L (none when L has one
// node), then the descending run from the last leaf (D, n-1) for as long as
// its next node lies below L, which covers the subtree of the last level-L
// node. When L is the leaf level the lap is all n leaves, left to right. It
// returns nil for the zero Shape.
func RootLapPositions(shape merkle.Shape) []merkle.Pos {
	_, runs := rootLap(shape)
	var out []merkle.Pos
	for _, r := range runs {
		out = append(out, r...)
	}
	return out
}

// BuildRootLap builds the lap OPEN_JOB carries (docs/protocol.md §6) for a
// block of shape, taking each node's hash from hashAt. L = LapLevel(shape)
// and D is the leaf level. When L < D the lap is a flat run of the nodes
// 0..count(L)-2 of level L (omitted when count(L) is 1) and a descending run
// that starts at the last leaf (D, n-1) and goes on while its next node lies
// below L, covering the subtree of the last level-L node. When L == D (at
// most 16 transactions, one included) it is a single flat run of all the
// leaves. It fails only for the zero Shape.
func BuildRootLap(shape merkle.Shape, hashAt func(merkle.Pos) chainhash.Hash) (Workout, error) {
	dirs, runs := rootLap(shape)
	if runs == nil {
		return Workout{}, errorf(ErrMalformed, "root lap of an empty tree (%w)", merkle.ErrBadShape)
	}
	w := Workout{Runs: make([]Run, len(runs))}
	for i, pos := range runs {
		hashes := make([]chainhash.Hash, len(pos))
		for j, p := range pos {
			hashes[j] = hashAt(p)
		}
		w.Runs[i] = Run{Dir: dirs[i], Level: pos[0].Level, Start: pos[0].Index, Seq: fullSeq(hashes)}
	}
	return w, nil
}

// VerifyRootLap checks a root lap received in OPEN_JOB against the merkle
// root of the block's header and returns its nodes (§6, receiver step 3).
// Every hash must be a full 32-byte hash and every position a node of shape
// (else the error wraps ErrMalformed, and merkle.ErrBadPos for a position
// outside the shape); the last leaf must be one of the nodes (ErrMalformed
// wrapping merkle.ErrIncomplete); and the nodes must form a lap around the
// root that recomputes root (the errors of merkle.VerifyCover: ErrMismatch,
// ErrMutated, ErrIncomplete, ErrOverlap). A lap whose leaves carry short
// hashes (allowed by §3.2) cannot be checked against the root here: the
// caller resolves them to full txids first and passes the resolved lap.
func VerifyRootLap(shape merkle.Shape, root chainhash.Hash, w *Workout) ([]merkle.Node, error) {
	if shape.Leaves() == 0 {
		return nil, errorf(ErrMalformed, "root lap of an empty tree (%w)", merkle.ErrBadShape)
	}
	if n := w.Nodes(); n < 0 || n > int(shape.Leaves()) {
		return nil, errorf(ErrMalformed, "%d lap nodes for %d leaves (%w)", n, shape.Leaves(), merkle.ErrOverlap)
	}
	nodes, err := w.MerkleNodes()
	if err != nil {
		return nil, err
	}
	last := shape.Leaf(shape.Leaves() - 1)
	hasLast := false
	for _, n := range nodes {
		if !shape.Valid(n.Pos) {
			return nil, errorf(ErrMalformed, "lap node %v outside a %d-leaf tree (%w)", n.Pos, shape.Leaves(), merkle.ErrBadPos)
		}
		hasLast = hasLast || n.Pos == last
	}
	if !hasLast {
		return nil, errorf(ErrMalformed, "root lap without the last leaf %v (%w)", last, merkle.ErrIncomplete)
	}
	if err := merkle.VerifyCover(shape, shape.Root(), root, nodes); err != nil {
		return nil, err
	}
	return nodes, nil
}
