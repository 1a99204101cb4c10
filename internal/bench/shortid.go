package bench

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"

	"github.com/aead/siphash"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// ShortIDMask keeps the low 48 bits of a SipHash output: a BIP152 short id.
const ShortIDMask = 1<<48 - 1

// ShortIDKey derives a compact block's SipHash-2-4 key as BIP152 specifies:
// the first 16 bytes of SHA256(header || nonce) (nonce little-endian),
// which are k0 and k1 as two little-endian 64-bit integers — the layout
// siphash.Sum64 reads its key in.
func ShortIDKey(h *btcwire.BlockHeader, nonce uint64) [16]byte {
	var buf [btcwire.MaxBlockHeaderPayload + 8]byte
	copy(buf[:], headerBytes(h))
	binary.LittleEndian.PutUint64(buf[btcwire.MaxBlockHeaderPayload:], nonce)
	sum := sha256.Sum256(buf[:])
	var key [16]byte
	copy(key[:], sum[:16])
	return key
}

// ShortID is the BIP152 short id of a transaction hash (txid in version 1,
// wtxid in version 2): SipHash-2-4 of the 32 hash bytes, low 48 bits.
func ShortID(key *[16]byte, h *chainhash.Hash) uint64 {
	return siphash.Sum64(h[:], key) & ShortIDMask
}

// headerBytes serializes a block header (80 bytes).
func headerBytes(h *btcwire.BlockHeader) []byte {
	var b bytes.Buffer
	b.Grow(btcwire.MaxBlockHeaderPayload)
	_ = h.Serialize(&b) // writes to a bytes.Buffer do not fail
	return b.Bytes()
}
