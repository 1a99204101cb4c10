package mempool

import (
	"slices"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chainhash/v2"
)

// MaxCombinations is the most combinations of candidates a receiver tries
// for one group of leaves (§8).
const MaxCombinations = 256

// choice is an ambiguous leaf and its candidates.
type choice struct {
	leaf  int
	cands []chainhash.Hash
}

// Resolve turns the hash sequence of a group of leaves into txids. The
// group is the lap of leaves around parent, an already verified node whose
// hash is parentHash: seq.Count must be the number of leaves under parent
// and leafStart the first of them.
//
// Full 32-byte hashes are taken as they are. A short hash is looked up in
// the pool: one candidate is used; when several share the prefix, the
// combinations of candidates are tried, at most MaxCombinations, and the
// one under which the leaves recompute parentHash is kept. When every leaf
// is resolved and the group verifies, unresolved is nil and txids are the
// group's verified leaves.
//
// Otherwise unresolved lists, in increasing order, the indexes (within the
// run) of the leaves the caller must ask for as full hashes, and txids[i]
// is the zero hash for each of them; the other entries are unverified
// guesses. Those leaves are the ones without any candidate and the
// ambiguous ones, when there is a leaf without a candidate or more than
// MaxCombinations combinations; and every short leaf when all had
// candidates but no combination verifies, since a unique candidate may be
// a stranger that shares the prefix of a transaction the pool lacks. None
// of this is an error: a collision, crafted or not, never blames the
// sender.
//
// Errors wrap ErrBadInput for arguments that do not fit together (parent
// outside the shape, a run that does not start at parent's first leaf, a
// count that is not parent's leaf count, an inconsistent sequence), and
// ErrInvalidRun, with merkle.ErrMismatch or merkle.ErrMutated, when a group
// of full hashes only does not verify.
func (p *Pool) Resolve(shape merkle.Shape, parent merkle.Pos, parentHash chainhash.Hash, leafStart uint32, seq wire.HashSeq) (txids []chainhash.Hash, unresolved []int, err error) {
	if !shape.Valid(parent) {
		return nil, nil, errorf(ErrBadInput, "parent %v is not in a %d-leaf tree (%w)", parent, shape.Leaves(), merkle.ErrBadPos)
	}
	first, end := shape.LeafRange(parent)
	n := int(end - first)
	switch {
	case leafStart != first:
		return nil, nil, errorf(ErrBadInput, "run starts at leaf %d, the leaves under %v at %d", leafStart, parent, first)
	case seq.Count != n:
		return nil, nil, errorf(ErrBadInput, "sequence of %d hashes for the %d leaves under %v", seq.Count, n, parent)
	case n > wire.MaxSeqCount:
		return nil, nil, errorf(ErrBadInput, "%d leaves under %v exceed a sequence", n, parent)
	}
	hashes, err := splitSeq(&seq)
	if err != nil {
		return nil, nil, err
	}

	// Look every short hash up under one read lock. Once the combinations
	// exceed the budget, only whether a leaf has candidates still matters.
	txids = make([]chainhash.Hash, n)
	var (
		missing, shorts []int
		ambiguous       []choice
		buf             []chainhash.Hash
		combos          = 1
	)
	p.mu.RLock()
	for i, h := range hashes {
		if len(h) == chainhash.HashSize {
			copy(txids[i][:], h)
			continue
		}
		shorts = append(shorts, i)
		want := MaxCombinations + 1
		if combos > MaxCombinations {
			want = 2
		}
		buf = p.appendCandidates(buf[:0], h, want)
		switch len(buf) {
		case 0:
			missing = append(missing, i)
		case 1:
			txids[i] = buf[0]
		default:
			ambiguous = append(ambiguous, choice{leaf: i, cands: slices.Clone(buf)})
			combos = min(combos*len(buf), MaxCombinations+1)
		}
	}
	p.mu.RUnlock()

	if len(ambiguous) > 0 && len(missing) == 0 && combos <= MaxCombinations {
		ambiguous, missing = prune(txids, ambiguous)
	}
	if len(missing) > 0 || combos > MaxCombinations {
		for _, a := range ambiguous {
			missing = append(missing, a.leaf)
		}
		slices.Sort(missing)
		return txids, missing, nil
	}

	for _, a := range ambiguous {
		txids[a.leaf] = a.cands[0]
	}
	height := int(shape.Depth() - parent.Level)
	t := newSubtree(txids, height)
	if search(t, ambiguous, parentHash) {
		return txids, nil, nil
	}
	if len(shorts) == 0 {
		if t.equal > 0 {
			return nil, nil, errorf(ErrInvalidRun, "equal real siblings under %v (%w)", parent, merkle.ErrMutated)
		}
		return nil, nil, errorf(ErrInvalidRun, "leaves under %v hash to %v, want %v (%w)", parent, t.root(), parentHash, merkle.ErrMismatch)
	}
	for _, i := range shorts {
		txids[i] = chainhash.Hash{}
	}
	return txids, shorts, nil
}

