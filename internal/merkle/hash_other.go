//go:build !amd64 || purego

package merkle

import "github.com/btcsuite/btcd/chainhash/v2"

// useSHANI is always false without the amd64 assembly; it exists so that
// tests can switch the fast path off on every architecture.
var useSHANI = false

// hashPair stores HashPair(left, right) in out.
func hashPair(out, left, right *chainhash.Hash) {
	hashPairGeneric(out, left, right)
}

// hashPairs2 hashes two independent pairs of nodes; see hashPairs2Generic.
func hashPairs2(out *[2]chainhash.Hash, in *[4]chainhash.Hash) {
	hashPairs2Generic(out, in)
}
