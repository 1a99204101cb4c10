package wire

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// This file holds the machinery shared by the message tests: the table of
// samples and reject cases of every message (each message's own _test.go
// file supplies them), the generic checks run on them, and the golden
// vectors testdata/vectors/messages_tcp.json and messages_udp.json, which
// are generated from the same tables with `go test -run TestMessageVectors
// -update` and otherwise checked byte for byte.

func init() {
	// vectors_test.go may define -update too; whoever comes first does
	// (package variables are initialised before any init runs).
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden vector files")
	}
}

// updateMessageVectors reports whether -update was given.
func updateMessageVectors() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// msgSample is a message that must round-trip. t is the type it travels
// as (0 means m.Type()); noVector keeps large samples out of the vector
// files.
type msgSample struct {
	name     string
	t        MsgType
	m        Message
	noVector bool
}

func (s *msgSample) typ() MsgType {
	if s.t != 0 {
		return s.t
	}
	return s.m.Type()
}

// msgReject is a payload that DecodeMessage(t, p) must reject with kind.
type msgReject struct {
	name     string
	t        MsgType
	p        []byte
	kind     error
	noVector bool
}

// messageCase ties a message type to its samples and reject cases.
type messageCase struct {
	t       MsgType
	samples func() []msgSample
	rejects func() []msgReject
}

// messageCases lists every message type of §4.3 (the UDP copies of
// OPEN_JOB and CLOSE_JOB are samples of their TCP entries).
var messageCases = []messageCase{
	{TypeBTVersion, btversionSamples, btversionRejects},
	{TypeBTVerack, btverackSamples, btverackRejects},
	{TypeBTAddr, btaddrSamples, btaddrRejects},
	{TypeDisconnect, disconnectSamples, disconnectRejects},
	{TypeSetParams, setParamsSamples, setParamsRejects},
	{TypeTestMTU, testMTUSamples, testMTURejects},
	{TypeEstimateBandwidth, estimateBandwidthSamples, estimateBandwidthRejects},
	{TypeOpenJob, openJobSamples, openJobRejects},
	{TypeCloseJob, closeJobSamples, closeJobRejects},
	{TypeGetBTAddr, getBTAddrSamples, getBTAddrRejects},
	{TypeGetBlockHashes, getBlockHashesSamples, getBlockHashesRejects},
	{TypeBlockHashes, blockHashesSamples, blockHashesRejects},
	{TypeGetBlocks, getBlocksSamples, getBlocksRejects},
	{TypeBlocks, blocksSamples, blocksRejects},
	{TypeGetHeaders, getHeadersSamples, getHeadersRejects},
	{TypeHeaders, headersSamples, headersRejects},
	{TypeTx, txSamples, txRejects},
	{TypePing, pingSamples, pingRejects},
	{TypePong, pongSamples, pongRejects},
	{TypeJobState, jobStateSamples, jobStateRejects},
	{TypeJobStateAck, jobStateAckSamples, jobStateAckRejects},
	{TypeGetNodes, getNodesSamples, getNodesRejects},
	{TypeNodes, nodesSamples, nodesRejects},
	{TypeGetTxs, getTxsSamples, getTxsRejects},
	{TypeTxs, txsSamples, txsRejects},
}

