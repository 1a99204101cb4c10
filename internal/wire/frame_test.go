package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"
)

// frameHeader returns a TCP frame header.
func frameHeader(t MsgType, n uint32) []byte {
	return binary.LittleEndian.AppendUint32([]byte{byte(t)}, n)
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestAppendFrame(t *testing.T) {
	m := &CloseJob{JobID: JobID{1, 2, 3, 4, 5, 6, 7, 8}, Reason: CloseSuperseded}
	got := AppendFrame([]byte{0xee}, m)
	want := mhx("ee 09 09000000 0102030405060708 03")
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendFrame = %x, want %x", got, want)
	}
	if got := AppendFrame(nil, &BTVerack{}); !bytes.Equal(got, mhx("02 00000000")) {
		t.Fatalf("BTVERACK frame %x", got)
	}
}

func TestFrameBackToBack(t *testing.T) {
	msgs := []Message{
		msgMainnetVersion(),
		&BTVerack{},
		&SetParams{Role: RoleRelay, MaxDatagram: 1200, MaxJobs: 8},
		msgGenesisOpenJob(),
		&CloseJob{JobID: JobID{1}, Reason: CloseComplete},
		&Blocks{Blocks: [][]byte{msgGenesisBlock()}},
		&Tx{Tx: bytes.Repeat([]byte{7}, 200000)}, // beyond the reused buffer
		&GetBTAddr{},
	}
	var stream bytes.Buffer
	for _, m := range msgs {
		if err := WriteFrame(&stream, m); err != nil {
			t.Fatal(err)
		}
	}
	// An unknown type in the middle is returned for the caller to skip.
	stream.Write(frameHeader(0x7e, 3))
	stream.Write([]byte{1, 2, 3})
	// Deliver one byte at a time to exercise partial reads.
	fr := NewFrameReader(bufio.NewReaderSize(&oneByteReader{r: &stream}, 16))
	for _, m := range msgs {
		mt, p, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("%v: %v", m.Type(), err)
		}
		if mt != m.Type() || !bytes.Equal(p, msgPayload(m)) {
			t.Fatalf("frame %v %d bytes, want %v %d bytes", mt, len(p), m.Type(), len(msgPayload(m)))
		}
		if _, err := DecodeMessage(mt, p); err != nil {
			t.Fatalf("%v: %v", mt, err)
		}
	}
	mt, p, err := fr.ReadFrame()
	if err != nil || mt != 0x7e || !bytes.Equal(p, []byte{1, 2, 3}) {
		t.Fatalf("unknown frame %v %x %v", mt, p, err)
	}
	if _, err := DecodeMessage(mt, p); !errors.Is(err, ErrUnknownType) {
		t.Fatal(err)
	}
	if _, _, err := fr.ReadFrame(); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
}

type oneByteReader struct{ r io.Reader }

func (o *oneByteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

func TestFrameReaderOversize(t *testing.T) {
	tests := []struct {
		name string
		t    MsgType
		n    uint32
	}{
		{"BTVERSION 1025", TypeBTVersion, 1025},
		{"BTVERACK 1", TypeBTVerack, 1},
		{"CLOSE_JOB 17", TypeCloseJob, 17},
		{"BLOCKS 5,242,881", TypeBlocks, MaxFrameLength + 1},
		{"TX 4,000,017", TypeTx, 4000017},
		{"unknown 5,242,881", 0x7e, MaxFrameLength + 1},
		{"unknown 4 GiB", 0xff, 0xffffffff},
		{"JOB_STATE on TCP, 1460", TypeJobState, 1460},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := mcat(frameHeader(tc.t, tc.n), make([]byte, 64))
			cr := &countingReader{r: bytes.NewReader(data)}
			fr := NewFrameReader(bufio.NewReaderSize(cr, 16))
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			mt, p, err := fr.ReadFrame()
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrLimit) || p != nil || mt != tc.t {
				t.Fatalf("ReadFrame = %v, %d bytes, %v; want ErrLimit", mt, len(p), err)
			}
			if d := after.TotalAlloc - before.TotalAlloc; d > 4096 {
				t.Fatalf("allocated %d bytes", d)
			}
			if cr.n > 16 {
				t.Fatalf("read %d bytes past the header", cr.n-FrameHeaderSize)
			}
		})
	}
	// At the limit is fine.
	data := mcat(frameHeader(TypeCloseJob, 16), make([]byte, 16))
	if _, p, err := NewFrameReader(bytes.NewReader(data)).ReadFrame(); err != nil || len(p) != 16 {
		t.Fatalf("frame at the limit: %v", err)
	}
}

