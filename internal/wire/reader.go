package wire

import (
	"encoding/binary"
	"math"
)

// Reader consumes a byte slice with bounds checks. The first failure sticks:
// later reads return zero values and Err reports the first error, so a
// decoder can read a whole structure and check once.
type Reader struct {
	b   []byte
	off int
	err error
}

// NewReader returns a Reader over b. The Reader does not copy b; byte slices
// it returns alias b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err returns the first error met, if any.
func (r *Reader) Err() error { return r.err }

// Len returns the number of unread bytes.
func (r *Reader) Len() int { return len(r.b) - r.off }

// Offset returns the number of bytes consumed.
func (r *Reader) Offset() int { return r.off }

// Fail records err unless an error is already recorded.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// Done returns the first error, or ErrTrailing when bytes remain.
func (r *Reader) Done() error {
	if r.err != nil {
		return r.err
	}
	if r.Len() != 0 {
		return errorf(ErrTrailing, "%d bytes after the message", r.Len())
	}
	return nil
}

// Bytes returns the next n bytes (aliasing the input).
func (r *Reader) Bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > r.Len() {
		r.err = errorf(ErrShort, "need %d bytes, have %d", n, r.Len())
		return nil
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p
}

// Uint8 reads one byte.
func (r *Reader) Uint8() uint8 {
	p := r.Bytes(1)
	if p == nil {
		return 0
	}
	return p[0]
}

// Uint16 reads a little-endian uint16.
func (r *Reader) Uint16() uint16 {
	p := r.Bytes(2)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(p)
}

// Uint16BE reads a big-endian uint16 (ports, as in Bitcoin's addr).
func (r *Reader) Uint16BE() uint16 {
	p := r.Bytes(2)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint16(p)
}

// Uint32 reads a little-endian uint32.
func (r *Reader) Uint32() uint32 {
	p := r.Bytes(4)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(p)
}

// Uint64 reads a little-endian uint64.
func (r *Reader) Uint64() uint64 {
	p := r.Bytes(8)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(p)
}

// Varint reads a canonical Bitcoin CompactSize.
func (r *Reader) Varint() uint64 {
	d := r.Uint8()
	if r.err != nil {
		return 0
	}
	var v, lo uint64
	switch d {
	case 0xfd:
		v, lo = uint64(r.Uint16()), 0xfd
	case 0xfe:
		v, lo = uint64(r.Uint32()), 0x10000
	case 0xff:
		v, lo = r.Uint64(), 0x100000000
	default:
		return uint64(d)
	}
	if r.err == nil && v < lo {
		r.err = errorf(ErrNonCanonical, "value %d encoded with prefix %#x", v, d)
		return 0
	}
	return v
}

// Count reads a varint that counts items of at least minSize bytes each and
// checks it against limit and against the bytes remaining, so a caller may
// allocate count items safely.
func (r *Reader) Count(limit uint64, minSize int, what string) int {
	v := r.Varint()
	if r.err != nil {
		return 0
	}
	if v > limit {
		r.err = errorf(ErrLimit, "%s count %d above %d", what, v, limit)
		return 0
	}
	if minSize > 0 && v > uint64(r.Len()/minSize) {
		r.err = errorf(ErrShort, "%s count %d needs %d bytes, have %d", what, v, v*uint64(minSize), r.Len())
		return 0
	}
	if v > math.MaxInt32 {
		r.err = errorf(ErrLimit, "%s count %d", what, v)
		return 0
	}
	return int(v)
}

// Hash reads a 32-byte hash.
func (r *Reader) Hash() (h [32]byte) {
	copy(h[:], r.Bytes(32))
	return h
}