// msgDecoders decodes with each type's own Decode function (no payload
// limit check, unlike DecodeMessage).
var msgDecoders = map[MsgType]func([]byte) (Message, error){
	TypeBTVersion:         func(p []byte) (Message, error) { return nonNil(DecodeBTVersion(p)) },
	TypeBTVerack:          func(p []byte) (Message, error) { return nonNil(DecodeBTVerack(p)) },
	TypeBTAddr:            func(p []byte) (Message, error) { return nonNil(DecodeBTAddr(p)) },
	TypeDisconnect:        func(p []byte) (Message, error) { return nonNil(DecodeDisconnect(p)) },
	TypeSetParams:         func(p []byte) (Message, error) { return nonNil(DecodeSetParams(p)) },
	TypeTestMTU:           func(p []byte) (Message, error) { return nonNil(DecodeTestMTU(p)) },
	TypeEstimateBandwidth: func(p []byte) (Message, error) { return nonNil(DecodeEstimateBandwidth(p)) },
	TypeOpenJob:           func(p []byte) (Message, error) { return nonNil(DecodeOpenJob(p)) },
	TypeOpenJobUDP:        func(p []byte) (Message, error) { return nonNil(DecodeOpenJob(p)) },
	TypeCloseJob:          func(p []byte) (Message, error) { return nonNil(DecodeCloseJob(p)) },
	TypeCloseJobUDP:       func(p []byte) (Message, error) { return nonNil(DecodeCloseJob(p)) },
	TypeGetBTAddr:         func(p []byte) (Message, error) { return nonNil(DecodeGetBTAddr(p)) },
	TypeGetBlockHashes:    func(p []byte) (Message, error) { return nonNil(DecodeGetBlockHashes(p)) },
	TypeBlockHashes:       func(p []byte) (Message, error) { return nonNil(DecodeBlockHashes(p)) },
	TypeGetBlocks:         func(p []byte) (Message, error) { return nonNil(DecodeGetBlocks(p)) },
	TypeBlocks:            func(p []byte) (Message, error) { return nonNil(DecodeBlocks(p)) },
	TypeGetHeaders:        func(p []byte) (Message, error) { return nonNil(DecodeGetHeaders(p)) },
	TypeHeaders:           func(p []byte) (Message, error) { return nonNil(DecodeHeaders(p)) },
	TypeTx:                func(p []byte) (Message, error) { return nonNil(DecodeTx(p)) },
	TypePing:              func(p []byte) (Message, error) { return nonNil(DecodePing(p)) },
	TypePong:              func(p []byte) (Message, error) { return nonNil(DecodePong(p)) },
	TypeJobState:          func(p []byte) (Message, error) { return nonNil(DecodeJobState(p)) },
	TypeJobStateAck:       func(p []byte) (Message, error) { return nonNil(DecodeJobStateAck(p)) },
	TypeGetNodes:          func(p []byte) (Message, error) { return nonNil(DecodeGetNodes(p)) },
	TypeNodes:             func(p []byte) (Message, error) { return nonNil(DecodeNodes(p)) },
	TypeGetTxs:            func(p []byte) (Message, error) { return nonNil(DecodeGetTxs(p)) },
	TypeTxs:               func(p []byte) (Message, error) { return nonNil(DecodeTxs(p)) },
}

// msgErrorKinds maps every error kind to its name in the vector files.
var msgErrorKinds = []struct {
	kind error
	name string
}{
	{ErrShort, "short"},
	{ErrLimit, "limit"},
	{ErrNonCanonical, "noncanonical"},
	{ErrReserved, "reserved"},
	{ErrMalformed, "malformed"},
	{ErrTrailing, "trailing"},
	{ErrUnknownType, "unknown"},
}

// msgErrKind returns the name of the kind err wraps, or "" if none.
func msgErrKind(err error) string {
	for _, k := range msgErrorKinds {
		if errors.Is(err, k.kind) {
			return k.name
		}
	}
	return ""
}

// ---- deterministic content ----

// msgHash returns a deterministic hash named by s.
func msgHash(s string) chainhash.Hash { return chainhash.DoubleHashH([]byte(s)) }

// msgHashes returns n deterministic hashes.
func msgHashes(prefix string, n int) []chainhash.Hash {
	out := make([]chainhash.Hash, n)
	for i := range out {
		out[i] = msgHash(fmt.Sprintf("%s %d", prefix, i))
	}
	return out
}

// msgGenesisHeader returns the mainnet genesis header as the decoders return
// it (timestamp in UTC).
func msgGenesisHeader() btcwire.BlockHeader {
	h, err := msgDecodeHeader(AppendHeader(nil, &chaincfg.MainNetParams.GenesisBlock.Header))
	if err != nil {
		panic(err)
	}
	return h
}

func msgDecodeHeader(b []byte) (btcwire.BlockHeader, error) {
	r := NewReader(b)
	h := ReadHeader(r)
	return h, r.Done()
}

