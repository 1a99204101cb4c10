package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// Fuzz targets for every message decoder, the datagram header and the TCP
// frame reader, seeded with the golden vectors of
// testdata/vectors/messages_{tcp,udp}.json. Run one with e.g.
//
//	go test ./internal/wire -run '^$' -fuzz '^FuzzOpenJob$' -fuzztime 30s
//
// Properties: no decoder panics; every error wraps an error kind and comes
// with a nil message; a payload that decodes is canonical (re-encoding
// gives the same bytes) and decodes again to an equal value.

// fuzzMessage runs the decoder property for type mt (and the other numbers
// in also, which share the Go type).
func fuzzMessage(f *testing.F, mt MsgType, also ...MsgType) {
	for _, t := range append([]MsgType{mt}, also...) {
		for _, p := range readMessageVectors(f, t) {
			f.Add(p)
		}
	}
	f.Add([]byte{})
	dec := msgDecoders[mt]
	f.Fuzz(func(t *testing.T, p []byte) {
		m, err := dec(p)
		if err != nil {
			if msgErrKind(err) == "" {
				t.Fatalf("error %v wraps no kind", err)
			}
			if m != nil {
				t.Fatalf("message %#v with error %v", m, err)
			}
			return
		}
		if m.Type() != mt {
			t.Fatalf("decoded a %v", m.Type())
		}
		q := m.Append(nil)
		if !bytes.Equal(q, p) {
			t.Fatalf("non-canonical input accepted:\n in %x\nout %x", p, q)
		}
		m2, err := dec(q)
		if err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("re-decoded value differs:\n%#v\n%#v", m, m2)
		}
		// DecodeMessage agrees, within the type's limit.
		for _, t2 := range append([]MsgType{mt}, also...) {
			m3, err := DecodeMessage(t2, p)
			switch {
			case len(p) > t2.MaxPayload():
				if !errors.Is(err, ErrLimit) {
					t.Fatalf("%v over its limit: %v", t2, err)
				}
			case err != nil || !reflect.DeepEqual(m, m3):
				t.Fatalf("DecodeMessage(%v) = %#v, %v", t2, m3, err)
			}
		}
	})
}

func FuzzBTVersion(f *testing.F)         { fuzzMessage(f, TypeBTVersion) }
func FuzzBTVerack(f *testing.F)          { fuzzMessage(f, TypeBTVerack) }
func FuzzBTAddr(f *testing.F)            { fuzzMessage(f, TypeBTAddr) }
func FuzzGetBTAddr(f *testing.F)         { fuzzMessage(f, TypeGetBTAddr) }
func FuzzDisconnect(f *testing.F)        { fuzzMessage(f, TypeDisconnect) }
func FuzzSetParams(f *testing.F)         { fuzzMessage(f, TypeSetParams) }
func FuzzTestMTU(f *testing.F)           { fuzzMessage(f, TypeTestMTU) }
func FuzzEstimateBandwidth(f *testing.F) { fuzzMessage(f, TypeEstimateBandwidth) }
func FuzzOpenJob(f *testing.F)           { fuzzMessage(f, TypeOpenJob, TypeOpenJobUDP) }
func FuzzCloseJob(f *testing.F)          { fuzzMessage(f, TypeCloseJob, TypeCloseJobUDP) }
func FuzzJobState(f *testing.F)          { fuzzMessage(f, TypeJobState) }
func FuzzJobStateAck(f *testing.F)       { fuzzMessage(f, TypeJobStateAck) }
func FuzzGetNodes(f *testing.F)          { fuzzMessage(f, TypeGetNodes) }
func FuzzNodes(f *testing.F)             { fuzzMessage(f, TypeNodes) }
func FuzzGetTxs(f *testing.F)            { fuzzMessage(f, TypeGetTxs) }
func FuzzTxs(f *testing.F)               { fuzzMessage(f, TypeTxs) }
func FuzzPing(f *testing.F)              { fuzzMessage(f, TypePing) }
func FuzzPong(f *testing.F)              { fuzzMessage(f, TypePong) }
func FuzzTx(f *testing.F)                { fuzzMessage(f, TypeTx) }
func FuzzGetBlockHashes(f *testing.F)    { fuzzMessage(f, TypeGetBlockHashes) }
func FuzzBlockHashes(f *testing.F)       { fuzzMessage(f, TypeBlockHashes) }
func FuzzGetBlocks(f *testing.F)         { fuzzMessage(f, TypeGetBlocks) }
func FuzzBlocks(f *testing.F)            { fuzzMessage(f, TypeBlocks) }
func FuzzGetHeaders(f *testing.F)        { fuzzMessage(f, TypeGetHeaders) }
func FuzzHeaders(f *testing.F)           { fuzzMessage(f, TypeHeaders) }

