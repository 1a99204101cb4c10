package mempool

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// fakeRaw stands for a transaction's serialization where only txids
// matter; entries may share it because the pool never modifies it.
var fakeRaw = make([]byte, 200)

// randomHashes returns n pseudo-random hashes drawn from seed.
func randomHashes(n int, seed uint64) []chainhash.Hash {
	rng := rand.New(rand.NewPCG(seed, ^seed))
	hs := make([]chainhash.Hash, n)
	for i := range hs {
		fillRandom(rng, &hs[i])
	}
	return hs
}

// fillRandom overwrites h with random bytes.
func fillRandom(rng *rand.Rand, h *chainhash.Hash) {
	for j := 0; j < chainhash.HashSize; j += 8 {
		binary.LittleEndian.PutUint64(h[j:], rng.Uint64())
	}
}

// withPrefix returns a random hash that starts with the first n bytes of h
// and differs from h at byte n (when n < 32).
func withPrefix(rng *rand.Rand, h chainhash.Hash, n int) chainhash.Hash {
	var out chainhash.Hash
	fillRandom(rng, &out)
	copy(out[:n], h[:n])
	if n < chainhash.HashSize && out[n] == h[n] {
		out[n] ^= 0x80
	}
	return out
}

// addHashes enters txids into p with a shared fake serialization.
func addHashes(t testing.TB, p *Pool, txids []chainhash.Hash) {
	t.Helper()
	for i := range txids {
		if _, err := p.insert(txids[i], fakeRaw); err != nil {
			t.Fatal(err)
		}
	}
}

// poolOf returns a default pool holding txids.
func poolOf(t testing.TB, txids ...[]chainhash.Hash) *Pool {
	t.Helper()
	p := New()
	for _, ids := range txids {
		addHashes(t, p, ids)
	}
	return p
}

// makeTx returns a small valid transaction made distinct by n.
func makeTx(n uint64) *btcwire.MsgTx {
	tx := btcwire.NewMsgTx(2)
	var prev chainhash.Hash
	binary.LittleEndian.PutUint64(prev[:], n)
	tx.AddTxIn(btcwire.NewTxIn(btcwire.NewOutPoint(&prev, uint32(n>>32)), nil, nil))
	tx.AddTxOut(btcwire.NewTxOut(int64(n%1_000_000), []byte{0x51}))
	tx.LockTime = uint32(n)
	return tx
}

// serialize returns tx's serialization with witness.
func serialize(t testing.TB, tx *btcwire.MsgTx) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := tx.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// grind returns a transaction, varied from seed on, whose txid starts with
// the first n bytes of target (about 256^n tries).
func grind(t testing.TB, target chainhash.Hash, n int, seed uint64) *btcwire.MsgTx {
	t.Helper()
	tx := makeTx(seed)
	for i := range uint64(1) << (8*n + 4) {
		tx.LockTime = uint32(i)
		tx.TxOut[0].Value = int64(seed % 1_000_000)
		h := tx.TxHash()
		if bytes.Equal(h[:n], target[:n]) && h != target {
			return tx
		}
	}
	t.Fatalf("no transaction shares %d bytes with %v", n, target)
	return nil
}

// group describes the leaves under one node of a block's tree.
type group struct {
	shape  merkle.Shape
	parent merkle.Pos
	hash   chainhash.Hash
	first  int
	n      int
}

// groupsOf splits a block's leaves into the groups under the nodes height
// levels above the leaves (the whole block when height ≥ depth), with the
// nodes' hashes.
func groupsOf(block []chainhash.Hash, height int) []group {
	shape := merkle.MustShape(uint32(len(block)))
	levels := merkle.Levels(block) // levels[0] is the root
	level := max(int(shape.Depth())-height, 0)
	var gs []group
	for i := range shape.Count(uint8(level)) {
		pos := merkle.Pos{Level: uint8(level), Index: i}
		f, e := shape.LeafRange(pos)
		gs = append(gs, group{shape: shape, parent: pos, hash: levels[level][i], first: int(f), n: int(e - f)})
	}
	return gs
}