// msgGenesisBlock returns the serialized mainnet genesis block.
func msgGenesisBlock() []byte {
	var buf bytes.Buffer
	if err := chaincfg.MainNetParams.GenesisBlock.Serialize(&buf); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// msgGenesisCoinbase returns the serialized coinbase of the genesis block.
func msgGenesisCoinbase() []byte {
	var buf bytes.Buffer
	if err := chaincfg.MainNetParams.GenesisBlock.Transactions[0].Serialize(&buf); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// mcat concatenates byte slices.
func mcat(parts ...[]byte) []byte { return slices.Concat(parts...) }

// mvi encodes a varint.
func mvi(v uint64) []byte { return AppendVarint(nil, v) }

// mhx decodes hex, panicking on bad input.
func mhx(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// msgPayload encodes m.
func msgPayload(m Message) []byte { return m.Append(nil) }

// ---- generic checks ----

// testMessageType runs the generic checks of one message type.
func testMessageType(t *testing.T, mt MsgType) {
	t.Helper()
	var mc *messageCase
	for i := range messageCases {
		if messageCases[i].t == mt {
			mc = &messageCases[i]
		}
	}
	if mc == nil {
		t.Fatalf("no messageCase for %v", mt)
	}
	samples := mc.samples()
	if len(samples) == 0 {
		t.Fatalf("%v has no samples", mt)
	}
	for _, s := range samples {
		t.Run(s.name, func(t *testing.T) { checkMsgSample(t, s) })
	}
	for _, rj := range mc.rejects() {
		t.Run("reject/"+rj.name, func(t *testing.T) {
			m, err := DecodeMessage(rj.t, rj.p)
			if !errors.Is(err, rj.kind) {
				t.Fatalf("DecodeMessage(%v, %x) = %v, %v; want error %v", rj.t, rj.p, m, err, rj.kind)
			}
			if m != nil {
				t.Fatalf("non-nil message %#v with error", m)
			}
		})
	}
}

// checkMsgSample checks a sample: round trip through DecodeMessage and the
// type's own decoder, Append keeping its prefix, the payload limit, every
// truncation rejected, trailing bytes rejected, and the trip through a TCP
// frame or a datagram.
func checkMsgSample(t *testing.T, s msgSample) {
	t.Helper()
	mt := s.typ()
	p := msgPayload(s.m)
	if len(p) > mt.MaxPayload() {
		t.Fatalf("payload of %d bytes above the %v limit %d", len(p), mt, mt.MaxPayload())
	}
	if got := s.m.Append([]byte{0xaa, 0xbb}); !bytes.Equal(got, mcat([]byte{0xaa, 0xbb}, p)) {
		t.Fatalf("Append does not keep its prefix")
	}
	got, err := DecodeMessage(mt, p)
	if err != nil {
		t.Fatalf("DecodeMessage(%v, %x): %v", mt, p, err)
	}
	if !reflect.DeepEqual(got, s.m) {
		t.Fatalf("round trip:\n got %#v\nwant %#v", got, s.m)
	}
	direct := msgDecoders[mt]
	if got2, err := direct(p); err != nil || !reflect.DeepEqual(got2, s.m) {
		t.Fatalf("direct decoder: %#v, %v", got2, err)
	}
	if again := msgPayload(got); !bytes.Equal(again, p) {
		t.Fatalf("re-encoding differs:\n got %x\nwant %x", again, p)
	}

	// Every strict prefix is rejected with a known kind (a PING's padding
	// is optional, so its prefixes from PingSize on are valid PINGs).
	for i := 0; i < len(p); i++ {
		if len(p) > 4096 && i == 2048 {
			i = len(p) - 2048 // large payloads: both ends only
		}
		m, err := direct(p[:i])
		if mt == TypePing && i >= PingSize {
			if err != nil {
				t.Fatalf("PING prefix %d: %v", i, err)
			}
			continue
		}
		if err == nil {
			t.Fatalf("prefix of %d/%d bytes decoded: %#v", i, len(p), m)
		}
		if msgErrKind(err) == "" {
			t.Fatalf("prefix of %d bytes: error %v wraps no kind", i, err)
		}
	}

	// A byte after the message is trailing (for PING: a non-zero byte is
	// bad padding).
	extra := mcat(p, []byte{0})
	want := ErrTrailing
	if mt == TypePing {
		extra, want = mcat(p, []byte{1}), ErrReserved
	}
	if _, err := direct(extra); !errors.Is(err, want) {
		t.Fatalf("with a trailing byte: %v, want %v", err, want)
	}

	// Framing.
	if mt.IsUDP() {
		h := DatagramHeader{Token: Token{1, 2, 3, 4, 5, 6, 7, 8}, Seq: 77}
		d := AppendDatagram(nil, h, s.m)
		h2, payload, err := ParseDatagram(d)
		if len(d) > MaxDatagramSize {
			if !errors.Is(err, ErrLimit) {
				t.Fatalf("oversize datagram: %v", err)
			}
			return
		}
		h.Type = mt
		if err != nil || h2 != h || !bytes.Equal(payload, p) {
			t.Fatalf("datagram trip: %+v %x %v", h2, payload, err)
		}
		return
	}
	var buf bytes.Buffer
	if err := WriteFrame(&buf, s.m); err != nil {
		t.Fatal(err)
	}
	fr := NewFrameReader(&buf)
	ft, payload, err := fr.ReadFrame()
	if err != nil || ft != mt || !bytes.Equal(payload, p) {
		t.Fatalf("frame trip: %v %x %v", ft, payload, err)
	}
}

// ---- message type table ----

func TestMsgTypeTable(t *testing.T) {
	tests := []struct {
		t     MsgType
		name  string
		limit int
		udp   bool
	}{
		{0x01, "BTVERSION", 1024, false},
		{0x02, "BTVERACK", 0, false},
		{0x03, "BTADDR", 40000, false},
		{0x04, "DISCONNECT", 300, false},
		{0x05, "SET_PARAMS", 64, false},
		{0x06, "TEST_MTU", 128, false},
		{0x07, "ESTIMATE_BANDWIDTH", 64, false},
		{0x08, "OPEN_JOB", 65536, false},
		{0x09, "CLOSE_JOB", 16, false},
		{0x0a, "GET_BTADDR", 0, false},
		{0x17, "GET_BLOCK_HASHES", 48, false},
		{0x18, "BLOCK_HASHES", 65600, false},
		{0x19, "GET_BLOCKS", 4200, false},
		{0x1a, "BLOCKS", 5242880, false},
		{0x1b, "GET_HEADERS", 48, false},
		{0x1c, "HEADERS", 160016, false},
		{0x20, "TX", 4000016, false},
		{0x40, "PING", 1459, true},
		{0x41, "PONG", 1459, true},
		{0x42, "OPEN_JOB", 1459, true},
		{0x43, "JOB_STATE", 1459, true},
		{0x44, "JOB_STATE_ACK", 1459, true},
		{0x45, "GET_NODES", 1459, true},
		{0x46, "NODES", 1459, true},
		{0x47, "GET_TXS", 1459, true},
		{0x48, "TXS", 1459, true},
		{0x4a, "CLOSE_JOB", 1459, true},
	}
	known := 0
	for _, tc := range tests {
		if got := tc.t.String(); got != tc.name {
			t.Errorf("%#02x.String() = %q, want %q", uint8(tc.t), got, tc.name)
		}
		if got := tc.t.MaxPayload(); got != tc.limit {
			t.Errorf("%v.MaxPayload() = %d, want %d", tc.t, got, tc.limit)
		}
		if !tc.t.Known() || tc.t.IsUDP() != tc.udp || tc.t.IsTCP() == tc.udp {
			t.Errorf("%v: Known %v IsUDP %v IsTCP %v", tc.t, tc.t.Known(), tc.t.IsUDP(), tc.t.IsTCP())
		}
		if _, ok := msgDecoders[tc.t]; !ok {
			t.Errorf("%v has no decoder in the test table", tc.t)
		}
		u, ok := tc.t.UDPType()
		switch {
		case tc.udp && (!ok || u != tc.t):
			t.Errorf("%v.UDPType() = %v, %v", tc.t, u, ok)
		case tc.t == TypeOpenJob && (!ok || u != TypeOpenJobUDP):
			t.Errorf("OPEN_JOB UDP type %v, %v", u, ok)
		case tc.t == TypeCloseJob && (!ok || u != TypeCloseJobUDP):
			t.Errorf("CLOSE_JOB UDP type %v, %v", u, ok)
		case !tc.udp && tc.t != TypeOpenJob && tc.t != TypeCloseJob && ok:
			t.Errorf("TCP-only %v has UDP type %v", tc.t, u)
		}
	}
	for i := 0; i < 256; i++ {
		if MsgType(i).Known() {
			known++
		}
	}
	if known != len(tests) {
		t.Errorf("%d known types, the table has %d", known, len(tests))
	}
	for _, u := range []MsgType{0x00, 0x0b, 0x21, 0x49, 0x4b, 0x7f, 0xff} {
		if u.Known() || u.IsUDP() || u.IsTCP() || u.MaxPayload() != MaxFrameLength {
			t.Errorf("unknown %v: Known %v IsUDP %v IsTCP %v MaxPayload %d", u, u.Known(), u.IsUDP(), u.IsTCP(), u.MaxPayload())
		}
		if _, ok := u.UDPType(); ok {
			t.Errorf("unknown %v has a UDP type", u)
		}
		if m, err := DecodeMessage(u, nil); !errors.Is(err, ErrUnknownType) || m != nil {
			t.Errorf("DecodeMessage(%v) = %v, %v", u, m, err)
		}
	}
	if s := MsgType(0x7f).String(); s != "MsgType(0x7f)" {
		t.Errorf("unknown String() = %q", s)
	}
}

// TestMessageCasesComplete checks that every known type has samples and
// that every sample's type is the case's (or its UDP copy).
func TestMessageCasesComplete(t *testing.T) {
	have := map[MsgType]bool{}
	for _, mc := range messageCases {
		for _, s := range mc.samples() {
			have[s.typ()] = true
			if s.m.Type() != mc.t {
				t.Errorf("%s: sample of %v in the %v case", s.name, s.m.Type(), mc.t)
			}
		}
		for _, rj := range mc.rejects() {
			if rj.t != mc.t {
				if u, _ := mc.t.UDPType(); rj.t != u {
					t.Errorf("%s: reject of %v in the %v case", rj.name, rj.t, mc.t)
				}
			}
		}
	}
	for i := 0; i < 256; i++ {
		if mt := MsgType(i); mt.Known() && !have[mt] {
			t.Errorf("no sample travels as %v (%#02x)", mt, i)
		}
	}
}

// TestDecodeMessageLimit checks that DecodeMessage refuses a payload over
// its type's limit before decoding it.
func TestDecodeMessageLimit(t *testing.T) {
	for i := 0; i < 256; i++ {
		mt := MsgType(i)
		if !mt.Known() {
			continue
		}
		p := make([]byte, mt.MaxPayload()+1)
		if _, err := DecodeMessage(mt, p); !errors.Is(err, ErrLimit) {
			t.Errorf("%v: over-limit payload: %v", mt, err)
		}
	}
}

// TestDecodeMessageNilOnError checks that a failed decode returns a nil
// interface, not a typed nil pointer.
func TestDecodeMessageNilOnError(t *testing.T) {
	for i := 0; i < 256; i++ {
		mt := MsgType(i)
		if !mt.Known() || mt == TypeBTVerack || mt == TypeGetBTAddr {
			continue
		}
		m, err := DecodeMessage(mt, []byte{0xff})
		if err == nil {
			// A one-byte payload that decodes is fine (none does today).
			t.Errorf("%v: 0xff decoded as %#v", mt, m)
			continue
		}
		if m != nil {
			t.Errorf("%v: error %v with non-nil message %#v", mt, err, m)
		}
	}
}

func TestJobIDAndToken(t *testing.T) {
	g := *chaincfg.MainNetParams.GenesisHash
	id := JobIDOf(g)
	if !bytes.Equal(id[:], g[:8]) {
		t.Fatalf("JobIDOf = %x, want %x", id, g[:8])
	}
	// The genesis hash 000000000019d6...8ce26f in internal order starts
	// 6fe28c0ab6f1b372.
	if id.String() != "6fe28c0ab6f1b372" {
		t.Fatalf("genesis JobID %v", id)
	}
	b, err := json.Marshal(struct {
		ID  JobID
		Tok Token
	}{id, Token{1, 2, 3, 4, 5, 6, 7, 0xff}})
	if err != nil || string(b) != `{"ID":"6fe28c0ab6f1b372","Tok":"01020304050607ff"}` {
		t.Fatalf("JSON %s %v", b, err)
	}
	var back struct {
		ID  JobID
		Tok Token
	}
	if err := json.Unmarshal(b, &back); err != nil || back.ID != id || back.Tok != (Token{1, 2, 3, 4, 5, 6, 7, 0xff}) {
		t.Fatalf("unmarshal: %+v %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"ID":"6fe2"}`), &back); err == nil {
		t.Fatal("short JobID hex accepted")
	}
	oj := &OpenJob{Header: msgGenesisHeader()}
	if oj.JobID() != id {
		t.Fatalf("OpenJob.JobID %v", oj.JobID())
	}
}

func TestHeaderCodec(t *testing.T) {
	g := chaincfg.MainNetParams.GenesisBlock.Header
	var buf bytes.Buffer
	if err := g.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	b := AppendHeader(nil, &g)
	if !bytes.Equal(b, buf.Bytes()) || len(b) != HeaderSize {
		t.Fatalf("AppendHeader differs from btcd:\n%x\n%x", b, buf.Bytes())
	}
	h, err := msgDecodeHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.BlockHash() != *chaincfg.MainNetParams.GenesisHash {
		t.Fatalf("hash %v", h.BlockHash())
	}
	if h.Timestamp.Location() != time.UTC || !h.Timestamp.Equal(g.Timestamp) {
		t.Fatalf("timestamp %v", h.Timestamp)
	}
	for i := 0; i < HeaderSize; i++ {
		if _, err := msgDecodeHeader(b[:i]); !errors.Is(err, ErrShort) {
			t.Fatalf("header prefix %d: %v", i, err)
		}
	}
}

// ---- golden vectors ----

// messageVector is one entry of messages_tcp.json or messages_udp.json.
type messageVector struct {
	Name   string          `json:"name"`
	Type   MsgType         `json:"type"`
	Hex    string          `json:"hex"`
	Fields json.RawMessage `json:"fields,omitempty"`
	Error  string          `json:"error,omitempty"`
}

const messageVectorDir = "../../testdata/vectors"

// buildMessageVectors returns the vectors of the TCP or UDP file.
func buildMessageVectors(t *testing.T, udp bool) []messageVector {
	t.Helper()
	var out []messageVector
	add := func(v messageVector) {
		if v.Type.IsUDP() == udp || (!v.Type.Known() && !udp) {
			out = append(out, v)
		}
	}
	firstOfType := map[MsgType]bool{}
	for _, mc := range messageCases {
		for _, s := range mc.samples() {
			if s.noVector {
				continue
			}
			mt := s.typ()
			p := msgPayload(s.m)
			fields, err := json.Marshal(s.m)
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			add(messageVector{Name: s.name, Type: mt, Hex: hex.EncodeToString(p), Fields: fields})
			// Generic rejects of the first sample of each type (and of
			// each UDP copy).
			if firstOfType[mt] {
				continue
			}
			firstOfType[mt] = true
			if mt != TypePing && len(p) > 0 {
				add(messageVector{Name: s.name + " truncated", Type: mt, Hex: hex.EncodeToString(p[:len(p)-1]), Error: "short"})
			}
			switch {
			case mt.MaxPayload() == 0:
				add(messageVector{Name: s.name + " with payload", Type: mt, Hex: "00", Error: "limit"})
			case mt == TypePing:
				add(messageVector{Name: s.name + " non-zero padding", Type: mt, Hex: hex.EncodeToString(mcat(p, []byte{1})), Error: "reserved"})
			default:
				add(messageVector{Name: s.name + " trailing byte", Type: mt, Hex: hex.EncodeToString(mcat(p, []byte{0})), Error: "trailing"})
			}
		}
		for _, rj := range mc.rejects() {
			if rj.noVector {
				continue
			}
			add(messageVector{Name: rj.name, Type: rj.t, Hex: hex.EncodeToString(rj.p), Error: msgErrKind(rj.kind)})
		}
	}
	if udp {
		add(messageVector{Name: "OPEN_JOB over the datagram limit", Type: TypeOpenJobUDP, Hex: hex.EncodeToString(make([]byte, TypeOpenJobUDP.MaxPayload()+1)), Error: "limit"})
	} else {
		add(messageVector{Name: "unknown type 0x7f", Type: 0x7f, Hex: "", Error: "unknown"})
		add(messageVector{Name: "unknown type 0x21", Type: 0x21, Hex: "00", Error: "unknown"})
	}
	return out
}

func TestMessageVectors(t *testing.T) {
	for _, file := range []struct {
		name string
		udp  bool
	}{{"messages_tcp.json", false}, {"messages_udp.json", true}} {
		t.Run(file.name, func(t *testing.T) {
			path := filepath.Join(messageVectorDir, file.name)
			vecs := buildMessageVectors(t, file.udp)
			want := marshalMessageVectors(t, vecs)
			if updateMessageVectors() {
				if err := os.MkdirAll(messageVectorDir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote %s (%d vectors)", path, len(vecs))
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the vectors the tables generate (run with -update if the change is intended)", path)
			}
			var fileVecs []messageVector
			if err := json.Unmarshal(got, &fileVecs); err != nil {
				t.Fatal(err)
			}
			checkMessageVectors(t, fileVecs)
		})
	}
}

// marshalMessageVectors renders vectors one a line.
func marshalMessageVectors(t *testing.T, vecs []messageVector) []byte {
	var b bytes.Buffer
	b.WriteString("[\n")
	for i, v := range vecs {
		line, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		b.Write(line)
		if i < len(vecs)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]\n")
	return b.Bytes()
}

// checkMessageVectors checks vectors as a second implementation would:
// decode the hex, compare the fields and re-encode, or expect the error.
func checkMessageVectors(t *testing.T, vecs []messageVector) {
	t.Helper()
	names := map[string]bool{}
	for _, v := range vecs {
		if names[v.Name] {
			t.Errorf("duplicate vector name %q", v.Name)
		}
		names[v.Name] = true
		p, err := hex.DecodeString(v.Hex)
		if err != nil {
			t.Errorf("%s: %v", v.Name, err)
			continue
		}
		m, err := DecodeMessage(v.Type, p)
		if v.Error != "" {
			if got := msgErrKind(err); got != v.Error {
				t.Errorf("%s: error %v (%q), want %q", v.Name, err, got, v.Error)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", v.Name, err)
			continue
		}
		fields, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, v.Fields); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fields, compact.Bytes()) {
			t.Errorf("%s: fields\n got %s\nwant %s", v.Name, fields, compact.Bytes())
		}
		if again := hex.EncodeToString(m.Append(nil)); again != v.Hex {
			t.Errorf("%s: re-encoded %s", v.Name, again)
		}
	}
}

// readMessageVectors returns the payloads of the vector files for type mt,
// for seeding fuzz targets (nil if the files are missing).
func readMessageVectors(tb testing.TB, mt MsgType) [][]byte {
	var out [][]byte
	for _, name := range []string{"messages_tcp.json", "messages_udp.json"} {
		b, err := os.ReadFile(filepath.Join(messageVectorDir, name))
		if err != nil {
			continue
		}
		var vecs []messageVector
		if err := json.Unmarshal(b, &vecs); err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		for _, v := range vecs {
			if v.Type == mt {
				if p, err := hex.DecodeString(v.Hex); err == nil {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// msgFrames returns the TCP frames of every vector, back to back.
func msgFrames(tb testing.TB) []byte {
	var out []byte
	for i := 0; i < 256; i++ {
		mt := MsgType(i)
		if !mt.IsTCP() {
			continue
		}
		for _, p := range readMessageVectors(tb, mt) {
			out = append(out, byte(mt))
			out = AppendUint32(out, uint32(len(p)))
			out = append(out, p...)
		}
	}
	return out
}
