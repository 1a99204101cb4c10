package wire

// Limits of hash sequences (docs/protocol.md §3.2).
const (
	// MaxSeqCount is the largest COUNT of one sequence.
	MaxSeqCount = 65536
	// MinHashSize and MaxHashSize bound DEFAULT_HASH_SIZE and HASH_SIZE.
	MinHashSize = 1
	MaxHashSize = 32
)

// Exception gives hash Index of a sequence a size other than the default.
type Exception struct {
	Index int
	Size  uint8
}

// HashSeq is a hash sequence: Count hashes, each DefaultSize bytes long
// except those listed in Exceptions (sorted by Index), stored back to back
// in Data. A hashless sequence has only Count (DefaultSize 0, Data nil).
type HashSeq struct {
	Count       int
	DefaultSize uint8
	Exceptions  []Exception
	Data        []byte
}

// FullHashes returns a sequence of full 32-byte hashes.
func FullHashes(hashes [][32]byte) HashSeq {
	s := HashSeq{Count: len(hashes), DefaultSize: 32, Data: make([]byte, 0, 32*len(hashes))}
	for i := range hashes {
		s.Data = append(s.Data, hashes[i][:]...)
	}
	return s
}

// Size returns the size of hash i.
func (s *HashSeq) Size(i int) uint8 {
	for _, e := range s.Exceptions {
		if e.Index == i {
			return e.Size
		}
		if e.Index > i {
			break
		}
	}
	return s.DefaultSize
}

// Hashes splits Data into the Count hashes (slices alias Data). It returns
// nil for a hashless sequence.
func (s *HashSeq) Hashes() [][]byte {
	if s.DefaultSize == 0 {
		return nil
	}
	out := make([][]byte, s.Count)
	off, ex := 0, 0
	for i := range out {
		size := int(s.DefaultSize)
		if ex < len(s.Exceptions) && s.Exceptions[ex].Index == i {
			size = int(s.Exceptions[ex].Size)
			ex++
		}
		out[i] = s.Data[off : off+size : off+size]
		off += size
	}
	return out
}

// dataLen returns the byte length HASHES must have.
func (s *HashSeq) dataLen() int {
	n := s.Count * int(s.DefaultSize)
	for _, e := range s.Exceptions {
		n += int(e.Size) - int(s.DefaultSize)
	}
	return n
}

// AppendHashSeq appends s. With hashless set only COUNT is written.
func AppendHashSeq(b []byte, s *HashSeq, hashless bool) []byte {
	b = AppendVarint(b, uint64(s.Count))
	if hashless {
		return b
	}
	b = append(b, s.DefaultSize)
	b = AppendVarint(b, uint64(len(s.Exceptions)))
	prev := -1
	for _, e := range s.Exceptions {
		b = AppendVarint(b, uint64(e.Index-prev))
		b = append(b, e.Size)
		prev = e.Index
	}
	return append(b, s.Data...)
}

// ReadHashSeq reads a hash sequence (only COUNT when hashless). Data aliases
// the Reader's input. Errors are recorded in r.
func ReadHashSeq(r *Reader, hashless bool) HashSeq {
	var s HashSeq
	if hashless {
		s.Count = r.Count(MaxSeqCount, 0, "sequence")
		return s
	}
	// Every hash takes at least one byte.
	s.Count = r.Count(MaxSeqCount, MinHashSize, "sequence")
	s.DefaultSize = r.Uint8()
	if r.Err() != nil {
		return HashSeq{}
	}
	if s.DefaultSize < MinHashSize || s.DefaultSize > MaxHashSize {
		r.Fail(errorf(ErrReserved, "hash size %d", s.DefaultSize))
		return HashSeq{}
	}
	// Each exception takes at least two bytes and names a distinct index.
	nex := r.Count(uint64(s.Count), 2, "exception")
	if r.Err() != nil {
		return HashSeq{}
	}
	if nex > 0 {
		s.Exceptions = make([]Exception, nex)
	}
	cursor := -1
	for i := range s.Exceptions {
		d := r.Varint()
		size := r.Uint8()
		if r.Err() != nil {
			return HashSeq{}
		}
		if d == 0 || d > uint64(s.Count-1-cursor) {
			r.Fail(errorf(ErrMalformed, "exception distance %d from index %d in a sequence of %d", d, cursor, s.Count))
			return HashSeq{}
		}
		if size < MinHashSize || size > MaxHashSize {
			r.Fail(errorf(ErrReserved, "exception hash size %d", size))
			return HashSeq{}
		}
		if size == s.DefaultSize {
			r.Fail(errorf(ErrMalformed, "exception %d repeats the default size %d", i, size))
			return HashSeq{}
		}
		cursor += int(d)
		s.Exceptions[i] = Exception{Index: cursor, Size: size}
	}
	s.Data = r.Bytes(s.dataLen())
	if r.Err() != nil {
		return HashSeq{}
	}
	return s
}
