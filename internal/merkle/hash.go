package merkle

import (
	"crypto/sha256"

	"github.com/btcsuite/btcd/chainhash/v2"
)

// HashPair returns the parent of two merkle nodes: the double SHA-256 of the
// 64-byte concatenation left||right, as Bitcoin computes every internal node
// of a transaction merkle tree. It does not allocate: the concatenation lives
// in a stack buffer and crypto/sha256 (which uses the SHA-NI or AVX2
// instructions where the CPU has them) returns its digests by value. left and
// right may point to the same hash, which is how the odd rule is applied.
func HashPair(left, right *chainhash.Hash) chainhash.Hash {
	var buf [2 * chainhash.HashSize]byte
	copy(buf[:chainhash.HashSize], left[:])
	copy(buf[chainhash.HashSize:], right[:])
	first := sha256.Sum256(buf[:])
	return sha256.Sum256(first[:])
}
