package pow

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// Error kinds.
var (
	// ErrBadTarget means the header's bits encode a target that is not
	// positive or is above the network's proof-of-work limit.
	ErrBadTarget = errors.New("pow: target out of range")
	// ErrHighHash means the header's hash is above its target.
	ErrHighHash = errors.New("pow: hash above target")
)

// Check verifies that h's target is within (0, powLimit] and that h's hash
// does not exceed it.
func Check(h *btcwire.BlockHeader, powLimit *big.Int) error {
	return CheckHash(h.BlockHash(), h.Bits, powLimit)
}

// CheckHash is Check for a header whose hash is already known.
func CheckHash(hash chainhash.Hash, bits uint32, powLimit *big.Int) error {
	target := blockchain.CompactToBig(bits)
	if target.Sign() <= 0 {
		return fmt.Errorf("%w: bits %08x", ErrBadTarget, bits)
	}
	if target.Cmp(powLimit) > 0 {
		return fmt.Errorf("%w: bits %08x above the network limit", ErrBadTarget, bits)
	}
	if blockchain.HashToBig(&hash).Cmp(target) > 0 {
		return fmt.Errorf("%w: block %v, bits %08x", ErrHighHash, hash, bits)
	}
	return nil
}

// Work returns the expected number of hashes a header with these bits
// represents: 2^256 / (target+1), as Bitcoin counts chain work.
func Work(bits uint32) *big.Int { return blockchain.CalcWork(bits) }
