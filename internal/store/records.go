package store

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// recordReader reads records in the blk*.dat format: magic (4 bytes,
// little endian), length (4 bytes, little endian), block. Runs of zero
// bytes between records and at the end are skipped.
type recordReader struct {
	r     *bufio.Reader
	magic uint32
	// off is the stream offset of the next unread byte.
	off int64
}

func newRecordReader(r io.Reader, magic uint32) *recordReader {
	return &recordReader{r: bufio.NewReaderSize(r, 1<<20), magic: magic}
}

// next returns the next record's block bytes and the offset of its
// record, or io.EOF at the end of the stream.
func (rr *recordReader) next() (raw []byte, off int64, err error) {
	if err := rr.skipZeros(); err != nil {
		return nil, rr.off, err
	}
	off = rr.off
	var prefix [recordPrefix]byte
	if err := rr.readFull(prefix[:]); err != nil {
		return nil, off, fmt.Errorf("%w: record prefix at offset %d: %w", ErrBadRecord, off, err)
	}
	if m := binary.LittleEndian.Uint32(prefix[0:]); m != rr.magic {
		return nil, off, fmt.Errorf("%w: magic %08x at offset %d, want %08x", ErrBadRecord, m, off, rr.magic)
	}
	n := binary.LittleEndian.Uint32(prefix[4:])
	if n > MaxBlockBytes {
		return nil, off, fmt.Errorf("%w: record at offset %d claims %d bytes, more than %d", ErrBadRecord, off, n, MaxBlockBytes)
	}
	if n < headerSize {
		return nil, off, fmt.Errorf("%w: record at offset %d has %d bytes, less than a header", ErrBadRecord, off, n)
	}
	raw = make([]byte, n)
	if err := rr.readFull(raw); err != nil {
		return nil, off, fmt.Errorf("%w: record at offset %d (%d bytes): %w", ErrBadRecord, off, n, err)
	}
	return raw, off, nil
}

// readFull fills b; a stream that ends first gives io.ErrUnexpectedEOF.
func (rr *recordReader) readFull(b []byte) error {
	n, err := io.ReadFull(rr.r, b)
	rr.off += int64(n)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// skipZeros discards zero bytes up to the next non-zero byte. It returns
// io.EOF when the stream ends first.
func (rr *recordReader) skipZeros() error {
	for {
		if rr.r.Buffered() == 0 {
			if _, err := rr.r.Peek(1); err != nil {
				return err
			}
		}
		buf, _ := rr.r.Peek(rr.r.Buffered())
		i := 0
		for i < len(buf) && buf[i] == 0 {
			i++
		}
		rr.r.Discard(i)
		rr.off += int64(i)
		if i < len(buf) {
			return nil
		}
	}
}
