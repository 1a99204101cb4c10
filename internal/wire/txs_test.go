package wire

import "testing"

func txsSamples() []msgSample {
	id := JobIDOf(msgHash("example block"))
	cb := msgGenesisCoinbase()
	big := make([]byte, 3000)
	for i := range big {
		big[i] = byte(i * 7)
	}
	return []msgSample{
		{name: "TXS two whole transactions", m: &Txs{JobID: id, ReqID: 5, Fragments: []TxFragment{
			{Leaf: 0, Total: uint32(len(cb)), Offset: 0, Data: cb},
			{Leaf: 9999, Total: 3, Offset: 0, Data: []byte{1, 2, 3}},
		}}},
		{name: "TXS middle fragment of a large transaction", m: &Txs{JobID: id, Fragments: []TxFragment{
			{Leaf: 42, Total: 3000, Offset: 1000, Data: big[1000:2000]},
		}}},
		{name: "TXS last byte of the largest transaction", m: &Txs{JobID: id, ReqID: 1, Fragments: []TxFragment{
			{Leaf: MaxTxCount - 1, Total: MaxTxSize, Offset: MaxTxSize - 1, Data: []byte{0xee}},
		}}},
		{name: "TXS empty", m: &Txs{JobID: id, ReqID: 6}},
	}
}

func txsRejects() []msgReject {
	head := mhx("0102030405060708 00000000")
	frag := func(leaf, total, offset, ln uint64, data []byte) []byte {
		return mcat(mvi(leaf), mvi(total), mvi(offset), mvi(ln), data)
	}
	return []msgReject{
		{"TXS COUNT 1,025", TypeTxs, mcat(head, mvi(MaxTxFragments+1)), ErrLimit, false},
		{"TXS LEAF 131,072", TypeTxs, mcat(head, mvi(1), frag(MaxTxCount, 1, 0, 1, []byte{0})), ErrLimit, false},
		{"TXS TOTAL 0", TypeTxs, mcat(head, mvi(1), frag(0, 0, 0, 1, []byte{0})), ErrLimit, false},
		{"TXS TOTAL 4,000,001", TypeTxs, mcat(head, mvi(1), frag(0, MaxTxSize+1, 0, 1, []byte{0})), ErrLimit, false},
		{"TXS OFFSET equal to TOTAL", TypeTxs, mcat(head, mvi(1), frag(0, 5, 5, 1, []byte{0})), ErrMalformed, false},
		{"TXS LEN 0", TypeTxs, mcat(head, mvi(1), frag(0, 5, 0, 0, nil), []byte{0, 0, 0, 0}), ErrMalformed, false},
		{"TXS LEN past TOTAL", TypeTxs, mcat(head, mvi(1), frag(0, 5, 3, 3, []byte{1, 2, 3})), ErrMalformed, false},
		{"TXS LEN beyond the payload", TypeTxs, mcat(head, mvi(1), frag(0, 5, 0, 5, []byte{1, 2, 3})), ErrShort, false},
		{"TXS non-canonical TOTAL", TypeTxs, mcat(head, mvi(1), mvi(0), mhx("fd0500"), mvi(0), mvi(1), []byte{7}), ErrNonCanonical, false},
	}
}

func TestTxs(t *testing.T) { testMessageType(t, TypeTxs) }
