package blockgen

import (
	"errors"
	"math/big"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// ErrConfig means a configuration that cannot produce a block.
var ErrConfig = errors.New("blockgen: bad configuration")

// RegtestBits is the difficulty of Bitcoin's regression test network: about
// every second nonce meets it.
const RegtestBits = 0x207fffff

// Config describes a block to make.
type Config struct {
	// Txs is the number of transactions including the coinbase (≥ 1).
	Txs int
	// AvgTxBytes scales the size mix so the mean transaction has about
	// this many bytes; 0 keeps the natural mix (about 400 bytes).
	AvgTxBytes int
	// Seed makes the block reproducible.
	Seed uint64
	// Prev is the parent block's hash.
	Prev chainhash.Hash
	// Height goes into the coinbase (BIP34).
	Height int32
	// Bits is the difficulty; 0 means RegtestBits.
	Bits uint32
	// Time is the header time; zero means 2026-01-01.
	Time time.Time
	// Witness is the share (0..1) of non-coinbase transactions that spend
	// segwit (P2WPKH) inputs and so carry witness data. Above zero the
	// coinbase carries the BIP141 witness commitment. Zero makes the same
	// blocks as before the option existed.
	Witness float64
}

// naturalMean is the mean size in bytes of the unscaled mix below.
const naturalMean = 400

// Block makes the block cfg describes. The same Config always gives the same
// block.
func Block(cfg Config) (*btcwire.MsgBlock, error) {
	if cfg.Txs < 1 || cfg.Txs > merkle.MaxLeaves {
		return nil, errors.Join(ErrConfig, errors.New("transaction count out of range"))
	}
	if !(cfg.Witness >= 0 && cfg.Witness <= 1) {
		return nil, errors.Join(ErrConfig, errors.New("witness share out of 0..1"))
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	scale := 1.0
	if cfg.AvgTxBytes > 0 {
		scale = float64(cfg.AvgTxBytes) / naturalMean
	}
	blk := &btcwire.MsgBlock{Transactions: make([]*btcwire.MsgTx, 0, cfg.Txs)}
	blk.Transactions = append(blk.Transactions, coinbase(rng, cfg.Height))
	for len(blk.Transactions) < cfg.Txs {
		size := int(float64(sampleSize(rng)) * scale)
		if cfg.Witness > 0 && rng.Float64() < cfg.Witness {
			blk.Transactions = append(blk.Transactions, segwitPayment(rng, size))
			continue
		}
		blk.Transactions = append(blk.Transactions, payment(rng, size))
	}
	if cfg.Witness > 0 {
		commit(blk)
	}
	txids := make([]chainhash.Hash, len(blk.Transactions))
	for i, tx := range blk.Transactions {
		txids[i] = tx.TxHash()
	}
	root, _ := merkle.Root(txids)
	bits := cfg.Bits
	if bits == 0 {
		bits = RegtestBits
	}
	ts := cfg.Time
	if ts.IsZero() {
		ts = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	blk.Header = btcwire.BlockHeader{
		Version:    0x20000000,
		PrevBlock:  cfg.Prev,
		MerkleRoot: root,
		Timestamp:  ts,
		Bits:       bits,
	}
	if err := Solve(&blk.Header); err != nil {
		return nil, err
	}
	return blk, nil
}

// Solve grinds the header's nonce (and, when the nonce space runs out, its
// time) until the hash meets its bits. Only easy targets are practical.
func Solve(h *btcwire.BlockHeader) error {
	target := blockchain.CompactToBig(h.Bits)
	if target.Sign() <= 0 {
		return errors.Join(ErrConfig, errors.New("non-positive target"))
	}
	for tries := 0; tries < 1<<24; tries++ {
		hash := h.BlockHash()
		if blockchain.HashToBig(&hash).Cmp(target) <= 0 {
			return nil
		}
		h.Nonce++
		if h.Nonce == 0 {
			h.Timestamp = h.Timestamp.Add(time.Second)
		}
	}
	return errors.Join(ErrConfig, errors.New("target too hard to solve here"), errBig(target))
}

func errBig(t *big.Int) error { return errors.New("target " + t.Text(16)) }

// sampleSize draws a transaction size from a mainnet-like mix.
func sampleSize(rng *rand.Rand) int {
	switch p := rng.Float64(); {
	case p < 0.60: // one input, two outputs
		return 200 + rng.IntN(60)
	case p < 0.82: // two inputs
		return 340 + rng.IntN(80)
	case p < 0.92: // batched payout
		return 300 + rng.IntN(700)
	case p < 0.985: // consolidation
		return 500 + rng.IntN(1000)
	default: // large
		return 2000 + rng.IntN(4000)
	}
}

// payment builds a non-witness transaction of about size bytes from P2PKH
// inputs (148 bytes each) and outputs (34 bytes each).
func payment(rng *rand.Rand, size int) *btcwire.MsgTx {
	return build(rng, size, 10, 148, 34, func() ([]byte, btcwire.TxWitness) {
		sig := make([]byte, 107)
		fill(rng, sig)
		return sig, nil
	}, func() []byte {
		pk := make([]byte, 25)
		fill(rng, pk)
		pk[0], pk[1], pk[2], pk[23], pk[24] = 0x76, 0xa9, 0x14, 0x88, 0xac
		return pk
	})
}

// segwitPayment builds a transaction of about size bytes (witness
// included) from P2WPKH inputs (41 bytes plus a 108-byte witness of a
// signature and a public key each) and P2WPKH outputs (31 bytes each).
func segwitPayment(rng *rand.Rand, size int) *btcwire.MsgTx {
	return build(rng, size, 12, 41+108, 31, func() ([]byte, btcwire.TxWitness) {
		sig, pub := make([]byte, 72), make([]byte, 33)
		fill(rng, sig)
		fill(rng, pub)
		pub[0] = 0x02
		return nil, btcwire.TxWitness{sig, pub}
	}, func() []byte {
		pk := make([]byte, 22)
		fill(rng, pk)
		pk[0], pk[1] = 0x00, 0x14
		return pk
	})
}

// build makes a version-2 transaction of about size bytes: overhead bytes,
// as many inputs of in bytes as fit beside two outputs, then as many
// outputs of out bytes as fit (at least one of each). Each input spends a
// random outpoint with the signature script and witness that spend
// returns; each output pays a random amount to the script pay returns.
func build(rng *rand.Rand, size, overhead, in, out int, spend func() ([]byte, btcwire.TxWitness), pay func() []byte) *btcwire.MsgTx {
	nIn := max(1, (size-overhead-2*out)/in)
	nOut := max(1, (size-overhead-nIn*in)/out)
	tx := btcwire.NewMsgTx(2)
	for range nIn {
		var prev chainhash.Hash
		fill(rng, prev[:])
		sig, wit := spend()
		tx.AddTxIn(btcwire.NewTxIn(btcwire.NewOutPoint(&prev, rng.Uint32N(4)), sig, wit))
	}
	for range nOut {
		pk := pay()
		tx.AddTxOut(btcwire.NewTxOut(int64(rng.IntN(1e8)), pk))
	}
	return tx
}

// commit gives blk's coinbase the BIP141 witness reserved value (32 zero
// bytes) and an output committing to the block's witness merkle root.
func commit(blk *btcwire.MsgBlock) {
	cb := blk.Transactions[0]
	var reserved [blockchain.CoinbaseWitnessDataLen]byte
	cb.TxIn[0].Witness = btcwire.TxWitness{reserved[:]}
	txs := make([]*btcutil.Tx, len(blk.Transactions))
	for i, tx := range blk.Transactions {
		txs[i] = btcutil.NewTx(tx)
	}
	root := blockchain.CalcMerkleRoot(txs, true)
	c := chainhash.DoubleHashH(append(root[:], reserved[:]...))
	script := append(slices.Clone(blockchain.WitnessMagicBytes), c[:]...)
	cb.AddTxOut(btcwire.NewTxOut(0, script))
}

// coinbase builds a coinbase carrying the height (BIP34) and random extra
// nonce bytes.
func coinbase(rng *rand.Rand, height int32) *btcwire.MsgTx {
	tx := btcwire.NewMsgTx(2)
	script := []byte{4, byte(height), byte(height >> 8), byte(height >> 16), byte(height >> 24), 8}
	extra := make([]byte, 8)
	fill(rng, extra)
	script = append(script, extra...)
	tx.AddTxIn(btcwire.NewTxIn(btcwire.NewOutPoint(&chainhash.Hash{}, btcwire.MaxPrevOutIndex), script, nil))
	pk := make([]byte, 25)
	fill(rng, pk)
	tx.AddTxOut(btcwire.NewTxOut(50e8, pk))
	return tx
}

func fill(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}
