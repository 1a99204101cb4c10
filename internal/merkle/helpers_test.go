package merkle

import (
	"encoding/binary"
	"math/rand/v2"

	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// makeTxs builds n small, distinct transactions for btcd's
// BuildMerkleTreeStore. Each has one input whose previous outpoint is drawn
// from seed and whose index is the transaction's position, and the version
// and lock time vary too. The structs come from a few large slabs so that a
// million of them are cheap to build. Every transaction's hash is computed
// (and cached by btcutil) before the function returns.
func makeTxs(n int, seed uint64) []*btcutil.Tx {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ins := make([]wire.TxIn, n)
	inPtrs := make([]*wire.TxIn, n)
	msgs := make([]wire.MsgTx, n)
	txs := make([]*btcutil.Tx, n)
	for i := range n {
		in := &ins[i]
		binary.LittleEndian.PutUint64(in.PreviousOutPoint.Hash[:], rng.Uint64())
		binary.LittleEndian.PutUint64(in.PreviousOutPoint.Hash[8:], rng.Uint64())
		in.PreviousOutPoint.Index = uint32(i)
		in.Sequence = wire.MaxTxInSequenceNum
		inPtrs[i] = in
		msgs[i] = wire.MsgTx{
			Version:  1 + int32(i%3),
			TxIn:     inPtrs[i : i+1 : i+1],
			LockTime: rng.Uint32() >> 8,
		}
		txs[i] = btcutil.NewTx(&msgs[i])
		txs[i].Hash()
	}
	return txs
}

// txids returns the cached hashes of txs.
func txids(txs []*btcutil.Tx) []chainhash.Hash {
	ids := make([]chainhash.Hash, len(txs))
	for i, tx := range txs {
		ids[i] = *tx.Hash()
	}
	return ids
}

// randomHashes returns n pseudo-random hashes drawn from seed.
func randomHashes(n int, seed uint64) []chainhash.Hash {
	rng := rand.New(rand.NewPCG(seed, ^seed))
	hs := make([]chainhash.Hash, n)
	for i := range hs {
		for j := 0; j < chainhash.HashSize; j += 8 {
			binary.LittleEndian.PutUint64(hs[i][j:], rng.Uint64())
		}
	}
	return hs
}
