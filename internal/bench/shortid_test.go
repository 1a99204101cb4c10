package bench

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"slices"
	"testing"

	"github.com/aead/siphash"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// TestSipHashVectors checks SipHash-2-4 against the reference vectors
// (key 00..0f, message 00..len-1), which Bitcoin Core's tests use too.
func TestSipHashVectors(t *testing.T) {
	var key [16]byte
	for i := range key {
		key[i] = byte(i)
	}
	msg := make([]byte, 32)
	for i := range msg {
		msg[i] = byte(i)
	}
	for _, v := range []struct {
		n    int
		want uint64
	}{
		{0, 0x726fdb47dd0e0e31}, {1, 0x74f839c593dc67fd}, {8, 0x93f5f5799a932462},
		{15, 0xa129ca6149be45e5}, {16, 0x3f2acc7f57c29bdb}, {24, 0xb8ad50c6f649af94},
	} {
		if got := siphash.Sum64(msg[:v.n], &key); got != v.want {
			t.Errorf("SipHash of %d bytes = %#x, want %#x", v.n, got, v.want)
		}
	}
	// A 32-byte hash (Core's SipHashUint256 vector): the short id is its
	// low 48 bits.
	var h chainhash.Hash
	copy(h[:], msg)
	if got, want := ShortID(&key, &h), uint64(0x7127512f72f27cce)&ShortIDMask; got != want {
		t.Errorf("ShortID = %#x, want %#x", got, want)
	}
}

// The compact block vector of rust-bitcoin's bip152 tests (checked there
// against the Elements implementation): a regtest block of a coinbase and
// one segwit transaction, its cmpctblock (version 2, wtxid short ids) with
// nonce 18053200567810711460.
const (
	vectorBlock   = "000000206c750a364035aefd5f81508a08769975116d9195312ee4520dceac39e1fdc62c4dc67473b8e354358c1e610afeaff7410858bd45df43e2940f8a62bd3d5e3ac943c2975cffff7f200000000002020000000001010000000000000000000000000000000000000000000000000000000000000000ffffffff04016b0101ffffffff020006062a0100000001510000000000000000266a24aa21a9ed4a3d9f3343dafcc0d6f6d4310f2ee5ce273ed34edca6c75db3a73e7f368734200120000000000000000000000000000000000000000000000000000000000000000000000000020000000001021fc20ba2bd745507b8e00679e3b362558f9457db374ca28ffa5243f4c23a4d5f00000000171600147c9dea14ffbcaec4b575e03f05ceb7a81cd3fcbffdffffff915d689be87b43337f42e26033df59807b768223368f189a023d0242d837768900000000171600147c9dea14ffbcaec4b575e03f05ceb7a81cd3fcbffdffffff0200cdf5050000000017a9146803c72d9154a6a20f404bed6d3dcee07986235a8700e1f5050000000017a9144e6a4c7cb5b5562904843bdf816342f4db9f5797870247304402205e9bf6e70eb0e4b495bf483fd8e6e02da64900f290ef8aaa64bb32600d973c450220670896f5d0e5f33473e5f399ab680cc1d25c2d2afd15abd722f04978f28be887012103e4e4d9312b2261af508b367d8ba9be4f01b61d6d6e78bec499845b4f410bcf2702473044022045ac80596a6ac9c8c572f94708709adaf106677221122e08daf8b9741a04f66a022003ccd52a3b78f8fd08058fc04fc0cffa5f4c196c84eae9e37e2a85babe731b57012103e4e4d9312b2261af508b367d8ba9be4f01b61d6d6e78bec499845b4f410bcf276a000000"
	vectorCompact = "000000206c750a364035aefd5f81508a08769975116d9195312ee4520dceac39e1fdc62c4dc67473b8e354358c1e610afeaff7410858bd45df43e2940f8a62bd3d5e3ac943c2975cffff7f2000000000a4df3c3744da89fa010a6979e971450100020000000001010000000000000000000000000000000000000000000000000000000000000000ffffffff04016b0101ffffffff020006062a0100000001510000000000000000266a24aa21a9ed4a3d9f3343dafcc0d6f6d4310f2ee5ce273ed34edca6c75db3a73e7f368734200120000000000000000000000000000000000000000000000000000000000000000000000000"
	vectorNonce   = 18053200567810711460
)