// TestFrameReaderStall checks that a large LENGTH whose bytes never come
// costs memory in proportion to what arrived, not to LENGTH.
func TestFrameReaderStall(t *testing.T) {
	data := mcat(frameHeader(TypeBlocks, MaxFrameLength), make([]byte, 100))
	fr := NewFrameReader(bytes.NewReader(data))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, p, err := fr.ReadFrame()
	runtime.ReadMemStats(&after)
	if err != io.ErrUnexpectedEOF || p != nil {
		t.Fatalf("ReadFrame = %d bytes, %v; want io.ErrUnexpectedEOF", len(p), err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 256<<10 {
		t.Fatalf("allocated %d bytes for 100 bytes of a 5 MB frame", d)
	}
}

func TestFrameReaderTruncated(t *testing.T) {
	full := AppendFrame(nil, msgMainnetVersion())
	for i := 1; i < len(full); i++ {
		_, _, err := NewFrameReader(bytes.NewReader(full[:i])).ReadFrame()
		if err != io.ErrUnexpectedEOF {
			t.Fatalf("frame cut at %d: %v", i, err)
		}
	}
	if _, _, err := NewFrameReader(bytes.NewReader(nil)).ReadFrame(); err != io.EOF {
		t.Fatalf("empty stream: %v", err)
	}
	// A large frame cut short.
	big := AppendFrame(nil, &Tx{Tx: make([]byte, 300000)})
	if _, _, err := NewFrameReader(bytes.NewReader(big[:len(big)-1])).ReadFrame(); err != io.ErrUnexpectedEOF {
		t.Fatalf("large frame cut short: %v", err)
	}
}

// TestFrameReaderReuse documents the aliasing: a small payload is
// overwritten by the next ReadFrame, a large one is not.
func TestFrameReaderReuse(t *testing.T) {
	var stream bytes.Buffer
	for _, m := range []Message{&Pong{Nonce: 1}, &Pong{Nonce: 2}} {
		stream.Write(AppendFrame(nil, m))
	}
	fr := NewFrameReader(&stream)
	_, p1, _ := fr.ReadFrame()
	first := bytes.Clone(p1)
	_, p2, _ := fr.ReadFrame()
	if &p1[0] != &p2[0] || bytes.Equal(p1, first) {
		t.Fatal("small payloads do not share the buffer")
	}
	// With the buffer warm, reading a small frame allocates nothing.
	var many bytes.Buffer
	for range 200 {
		many.Write(AppendFrame(nil, &Pong{Nonce: 3}))
	}
	fr = NewFrameReader(&many)
	if _, _, err := fr.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := fr.ReadFrame(); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Fatalf("%v allocations per small frame", allocs)
	}
}

func TestWriteFrameLimit(t *testing.T) {
	var buf bytes.Buffer
	m := &Disconnect{Reason: ReasonProtocol, Message: string(bytes.Repeat([]byte{'a'}, 400))}
	if err := WriteFrame(&buf, m); !errors.Is(err, ErrLimit) || buf.Len() != 0 {
		t.Fatalf("oversize WriteFrame: %v, wrote %d", err, buf.Len())
	}
	// Write errors are returned.
	if err := WriteFrame(failWriter{}, &BTVerack{}); err == nil {
		t.Fatal("write error lost")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }
