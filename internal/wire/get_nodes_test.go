package wire

import "testing"

func getNodesSamples() []msgSample {
	id := JobIDOf(msgHash("example block"))
	return []msgSample{
		{name: "GET_NODES level 9 under two level-4 nodes", m: &GetNodes{JobID: id, ReqID: 1, Want: Workout{Runs: []Run{HashlessFlat(9, 0, 32), HashlessFlat(9, 32, 32)}}}},
		{name: "GET_NODES leaves as 3-byte short hashes", m: &GetNodes{JobID: id, ReqID: 2, LeafHashSize: 3, Want: Workout{Runs: []Run{HashlessFlat(14, 1024, 1024)}}}},
		{name: "GET_NODES full leaf hashes, mixed runs", m: &GetNodes{JobID: id, ReqID: 0xffffffff, LeafHashSize: 32, Want: Workout{Runs: []Run{
			{Dir: Up, Level: 14, Start: 4, Seq: HashSeq{Count: 3}},
			{Dir: Down, Level: 14, Start: 9999, Seq: HashSeq{Count: 7}},
		}}}},
		{name: "GET_NODES 4,096 nodes", m: &GetNodes{JobID: id, ReqID: 3, Want: Workout{Runs: []Run{HashlessFlat(14, 0, 4000), HashlessFlat(13, 0, 96)}}}},
		{name: "GET_NODES nothing", m: &GetNodes{JobID: id, ReqID: 4}},
	}
}

func getNodesRejects() []msgReject {
	head := mhx("0102030405060708 01000000")
	return []msgReject{
		{"GET_NODES LEAF_HASH_SIZE 33", TypeGetNodes, mcat(head, []byte{33}, mvi(0)), ErrReserved, false},
		{"GET_NODES 4,097 nodes", TypeGetNodes, mcat(head, []byte{0}, mvi(2), mhx("0e00fda00f"), mhx("0d0061")), ErrLimit, false},
		{"GET_NODES one run of 4,097 nodes", TypeGetNodes, mcat(head, []byte{0}, mvi(1), mhx("0e00fd0110")), ErrLimit, false},
		{"GET_NODES RUN_COUNT beyond the payload", TypeGetNodes, mcat(head, []byte{0}, mvi(2), mhx("0e0001")), ErrShort, false},
	}
}

func TestGetNodes(t *testing.T) { testMessageType(t, TypeGetNodes) }
