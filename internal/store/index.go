package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
	"go.etcd.io/bbolt"
)

// Bucket and key names of the index.
var (
	bucketBlocks  = []byte("blocks")
	bucketHeights = []byte("heights")
	bucketFiles   = []byte("files")
	bucketMeta    = []byte("meta")

	keyVersion = []byte("version")
	keyNet     = []byte("net")
	keyGenesis = []byte("genesis")
	keyTip     = []byte("tip")
)

// indexVersion is the layout version written to the meta bucket.
const indexVersion = 1

// noFile is the file number of an entry whose block data is missing.
const noFile = ^uint32(0)

// headerSize is the size of a serialized block header.
const headerSize = btcwire.MaxBlockHeaderPayload

// entryFixed is the size of an index entry before its chain work.
const entryFixed = 4 + 4 + 4 + 4 + headerSize

// entry is what the index holds about one block. Its encoding is file,
// offset, length and height (4 bytes each, big endian), the 80-byte header,
// and then the cumulative chain work as a big-endian unsigned integer.
type entry struct {
	// file is the block file number, or noFile when the block's data is
	// missing (see doc.go).
	file uint32
	// offset is where the serialized block starts in the file, just after
	// its 8-byte record prefix.
	offset uint32
	// length is the serialized block's length.
	length uint32
	// height is the block's height; the genesis block has height 0.
	height int32
	// header is the serialized header; bytes 4 to 36 are the parent hash.
	header [headerSize]byte
	// work is the chain work of the block and all its ancestors.
	work *big.Int
}

// hasData reports whether the entry points at a record.
func (e *entry) hasData() bool { return e.file != noFile }

// prev returns the parent's hash.
func (e *entry) prev() chainhash.Hash {
	var h chainhash.Hash
	copy(h[:], e.header[4:36])
	return h
}

// blockHeader decodes the header.
func (e *entry) blockHeader() (btcwire.BlockHeader, error) {
	var h btcwire.BlockHeader
	if err := h.Deserialize(bytes.NewReader(e.header[:])); err != nil {
		return h, fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	return h, nil
}

// encode returns the entry's index value.
func (e *entry) encode() []byte {
	w := e.work.Bytes()
	v := make([]byte, entryFixed+len(w))
	binary.BigEndian.PutUint32(v[0:], e.file)
	binary.BigEndian.PutUint32(v[4:], e.offset)
	binary.BigEndian.PutUint32(v[8:], e.length)
	binary.BigEndian.PutUint32(v[12:], uint32(e.height))
	copy(v[16:], e.header[:])
	copy(v[entryFixed:], w)
	return v
}

// decodeEntry parses an index value. It copies what it keeps, so v may be
// memory that bbolt reclaims when the transaction ends.
func decodeEntry(v []byte) (entry, error) {
	if len(v) < entryFixed {
		return entry{}, fmt.Errorf("%w: index entry of %d bytes", ErrCorrupt, len(v))
	}
	e := entry{
		file:   binary.BigEndian.Uint32(v[0:]),
		offset: binary.BigEndian.Uint32(v[4:]),
		length: binary.BigEndian.Uint32(v[8:]),
		height: int32(binary.BigEndian.Uint32(v[12:])),
		work:   new(big.Int).SetBytes(v[entryFixed:]),
	}
	copy(e.header[:], v[16:entryFixed])
	return e, nil
}

// heightKey is the key of a height in bucket "heights".
func heightKey(h int32) []byte {
	var k [4]byte
	binary.BigEndian.PutUint32(k[:], uint32(h))
	return k[:]
}

// fileKey is the key of a block file number in bucket "files".
func fileKey(n uint32) []byte {
	var k [4]byte
	binary.BigEndian.PutUint32(k[:], n)
	return k[:]
}

// index wraps one bbolt transaction with typed accessors.
type index struct {
	blocks, heights, files, meta *bbolt.Bucket
}

// newIndex returns the accessors of tx. The buckets must exist.
func newIndex(tx *bbolt.Tx) (index, error) {
	ix := index{
		blocks:  tx.Bucket(bucketBlocks),
		heights: tx.Bucket(bucketHeights),
		files:   tx.Bucket(bucketFiles),
		meta:    tx.Bucket(bucketMeta),
	}
	if ix.blocks == nil || ix.heights == nil || ix.files == nil || ix.meta == nil {
		return ix, fmt.Errorf("%w: index buckets missing", ErrCorrupt)
	}
	return ix, nil
}

// get returns the entry of hash; ok is false when the index has none.
func (ix index) get(hash *chainhash.Hash) (e entry, ok bool, err error) {
	v := ix.blocks.Get(hash[:])
	if v == nil {
		return entry{}, false, nil
	}
	e, err = decodeEntry(v)
	if err != nil {
		return entry{}, false, fmt.Errorf("block %v: %w", hash, err)
	}
	return e, true, nil
}

// Values handed to bbolt must stay unchanged until the transaction ends
// (bbolt copies keys, not values), so every value below is a fresh slice.

// put stores the entry of hash.
func (ix index) put(hash *chainhash.Hash, e *entry) error {
	return ix.blocks.Put(hash[:], e.encode())
}

// setHeight records hash as the best chain's block at height h.
func (ix index) setHeight(h int32, hash chainhash.Hash) error {
	return ix.heights.Put(heightKey(h), hash.CloneBytes())
}

// setTip records hash as the tip.
func (ix index) setTip(hash chainhash.Hash) error {
	return ix.meta.Put(keyTip, hash.CloneBytes())
}

// atHeight returns the best chain's hash at height h.
func (ix index) atHeight(h int32) (chainhash.Hash, bool) {
	var hash chainhash.Hash
	if h < 0 {
		return hash, false
	}
	v := ix.heights.Get(heightKey(h))
	if len(v) != chainhash.HashSize {
		return hash, false
	}
	copy(hash[:], v)
	return hash, true
}

// tip returns the hash recorded as the tip.
func (ix index) tip() (chainhash.Hash, bool) {
	var hash chainhash.Hash
	v := ix.meta.Get(keyTip)
	if len(v) != chainhash.HashSize {
		return hash, false
	}
	copy(hash[:], v)
	return hash, true
}

// fileSizes returns the indexed length of every block file.
func (ix index) fileSizes() (map[uint32]int64, error) {
	sizes := make(map[uint32]int64)
	err := ix.files.ForEach(func(k, v []byte) error {
		if len(k) != 4 || len(v) != 8 {
			return fmt.Errorf("%w: files bucket entry", ErrCorrupt)
		}
		sizes[binary.BigEndian.Uint32(k)] = int64(binary.BigEndian.Uint64(v))
		return nil
	})
	return sizes, err
}

// setFileSize records the indexed length of a block file.
func (ix index) setFileSize(n uint32, size int64) error {
	v := make([]byte, 8)
	binary.BigEndian.PutUint64(v, uint64(size))
	return ix.files.Put(fileKey(n), v)
}
