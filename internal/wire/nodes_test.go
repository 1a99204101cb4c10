package wire

import (
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
)

func nodesSamples() []msgSample {
	id := JobIDOf(msgHash("example block"))
	// 3-byte short leaf hashes with two exceptions: a 4-byte one and a full
	// one (a transaction the receiver probably lacks).
	leaves := msgHashes("example tx", 40)
	seq := HashSeq{Count: len(leaves), DefaultSize: 3, Exceptions: []Exception{{Index: 5, Size: 4}, {Index: 6, Size: 32}}}
	for i, h := range leaves {
		seq.Data = append(seq.Data, h[:seq.Size(i)]...)
	}
	return []msgSample{
		{name: "NODES 32 level-9 nodes, pushed", m: &Nodes{JobID: id, Runs: Workout{Runs: []Run{FlatRun(9, 32, msgHashes("level 9", 32))}}}},
		{name: "NODES short leaf hashes, requested", m: &Nodes{JobID: id, ReqID: 2, Runs: Workout{Runs: []Run{{Dir: Flat, Level: 14, Start: 1024, Seq: seq}}}}},
		{name: "NODES a leaf's branch halves", m: &Nodes{JobID: id, ReqID: 3, Runs: Workout{Runs: []Run{
			{Dir: Up, Level: 14, Start: 4, Seq: FullHashes(msgArrays(msgHashes("up", 3)))},
			{Dir: Down, Level: 14, Start: 4, Seq: FullHashes(msgArrays(msgHashes("down", 1)))},
		}}}},
		{name: "NODES empty", m: &Nodes{JobID: id, ReqID: 4}},
	}
}

func msgArrays(h []chainhash.Hash) [][32]byte {
	out := make([][32]byte, len(h))
	for i := range h {
		out[i] = h[i]
	}
	return out
}

func nodesRejects() []msgReject {
	head := mhx("0102030405060708 00000000")
	h := msgHash("x")
	return []msgReject{
		{"NODES hash size 33", TypeNodes, mcat(head, mvi(1), mhx("0900"), mvi(1), []byte{33}, mvi(0), h[:], h[:1]), ErrReserved, false},
		{"NODES hash size 0", TypeNodes, mcat(head, mvi(1), mhx("0900"), mvi(1), []byte{0}, mvi(0)), ErrReserved, false},
		{"NODES exception repeats the default", TypeNodes, mcat(head, mvi(1), mhx("0900"), mvi(2), []byte{3}, mvi(1), mvi(1), []byte{3}, h[:6]), ErrMalformed, false},
		{"NODES exception beyond COUNT", TypeNodes, mcat(head, mvi(1), mhx("0900"), mvi(2), []byte{3}, mvi(1), mvi(3), []byte{4}, h[:7]), ErrMalformed, false},
		{"NODES exception distance 0", TypeNodes, mcat(head, mvi(1), mhx("0900"), mvi(2), []byte{3}, mvi(1), mvi(0), []byte{4}, h[:7]), ErrMalformed, false},
		{"NODES hashes cut short", TypeNodes, mcat(head, mvi(1), mhx("0900"), mvi(2), []byte{32}, mvi(0), h[:], h[:31]), ErrShort, false},
		{"NODES START 2^24", TypeNodes, mcat(head, mvi(1), []byte{9}, mvi(1<<24), mvi(1), []byte{32}, mvi(0), h[:]), ErrLimit, false},
		{"NODES COUNT 65,537", TypeNodes, mcat(head, mvi(1), mhx("0900"), mvi(MaxSeqCount+1), []byte{1}, mvi(0)), ErrLimit, false},
	}
}

func TestNodes(t *testing.T) { testMessageType(t, TypeNodes) }
