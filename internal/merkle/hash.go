package merkle

import (
	"crypto/sha256"

	"github.com/btcsuite/btcd/chainhash/v2"
)

// HashPair returns the parent of two merkle nodes: the double SHA-256 of the
// 64-byte concatenation left||right, as Bitcoin computes every internal node
// of a transaction merkle tree. It does not allocate. On amd64 CPUs with the
// SHA extensions it runs a dedicated assembly routine for exactly this input
// size (hash_amd64.s); elsewhere it uses crypto/sha256. left and right may
// point to the same hash, which is how the odd rule is applied.
func HashPair(left, right *chainhash.Hash) chainhash.Hash {
	var h chainhash.Hash
	hashPair(&h, left, right)
	return h
}

// hashPairGeneric stores HashPair(left, right) in out using crypto/sha256
// (which itself uses SHA-NI or AVX2 where the CPU has them, behind its
// general-purpose buffering and padding). It is the fallback of hashPair and
// hashPairs2 and the reference the fast path is tested against. out may be
// left or right: both are read before out is written.
func hashPairGeneric(out, left, right *chainhash.Hash) {
	var buf [2 * chainhash.HashSize]byte
	copy(buf[:chainhash.HashSize], left[:])
	copy(buf[chainhash.HashSize:], right[:])
	first := sha256.Sum256(buf[:])
	*out = sha256.Sum256(first[:])
}

// hashPairs2Generic is hashPairs2 with crypto/sha256: out[0] is the parent
// of in[0] and in[1], out[1] that of in[2] and in[3]. out may overlap in as
// long as out[0] does not come after in[0], as when a level is written in
// place over its children (node i of the parent level over node 2i).
func hashPairs2Generic(out *[2]chainhash.Hash, in *[4]chainhash.Hash) {
	hashPairGeneric(&out[0], &in[0], &in[1])
	hashPairGeneric(&out[1], &in[2], &in[3])
}
