package mempool

import (
	"github.com/blocktorrent/blocktorrent/internal/merkle"
	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chainhash/v2"
)

// SizeStats describes one encoded run of leaves.
type SizeStats struct {
	// Leaves is the number of leaves in the run.
	Leaves int
	// Known is the number of leaves sent as short hashes: the sender had
	// them before the block.
	Known int
	// Full is the number of leaves sent as full 32-byte hashes because the
	// sender did not have them before the block.
	Full int
	// Lengthened is the number of known leaves sent longer than ShortSize
	// because another transaction of mempool ∪ block shares their prefix.
	Lengthened int
	// ShortSize is the block's leaf hash size.
	ShortSize int
	// DefaultSize is the run's DEFAULT_HASH_SIZE: ShortSize, or 32 when
	// most of the run's leaves go as full hashes.
	DefaultSize int
	// SeqBytes is the encoded size of the hash sequence.
	SeqBytes int
	// RunBytes is SeqBytes plus the header of a flat run of leaves: the
	// level byte and the START varint.
	RunBytes int
}

// KnownBytes returns what the run spends on known leaves: RunBytes minus
// the 32 bytes of each full hash.
func (s SizeStats) KnownBytes() int { return s.RunBytes - chainhash.HashSize*s.Full }

// Add accumulates o into s (sizes are kept from the first run added).
func (s *SizeStats) Add(o SizeStats) {
	if s.Leaves == 0 {
		s.ShortSize, s.DefaultSize = o.ShortSize, o.DefaultSize
	}
	s.Leaves += o.Leaves
	s.Known += o.Known
	s.Full += o.Full
	s.Lengthened += o.Lengthened
	s.SeqBytes += o.SeqBytes
	s.RunBytes += o.RunBytes
}

// Encoder turns the leaves of one block into hash sequences. It fixes the
// block's leaf hash size and each leaf's unique prefix length once, when it
// is made, so every run of the block uses the same size; it does not look
// at the pool afterwards and is safe for concurrent use.
type Encoder struct {
	block []chainhash.Hash
	plan  plan
	size  int
	min   int
}

// NewEncoder plans the encoding of block (its txids in order, which the
// Encoder keeps and the caller must not modify). known[i] tells whether the
// sender had leaf i in its mempool before the block arrived, so the
// receiver probably has it too; known nil takes the leaves the pool holds
// now. The leaf hash size is ShortSize's, from minSize (MinShortSize when
// below 1). Errors wrap ErrBadInput for an empty block, more than
// merkle.MaxLeaves leaves, or known of another length.
func (p *Pool) NewEncoder(block []chainhash.Hash, known []bool, minSize int) (*Encoder, error) {
	if len(block) == 0 || len(block) > merkle.MaxLeaves {
		return nil, errorf(ErrBadInput, "block of %d leaves", len(block))
	}
	if known != nil && len(known) != len(block) {
		return nil, errorf(ErrBadInput, "%d known flags for %d leaves", len(known), len(block))
	}
	e := &Encoder{block: block, plan: p.makePlan(block, known), min: clampSize(minSize)}
	e.size = e.plan.shortSize(e.min)
	return e, nil
}

// Size returns the block's leaf hash size.
func (e *Encoder) Size() int { return e.size }

// BaseSize returns the block's leaf hash size before §8's margin: the size
// that encodes the known leaves in the fewest bytes.
func (e *Encoder) BaseSize() int { return e.plan.baseSize(e.min) }

// Len returns the number of leaves of the block.
func (e *Encoder) Len() int { return len(e.block) }

// CollisionFreeSize returns the smallest size ≥ the encoder's minimum at
// which no known leaf would need lengthening: the literal reading of §8's
// "no two transactions share a prefix", restricted to the block's leaves.
func (e *Encoder) CollisionFreeSize() int { return e.plan.collisionFree(e.min) }

// WithSize returns an encoder for the same block that uses leaf hash size
// s (clamped to 1..32) instead, as a GET_NODES with a LEAF_HASH_SIZE asks.
// Leaves that collide at s are still lengthened and unknown leaves still go
// full.
func (e *Encoder) WithSize(s int) *Encoder {
	c := *e
	c.size = clampSize(max(s, 1))
	return &c
}

// leafSize returns the size leaf i is sent with.
func (e *Encoder) leafSize(i int) int {
	if !e.plan.known[i] {
		return chainhash.HashSize
	}
	return max(e.size, int(e.plan.uniq[i]))
}

// EncodeLeaves returns the hash sequence of the count leaves from leaf
// start on (a flat run at the leaf level) and its statistics. Known leaves
// go with the block's size, or with their unique prefix length when that is
// longer; the others go as full 32-byte hashes. The run's default size is
// whichever of the block's size and 32 more of its leaves use, the rest are
// exceptions. Errors wrap ErrBadInput for a range outside the block or
// longer than wire.MaxSeqCount.
func (e *Encoder) EncodeLeaves(start, count int) (wire.HashSeq, SizeStats, error) {
	if start < 0 || count < 1 || count > wire.MaxSeqCount || start > len(e.block)-count {
		return wire.HashSeq{}, SizeStats{}, errorf(ErrBadInput, "leaves %d+%d of a block of %d", start, count, len(e.block))
	}
	st := SizeStats{Leaves: count, ShortSize: e.size}
	dataLen, atShort := 0, 0
	for i := start; i < start+count; i++ {
		sz := e.leafSize(i)
		dataLen += sz
		switch {
		case !e.plan.known[i]:
			st.Full++
		case sz > e.size:
			st.Known++
			st.Lengthened++
		default:
			st.Known++
		}
		if sz == e.size {
			atShort++
		}
	}
	def := e.size
	if st.Full > atShort {
		def = chainhash.HashSize
	}
	st.DefaultSize = def
	seq := wire.HashSeq{Count: count, DefaultSize: uint8(def), Data: make([]byte, 0, dataLen)}
	prev, exBytes := -1, 0
	for i := range count {
		sz := e.leafSize(start + i)
		if sz != def {
			seq.Exceptions = append(seq.Exceptions, wire.Exception{Index: i, Size: uint8(sz)})
			exBytes += wire.VarintLen(uint64(i-prev)) + 1
			prev = i
		}
		seq.Data = append(seq.Data, e.block[start+i][:sz]...)
	}
	st.SeqBytes = wire.VarintLen(uint64(count)) + 1 + wire.VarintLen(uint64(len(seq.Exceptions))) + exBytes + len(seq.Data)
	st.RunBytes = 1 + wire.VarintLen(uint64(start)) + st.SeqBytes
	return seq, st, nil
}

// EncodeLeaves encodes a whole block of at most wire.MaxSeqCount leaves as
// one hash sequence: NewEncoder followed by Encoder.EncodeLeaves. A sender
// that sends a block in several runs makes one Encoder and reuses it, so
// the size is chosen once per block.
func (p *Pool) EncodeLeaves(txids []chainhash.Hash, known []bool, minSize int) (wire.HashSeq, SizeStats, error) {
	e, err := p.NewEncoder(txids, known, minSize)
	if err != nil {
		return wire.HashSeq{}, SizeStats{}, err
	}
	return e.EncodeLeaves(0, len(txids))
}
