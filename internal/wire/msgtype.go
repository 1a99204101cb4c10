package wire

import (
	"encoding/hex"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// MsgType is the TYPE byte of a TCP frame or a UDP datagram
// (docs/protocol.md §4.3). Types below 0x40 travel on TCP, types from 0x40
// on UDP; OPEN_JOB and CLOSE_JOB have one number on each channel.
type MsgType uint8

// The message types of protocol version 1.
const (
	TypeBTVersion         MsgType = 0x01
	TypeBTVerack          MsgType = 0x02
	TypeBTAddr            MsgType = 0x03
	TypeDisconnect        MsgType = 0x04
	TypeSetParams         MsgType = 0x05
	TypeTestMTU           MsgType = 0x06
	TypeEstimateBandwidth MsgType = 0x07
	TypeOpenJob           MsgType = 0x08 // TCP copy; UDP copy is TypeOpenJobUDP
	TypeCloseJob          MsgType = 0x09 // TCP copy; UDP copy is TypeCloseJobUDP
	TypeGetBTAddr         MsgType = 0x0a
	TypeGetBlockHashes    MsgType = 0x17
	TypeBlockHashes       MsgType = 0x18
	TypeGetBlocks         MsgType = 0x19
	TypeBlocks            MsgType = 0x1a
	TypeGetHeaders        MsgType = 0x1b
	TypeHeaders           MsgType = 0x1c
	TypeTx                MsgType = 0x20

	TypePing        MsgType = 0x40
	TypePong        MsgType = 0x41
	TypeOpenJobUDP  MsgType = 0x42
	TypeJobState    MsgType = 0x43
	TypeJobStateAck MsgType = 0x44
	TypeGetNodes    MsgType = 0x45
	TypeNodes       MsgType = 0x46
	TypeGetTxs      MsgType = 0x47
	TypeTxs         MsgType = 0x48
	TypeCloseJobUDP MsgType = 0x4a
)

// MaxFrameLength is the largest LENGTH of any TCP frame, known type or not.
const MaxFrameLength = 5242880

// msgInfo describes one known message type.
type msgInfo struct {
	name  string
	limit int // payload limit; 0 for UDP types means the datagram limit
	udp   bool
}

var msgInfos = map[MsgType]msgInfo{
	TypeBTVersion:         {"BTVERSION", 1024, false},
	TypeBTVerack:          {"BTVERACK", 0, false},
	TypeBTAddr:            {"BTADDR", 40000, false},
	TypeDisconnect:        {"DISCONNECT", 300, false},
	TypeSetParams:         {"SET_PARAMS", 64, false},
	TypeTestMTU:           {"TEST_MTU", 128, false},
	TypeEstimateBandwidth: {"ESTIMATE_BANDWIDTH", 64, false},
	TypeOpenJob:           {"OPEN_JOB", 65536, false},
	TypeCloseJob:          {"CLOSE_JOB", 16, false},
	TypeGetBTAddr:         {"GET_BTADDR", 0, false},
	TypeGetBlockHashes:    {"GET_BLOCK_HASHES", 48, false},
	TypeBlockHashes:       {"BLOCK_HASHES", 65600, false},
	TypeGetBlocks:         {"GET_BLOCKS", 4200, false},
	TypeBlocks:            {"BLOCKS", 5242880, false},
	TypeGetHeaders:        {"GET_HEADERS", 48, false},
	TypeHeaders:           {"HEADERS", 160016, false},
	TypeTx:                {"TX", 4000016, false},
	TypePing:              {"PING", 0, true},
	TypePong:              {"PONG", 0, true},
	TypeOpenJobUDP:        {"OPEN_JOB", 0, true},
	TypeJobState:          {"JOB_STATE", 0, true},
	TypeJobStateAck:       {"JOB_STATE_ACK", 0, true},
	TypeGetNodes:          {"GET_NODES", 0, true},
	TypeNodes:             {"NODES", 0, true},
	TypeGetTxs:            {"GET_TXS", 0, true},
	TypeTxs:               {"TXS", 0, true},
	TypeCloseJobUDP:       {"CLOSE_JOB", 0, true},
}

// String returns the spec's name of the type ("OPEN_JOB"), or a hex number
// for an unknown type.
func (t MsgType) String() string {
	if i, ok := msgInfos[t]; ok {
		return i.name
	}
	return fmt.Sprintf("MsgType(%#02x)", uint8(t))
}

// Known reports whether t is a message type of this protocol version.
func (t MsgType) Known() bool {
	_, ok := msgInfos[t]
	return ok
}

// IsUDP reports whether t is a known datagram type.
func (t MsgType) IsUDP() bool { return msgInfos[t].udp }

// IsTCP reports whether t is a known TCP frame type.
func (t MsgType) IsTCP() bool {
	i, ok := msgInfos[t]
	return ok && !i.udp
}

// MaxPayload returns the largest payload a message of type t may have: the
// table limit for TCP types, MaxDatagramSize-DatagramHeaderSize for UDP
// types, and MaxFrameLength for unknown types (which a TCP reader skips).
func (t MsgType) MaxPayload() int {
	i, ok := msgInfos[t]
	switch {
	case !ok:
		return MaxFrameLength
	case i.udp:
		return MaxDatagramSize - DatagramHeaderSize
	}
	return i.limit
}

// UDPType returns the number t has on UDP: t itself for datagram types,
// TypeOpenJobUDP and TypeCloseJobUDP for OPEN_JOB and CLOSE_JOB, and false
// for TCP-only and unknown types.
func (t MsgType) UDPType() (MsgType, bool) {
	switch {
	case t == TypeOpenJob:
		return TypeOpenJobUDP, true
	case t == TypeCloseJob:
		return TypeCloseJobUDP, true
	case t.IsUDP():
		return t, true
	}
	return 0, false
}

// Message is one decoded message. Append appends the payload only (no TCP
// frame or datagram header); see AppendFrame and AppendDatagram.
//
// OPEN_JOB and CLOSE_JOB are one Go type each for both channels; their Type
// reports the TCP number and AppendDatagram writes the UDP number.
//
// Every message marshals to JSON with encoding/json (the "fields" of the
// vector files testdata/vectors/messages_*.json): field names are the Go
// names, uint64 fields are decimal strings (JSON numbers lose precision
// above 2^53), byte slices are base64, JobID and Token are hex in byte
// order, and chainhash.Hash fields are hex in RPC display order (reversed),
// as chainhash marshals them.
type Message interface {
	Type() MsgType
	Append(b []byte) []byte
}

// DecodeMessage decodes payload as a message of type t. It checks the
// payload against t.MaxPayload first (ErrLimit) and returns ErrUnknownType
// for types this version does not know. The returned message aliases
// payload (byte slices, hash sequences): copy what you keep before the
// buffer is reused.
func DecodeMessage(t MsgType, payload []byte) (Message, error) {
	if !t.Known() {
		return nil, errorf(ErrUnknownType, "type %#02x", uint8(t))
	}
	if len(payload) > t.MaxPayload() {
		return nil, errorf(ErrLimit, "%v payload of %d bytes above %d", t, len(payload), t.MaxPayload())
	}
	// Each case returns through a typed pointer; converting a nil *T to
	// Message would yield a non-nil interface, so errors return nil.
	var (
		m   Message
		err error
	)
	switch t {
	case TypeBTVersion:
		m, err = nonNil(DecodeBTVersion(payload))
	case TypeBTVerack:
		m, err = nonNil(DecodeBTVerack(payload))
	case TypeBTAddr:
		m, err = nonNil(DecodeBTAddr(payload))
	case TypeDisconnect:
		m, err = nonNil(DecodeDisconnect(payload))
	case TypeSetParams:
		m, err = nonNil(DecodeSetParams(payload))
	case TypeTestMTU:
		m, err = nonNil(DecodeTestMTU(payload))
	case TypeEstimateBandwidth:
		m, err = nonNil(DecodeEstimateBandwidth(payload))
	case TypeOpenJob, TypeOpenJobUDP:
		m, err = nonNil(DecodeOpenJob(payload))
	case TypeCloseJob, TypeCloseJobUDP:
		m, err = nonNil(DecodeCloseJob(payload))
	case TypeGetBTAddr:
		m, err = nonNil(DecodeGetBTAddr(payload))
	case TypeGetBlockHashes:
		m, err = nonNil(DecodeGetBlockHashes(payload))
	case TypeBlockHashes:
		m, err = nonNil(DecodeBlockHashes(payload))
	case TypeGetBlocks:
		m, err = nonNil(DecodeGetBlocks(payload))
	case TypeBlocks:
		m, err = nonNil(DecodeBlocks(payload))
	case TypeGetHeaders:
		m, err = nonNil(DecodeGetHeaders(payload))
	case TypeHeaders:
		m, err = nonNil(DecodeHeaders(payload))
	case TypeTx:
		m, err = nonNil(DecodeTx(payload))
	case TypePing:
		m, err = nonNil(DecodePing(payload))
	case TypePong:
		m, err = nonNil(DecodePong(payload))
	case TypeJobState:
		m, err = nonNil(DecodeJobState(payload))
	case TypeJobStateAck:
		m, err = nonNil(DecodeJobStateAck(payload))
	case TypeGetNodes:
		m, err = nonNil(DecodeGetNodes(payload))
	case TypeNodes:
		m, err = nonNil(DecodeNodes(payload))
	case TypeGetTxs:
		m, err = nonNil(DecodeGetTxs(payload))
	case TypeTxs:
		m, err = nonNil(DecodeTxs(payload))
	default:
		return nil, errorf(ErrUnknownType, "type %#02x", uint8(t))
	}
	return m, err
}

// nonNil converts a decoder's result to a Message, keeping a nil interface
// on error.
func nonNil[T Message](m T, err error) (Message, error) {
	if err != nil {
		return nil, err
	}
	return m, nil
}

// JobID names a job: the first 8 bytes of the block hash in internal byte
// order (docs/protocol.md §6). It marshals to JSON as 16 hex digits.
type JobID [8]byte

// JobIDOf returns the JobID of the block with hash blockHash.
func JobIDOf(blockHash chainhash.Hash) JobID {
	var id JobID
	copy(id[:], blockHash[:8])
	return id
}

// String returns the ID as hex, in byte order.
func (id JobID) String() string { return hex.EncodeToString(id[:]) }

// MarshalText implements encoding.TextMarshaler (hex).
func (id JobID) MarshalText() ([]byte, error) { return hexMarshal(id[:]), nil }

// UnmarshalText implements encoding.TextUnmarshaler (hex).
func (id *JobID) UnmarshalText(b []byte) error { return hexUnmarshal(id[:], b) }

// Token is a session token (BTVERSION's TOKEN, the datagram header's TOKEN).
// It marshals to JSON as 16 hex digits.
type Token [8]byte

// String returns the token as hex, in byte order.
func (t Token) String() string { return hex.EncodeToString(t[:]) }

// MarshalText implements encoding.TextMarshaler (hex).
func (t Token) MarshalText() ([]byte, error) { return hexMarshal(t[:]), nil }

// UnmarshalText implements encoding.TextUnmarshaler (hex).
func (t *Token) UnmarshalText(b []byte) error { return hexUnmarshal(t[:], b) }

func hexMarshal(p []byte) []byte { return hex.AppendEncode(nil, p) }

func hexUnmarshal(dst, src []byte) error {
	if hex.DecodedLen(len(src)) != len(dst) {
		return fmt.Errorf("wire: want %d hex digits, have %d", 2*len(dst), len(src))
	}
	_, err := hex.Decode(dst, src)
	return err
}

// HeaderSize is the size of a serialized Bitcoin block header.
const HeaderSize = 80

// AppendHeader appends the 80-byte serialization of h. The timestamp is
// written as uint32 unix seconds (times outside 1970..2106 wrap, as in
// Bitcoin).
func AppendHeader(b []byte, h *btcwire.BlockHeader) []byte {
	b = AppendUint32(b, uint32(h.Version))
	b = append(b, h.PrevBlock[:]...)
	b = append(b, h.MerkleRoot[:]...)
	b = AppendUint32(b, uint32(h.Timestamp.Unix()))
	b = AppendUint32(b, h.Bits)
	return AppendUint32(b, h.Nonce)
}

// ReadHeader reads an 80-byte block header. The timestamp is in UTC (btcd's
// own decoder uses the local zone, which would make decoded values and
// their JSON depend on the machine). Errors are recorded in r.
func ReadHeader(r *Reader) btcwire.BlockHeader {
	p := r.Bytes(HeaderSize)
	if p == nil {
		return btcwire.BlockHeader{}
	}
	hr := NewReader(p)
	var h btcwire.BlockHeader
	h.Version = int32(hr.Uint32())
	h.PrevBlock = hr.Hash()
	h.MerkleRoot = hr.Hash()
	h.Timestamp = time.Unix(int64(hr.Uint32()), 0).UTC()
	h.Bits = hr.Uint32()
	h.Nonce = hr.Uint32()
	return h
}

// readUTF8 reads n bytes that must be valid UTF-8.
func readUTF8(r *Reader, n int, what string) string {
	p := r.Bytes(n)
	if r.Err() != nil {
		return ""
	}
	if !utf8.Valid(p) {
		r.Fail(errorf(ErrMalformed, "%s is not UTF-8", what))
		return ""
	}
	return string(p)
}

// readLen reads a varint length of at most limit bytes that must all still
// be in r.
func readLen(r *Reader, limit uint64, what string) int {
	return r.Count(limit, 1, what)
}