// search tries the combinations of the ambiguous leaves' candidates in t,
// whose ambiguous leaves hold their first candidates, and reports whether
// one recomputes want without equal real siblings; t then holds it. Each
// step changes one leaf and rehashes its path, as an odometer counts.
func search(t *subtree, ambiguous []choice, want chainhash.Hash) bool {
	pick := make([]int, len(ambiguous))
	for {
		if t.equal == 0 && t.root() == want {
			return true
		}
		j := 0
		for ; j < len(ambiguous); j++ {
			a := &ambiguous[j]
			pick[j]++
			if pick[j] < len(a.cands) {
				t.set(a.leaf, a.cands[pick[j]])
				break
			}
			pick[j] = 0
			t.set(a.leaf, a.cands[0])
		}
		if j == len(ambiguous) {
			return false
		}
	}
}

// prune drops from the ambiguous leaves' candidates the txids that other
// leaves of the group hold for sure, since a block never holds a txid
// twice, until nothing changes. Leaves left with one candidate are
// resolved in txids; leaves left with none are returned as missing.
func prune(txids []chainhash.Hash, ambiguous []choice) (rest []choice, missing []int) {
	taken := make(map[chainhash.Hash]struct{}, len(txids))
	isAmb := make(map[int]bool, len(ambiguous))
	for _, a := range ambiguous {
		isAmb[a.leaf] = true
	}
	for i := range txids {
		if !isAmb[i] {
			taken[txids[i]] = struct{}{}
		}
	}
	for changed := true; changed; {
		changed = false
		rest = rest[:0]
		for _, a := range ambiguous {
			a.cands = slices.DeleteFunc(a.cands, func(h chainhash.Hash) bool {
				_, ok := taken[h]
				return ok
			})
			switch len(a.cands) {
			case 0:
				missing = append(missing, a.leaf)
			case 1:
				txids[a.leaf] = a.cands[0]
				taken[a.cands[0]] = struct{}{}
				changed = true
			default:
				rest = append(rest, a)
			}
		}
		ambiguous = rest
	}
	return ambiguous, missing
}

// splitSeq checks that seq is a well-formed hash sequence with hashes and
// returns its hashes (aliasing seq.Data).
func splitSeq(seq *wire.HashSeq) ([][]byte, error) {
	def := int(seq.DefaultSize)
	if def < wire.MinHashSize || def > wire.MaxHashSize {
		return nil, errorf(ErrBadInput, "default hash size %d", def)
	}
	total := seq.Count * def
	prev := -1
	for _, e := range seq.Exceptions {
		switch {
		case e.Index <= prev || e.Index >= seq.Count:
			return nil, errorf(ErrBadInput, "exception index %d after %d in a sequence of %d", e.Index, prev, seq.Count)
		case e.Size < wire.MinHashSize || e.Size > wire.MaxHashSize || int(e.Size) == def:
			return nil, errorf(ErrBadInput, "exception size %d (default %d)", e.Size, def)
		}
		total += int(e.Size) - def
		prev = e.Index
	}
	if len(seq.Data) != total {
		return nil, errorf(ErrBadInput, "%d bytes of hashes, want %d", len(seq.Data), total)
	}
	out := make([][]byte, seq.Count)
	off, ex := 0, 0
	for i := range out {
		size := def
		if ex < len(seq.Exceptions) && seq.Exceptions[ex].Index == i {
			size = int(seq.Exceptions[ex].Size)
			ex++
		}
		out[i] = seq.Data[off : off+size : off+size]
		off += size
	}
	return out, nil
}
