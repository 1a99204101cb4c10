package wire

import "testing"

func getTxsSamples() []msgSample {
	id := JobIDOf(msgHash("example block"))
	return []msgSample{
		{name: "GET_TXS two leaf ranges", m: &GetTxs{JobID: id, ReqID: 9, Leaves: Workout{Runs: []Run{HashlessFlat(14, 17, 3), HashlessFlat(14, 9000, 12)}}}},
		{name: "GET_TXS 4,096 leaves", m: &GetTxs{JobID: id, ReqID: 10, Leaves: Workout{Runs: []Run{HashlessFlat(14, 0, MaxRequestNodes)}}}},
		{name: "GET_TXS nothing", m: &GetTxs{JobID: id}},
	}
}

func getTxsRejects() []msgReject {
	head := mhx("0102030405060708 01000000")
	return []msgReject{
		{"GET_TXS ascending run", TypeGetTxs, mcat(head, mvi(1), mhx("8e0503")), ErrMalformed, false},
		{"GET_TXS descending run", TypeGetTxs, mcat(head, mvi(1), mhx("4e0503")), ErrMalformed, false},
		{"GET_TXS 4,097 leaves", TypeGetTxs, mcat(head, mvi(2), mhx("0e00fd0010"), mhx("0e0001")), ErrLimit, false},
		{"GET_TXS no workout", TypeGetTxs, head, ErrShort, false},
	}
}

func TestGetTxs(t *testing.T) { testMessageType(t, TypeGetTxs) }