// FuzzDecodeMessage throws any type byte at DecodeMessage.
func FuzzDecodeMessage(f *testing.F) {
	for i := 0; i < 256; i++ {
		for _, p := range readMessageVectors(f, MsgType(i)) {
			f.Add(uint8(i), p)
		}
	}
	f.Fuzz(func(t *testing.T, typ uint8, p []byte) {
		mt := MsgType(typ)
		m, err := DecodeMessage(mt, p)
		if err != nil {
			if m != nil || msgErrKind(err) == "" {
				t.Fatalf("%v: %#v, %v", mt, m, err)
			}
			if !mt.Known() && !errors.Is(err, ErrUnknownType) {
				t.Fatalf("unknown %v: %v", mt, err)
			}
			return
		}
		if q := m.Append(nil); !bytes.Equal(q, p) {
			t.Fatalf("%v: non-canonical input accepted", mt)
		}
	})
}

// FuzzParseDatagram parses datagrams and, when the header and payload are
// valid, rebuilds them byte for byte.
func FuzzParseDatagram(f *testing.F) {
	h := DatagramHeader{Token: Token{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4}, Seq: 1}
	for i := 0; i < 256; i++ {
		mt := MsgType(i)
		if !mt.IsUDP() {
			continue
		}
		for _, p := range readMessageVectors(f, mt) {
			f.Add(mcat([]byte{byte(mt)}, h.Token[:], AppendUint32(nil, h.Seq), p))
		}
	}
	f.Add(make([]byte, 12))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, p, err := ParseDatagram(b)
		if err != nil {
			if msgErrKind(err) == "" {
				t.Fatalf("error %v wraps no kind", err)
			}
			return
		}
		if !h.Type.IsUDP() || len(b) < DatagramHeaderSize || len(b) > MaxDatagramSize || len(p) != len(b)-DatagramHeaderSize {
			t.Fatalf("accepted %+v with %d of %d bytes", h, len(p), len(b))
		}
		m, err := DecodeMessage(h.Type, p)
		if err != nil {
			if m != nil || msgErrKind(err) == "" {
				t.Fatalf("%v: %#v, %v", h.Type, m, err)
			}
			return
		}
		if d := AppendDatagram(nil, h, m); !bytes.Equal(d, b) {
			t.Fatalf("rebuilt datagram differs:\n in %x\nout %x", b, d)
		}
	})
}

// FuzzFrameReader reads a stream of frames; every frame that decodes is
// re-framed byte for byte, and the stream ends with io.EOF, a cut frame or
// a frame over its limit.
func FuzzFrameReader(f *testing.F) {
	all := msgFrames(f)
	f.Add(all)
	f.Add(all[:len(all)/2])
	f.Add(mcat(AppendFrame(nil, &BTVerack{}), []byte{0x7f, 3, 0, 0, 0, 1, 2, 3}, AppendFrame(nil, &GetBTAddr{})))
	f.Add([]byte{byte(TypeBlocks), 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr := NewFrameReader(bufio.NewReaderSize(bytes.NewReader(b), 16))
		off := 0
		for {
			mt, p, err := fr.ReadFrame()
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.Is(err, ErrLimit) {
					t.Fatalf("stream ended with %v", err)
				}
				if err == io.EOF && off != len(b) {
					t.Fatalf("io.EOF at %d of %d bytes", off, len(b))
				}
				return
			}
			if len(p) > mt.MaxPayload() {
				t.Fatalf("%v payload of %d bytes above %d", mt, len(p), mt.MaxPayload())
			}
			frame := b[off : off+FrameHeaderSize+len(p)]
			off += len(frame)
			if !bytes.Equal(frame[FrameHeaderSize:], p) {
				t.Fatal("payload is not the frame's bytes")
			}
			m, err := DecodeMessage(mt, p)
			if err != nil {
				continue
			}
			if got := AppendFrame(nil, m); !bytes.Equal(got, frame) {
				t.Fatalf("re-framed %v differs:\n in %x\nout %x", mt, frame, got)
			}
		}
	})
}