// TestCmpctBlockVector checks the key derivation, the short ids and the
// cmpctblock encoding against the external vector, both ways.
func TestCmpctBlockVector(t *testing.T) {
	raw, _ := hex.DecodeString(vectorBlock)
	var blk btcwire.MsgBlock
	if err := blk.Deserialize(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	wtxids := make([]chainhash.Hash, len(blk.Transactions))
	for i, tx := range blk.Transactions {
		wtxids[i] = tx.WitnessHash()
	}
	m := newCmpctBlock(&blk, vectorNonce, wtxids)
	var got bytes.Buffer
	if err := m.BtcEncode(&got, btcwire.ProtocolVersion, btcwire.WitnessEncoding); err != nil {
		t.Fatal(err)
	}
	if want := vectorCompact; hex.EncodeToString(got.Bytes()) != want {
		t.Fatalf("cmpctblock\n got %x\nwant %s", got.Bytes(), want)
	}
	want, _ := hex.DecodeString(vectorCompact)
	var dec msgCmpctBlock
	if err := dec.BtcDecode(bytes.NewReader(want), btcwire.ProtocolVersion, btcwire.WitnessEncoding); err != nil {
		t.Fatal(err)
	}
	if dec.Nonce != vectorNonce || dec.Header.BlockHash() != blk.BlockHash() || !slices.Equal(dec.ShortIDs, []uint64{0x4571e979690a}) ||
		len(dec.Prefilled) != 1 || dec.Prefilled[0].Index != 0 || dec.Prefilled[0].Tx.TxHash() != blk.Transactions[0].TxHash() {
		t.Fatalf("decoded %+v", dec)
	}
}

// TestGetBlockTxnDifferential checks getblocktxn's differential index
// encoding (rust-bitcoin's vectors).
func TestGetBlockTxnDifferential(t *testing.T) {
	for _, c := range []struct {
		raw     []byte
		indexes []int
	}{
		{[]byte{4, 0, 5, 1, 10}, []int{0, 6, 8, 19}},
		{[]byte{1, 0}, []int{0}},
		{[]byte{5, 0, 0, 0, 0, 0}, []int{0, 1, 2, 3, 4}},
		{[]byte{3, 1, 1, 1}, []int{1, 3, 5}},
		{[]byte{3, 0, 0, 253, 0, 1}, []int{0, 1, 258}},
	} {
		want := append(make([]byte, 32), c.raw...)
		var b bytes.Buffer
		if err := (&msgGetBlockTxn{Indexes: c.indexes}).BtcEncode(&b, btcwire.ProtocolVersion, btcwire.WitnessEncoding); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%v encodes as %x, want %x", c.indexes, b.Bytes(), want)
		}
		var m msgGetBlockTxn
		if err := m.BtcDecode(bytes.NewReader(want), btcwire.ProtocolVersion, btcwire.WitnessEncoding); err != nil || !slices.Equal(m.Indexes, c.indexes) {
			t.Errorf("%x decodes as %v, %v", want, m.Indexes, err)
		}
	}
}

// TestFrameRoundTrip frames each BIP152 message like a P2P message and
// reads it back.
func TestFrameRoundTrip(t *testing.T) {
	raw, _ := hex.DecodeString(vectorBlock)
	var blk btcwire.MsgBlock
	if err := blk.Deserialize(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	hash := blk.BlockHash()
	msgs := []btcwire.Message{
		newCmpctBlock(&blk, 7, txids(&blk)),
		&msgGetBlockTxn{Block: hash, Indexes: []int{1}},
		&msgBlockTxn{Block: hash, Txs: blk.Transactions[1:]},
	}
	var stream bytes.Buffer
	for _, m := range msgs {
		b, err := encodeMessage(m, magic)
		if err != nil {
			t.Fatal(err)
		}
		stream.Write(b)
	}
	r := bufio.NewReader(&stream)
	for _, want := range msgs {
		got, err := readFrame(r, magic)
		if err != nil {
			t.Fatal(err)
		}
		var a, b bytes.Buffer
		_ = want.BtcEncode(&a, btcwire.ProtocolVersion, btcwire.WitnessEncoding)
		_ = got.BtcEncode(&b, btcwire.ProtocolVersion, btcwire.WitnessEncoding)
		if got.Command() != want.Command() || !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s did not round-trip", want.Command())
		}
	}
	if merkleRoot(txids(&blk)) != blk.Header.MerkleRoot {
		t.Error("merkleRoot disagrees with the block's header")
	}
}
