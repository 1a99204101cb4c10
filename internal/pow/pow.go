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
	// ErrTooEasy means the header's target is easier than its chain
	// allows: more than MaxRetarget times the reference block's.
	ErrTooEasy = errors.New("pow: target too easy for the chain")
)

// MaxRetarget is the most a target may grow from one retarget to the
// next (Bitcoin clamps each adjustment to a factor of 4).
const MaxRetarget = 4

// CheckContext verifies that a header's bits are no easier than its chain
// allows: on a network without minimum-difficulty blocks (mainnet,
// signet), a block's target is at most MaxRetarget times its parent's.
// ref is the parent's bits, or, when the parent is unknown, the bits of
// the best known block (the same bound holds with a margin while the
// chain's difficulty does not fall more than fourfold in one period).
// Without this check a header at the network's minimum difficulty passes
// Check: about 2^32 hashes, a fraction of a second on one mining ASIC.
func CheckContext(bits, ref uint32) error {
	target, refTarget := blockchain.CompactToBig(bits), blockchain.CompactToBig(ref)
	if target.Sign() <= 0 || refTarget.Sign() <= 0 {
		return fmt.Errorf("%w: bits %08x, reference %08x", ErrBadTarget, bits, ref)
	}
	if target.Cmp(new(big.Int).Mul(refTarget, big.NewInt(MaxRetarget))) > 0 {
		return fmt.Errorf("%w: bits %08x against %08x", ErrTooEasy, bits, ref)
	}
	return nil
}

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
