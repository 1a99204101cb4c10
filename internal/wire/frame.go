package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"slices"
)

// FrameHeaderSize is the size of a TCP frame header: TYPE and LENGTH.
const FrameHeaderSize = 5

// AppendFrame appends m as a TCP frame: TYPE, LENGTH, payload. It does not
// check the payload against the type's limit; WriteFrame does.
func AppendFrame(b []byte, m Message) []byte {
	start := len(b)
	b = append(b, byte(m.Type()), 0, 0, 0, 0)
	b = m.Append(b)
	binary.LittleEndian.PutUint32(b[start+1:], uint32(len(b)-start-FrameHeaderSize))
	return b
}

// WriteFrame writes m as one TCP frame with a single Write. It returns an
// error wrapping ErrLimit, and writes nothing, if the payload is over the
// type's limit.
func WriteFrame(w io.Writer, m Message) error {
	b := AppendFrame(nil, m)
	t := m.Type()
	if n := len(b) - FrameHeaderSize; n > t.MaxPayload() {
		return errorf(ErrLimit, "%v payload of %d bytes above %d", t, n, t.MaxPayload())
	}
	_, err := w.Write(b)
	return err
}

// frameReuseLimit is the largest payload FrameReader reads into its
// retained buffer. Larger payloads (blocks, transactions) get a buffer of
// their own, grown as the bytes arrive, so a peer that announces a large
// LENGTH and stalls costs no more memory than it has sent, and a connection
// that once carried a 4 MB block does not keep 4 MB.
const frameReuseLimit = 64 << 10

// FrameReader reads TCP frames (docs/protocol.md §4.1) from a stream.
// It is not safe for concurrent use.
type FrameReader struct {
	r   *bufio.Reader
	hdr [FrameHeaderSize]byte
	buf []byte
}

// NewFrameReader returns a FrameReader on r, which it wraps in a
// bufio.Reader unless r is one already.
func NewFrameReader(r io.Reader) *FrameReader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	return &FrameReader{r: br}
}

// ReadFrame reads one frame and returns its type and payload. It checks
// LENGTH against t.MaxPayload() before reading or allocating anything, and
// returns an error wrapping ErrLimit when it is over (the connection cannot
// be resynchronised and must end). Frames of unknown types are returned
// like any other, with the global limit of MaxFrameLength; the caller skips
// them (or rejects them before the handshake).
//
// The payload is valid only until the next call to ReadFrame: payloads up to
// 64 KiB are read into a buffer the FrameReader reuses, so a caller that
// keeps a payload, or a message decoded from it (decoded messages alias
// their payload), must copy it first.
//
// At a clean end of stream between frames ReadFrame returns io.EOF; a frame
// cut short returns io.ErrUnexpectedEOF.
func (fr *FrameReader) ReadFrame() (MsgType, []byte, error) {
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		return 0, nil, err
	}
	t := MsgType(fr.hdr[0])
	n := binary.LittleEndian.Uint32(fr.hdr[1:])
	if uint64(n) > uint64(t.MaxPayload()) {
		return t, nil, errorf(ErrLimit, "%v frame of %d bytes above %d", t, n, t.MaxPayload())
	}
	if n <= frameReuseLimit {
		if cap(fr.buf) < int(n) {
			fr.buf = make([]byte, n, max(int(n), 4096))
		}
		p := fr.buf[:n]
		if _, err := io.ReadFull(fr.r, p); err != nil {
			return t, nil, unexpected(err)
		}
		return t, p, nil
	}
	p, err := readGrowing(fr.r, int(n))
	if err != nil {
		return t, nil, unexpected(err)
	}
	return t, p, nil
}

// readGrowing reads exactly n bytes, growing the buffer as data arrives.
func readGrowing(r io.Reader, n int) ([]byte, error) {
	p := make([]byte, 0, frameReuseLimit)
	for len(p) < n {
		if len(p) == cap(p) {
			p = slices.Grow(p, min(n, 2*cap(p))-len(p))
		}
		k := min(n, cap(p))
		if _, err := io.ReadFull(r, p[len(p):k]); err != nil {
			return nil, err
		}
		p = p[:k]
	}
	return p, nil
}

// unexpected turns an io.EOF inside a frame into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
