package mempool

import (
	"bytes"
	"sync"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// DefaultMaxBytes is the default bound on a pool's accounted bytes, the
// same 300 MB as Bitcoin Core's default -maxmempool.
const DefaultMaxBytes = 300_000_000

// EntryOverhead is the memory one entry is charged besides its
// serialization: the entry record (hash, slice header, arrival time, age
// links: 72 bytes), its 8-byte value in the short-hash index, the slack of
// growing slices (101 bytes per entry in all, measured at 300,000 entries)
// and the allocator's rounding of the serialization. Charging it to the
// byte bound keeps a flood of tiny transactions within the bound too.
const EntryOverhead = 128

// maxEntries is the most transactions a pool holds: the index packs an
// entry number into 24 bits. 16.7 million entries of at least 60 bytes are
// more than any byte bound a node would configure.
const maxEntries = 1 << refBits

// noEntry marks the end of the age list.
const noEntry = ^uint32(0)

// Option configures a Pool.
type Option func(*Pool)

// WithMaxBytes bounds the pool's accounted bytes (serializations plus
// EntryOverhead per transaction). Values below 1 keep DefaultMaxBytes.
func WithMaxBytes(n int64) Option {
	return func(p *Pool) {
		if n > 0 {
			p.maxBytes = n
		}
	}
}

// WithClock sets the clock that stamps arrival times (time.Now by default).
func WithClock(now func() time.Time) Option {
	return func(p *Pool) {
		if now != nil {
			p.now = now
		}
	}
}

// entry is one stored transaction.
type entry struct {
	txid    chainhash.Hash
	raw     []byte // serialization with witness; never modified
	arrived int64  // Unix nanoseconds
	older   uint32 // neighbours in arrival order, noEntry at the ends
	newer   uint32
}

// Pool holds transactions keyed by txid with a short-hash index. All
// methods are safe for concurrent use: one sync.RWMutex guards the pool,
// taken shared by lookups and exclusively by changes. Decoding and
// serializing happen outside the lock.
type Pool struct {
	mu       sync.RWMutex
	maxBytes int64
	now      func() time.Time

	entries []entry  // indexed by entry number
	free    []uint32 // entry numbers of removed entries, for reuse
	oldest  uint32   // head of the age list (evicted first)
	newest  uint32   // tail of the age list
	count   int
	bytes   int64 // accounted bytes: serializations plus EntryOverhead each
	evicted uint64

	idx index
}

// New returns an empty pool.
func New(opts ...Option) *Pool {
	p := &Pool{maxBytes: DefaultMaxBytes, now: time.Now, oldest: noEntry, newest: noEntry}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Add stores tx unless the pool already holds its txid. added reports
// whether it was new. Errors wrap ErrBadTx for a nil transaction or one
// whose serialization does not decode back to itself (for example a
// transaction without inputs, whose serialization reads as a witness
// marker), and ErrTooLarge for one above 4,000,000 bytes or the byte bound.
// Adding may evict the oldest transactions to stay within the bound.
func (p *Pool) Add(tx *btcwire.MsgTx) (added bool, err error) {
	if tx == nil {
		return false, errorf(ErrBadTx, "nil transaction")
	}
	size := tx.SerializeSize()
	if size > wire.MaxTxSize {
		return false, errorf(ErrTooLarge, "%d bytes (limit %d)", size, wire.MaxTxSize)
	}
	var buf bytes.Buffer
	buf.Grow(size)
	if err := tx.Serialize(&buf); err != nil {
		return false, errorf(ErrBadTx, "serialize: %v", err)
	}
	txid, err := decodeRaw(buf.Bytes())
	if err != nil {
		return false, err
	}
	if want := tx.TxHash(); txid != want {
		return false, errorf(ErrBadTx, "serialization decodes to txid %v, not %v", txid, want)
	}
	return p.insert(txid, buf.Bytes())
}

// AddRaw stores the serialized transaction raw (with witness), as a TX
// message or the Bitcoin node delivers it, and returns its txid. The pool
// keeps a copy, so raw may be reused. Errors are those of Add.
func (p *Pool) AddRaw(raw []byte) (txid chainhash.Hash, added bool, err error) {
	if len(raw) > wire.MaxTxSize {
		return chainhash.Hash{}, false, errorf(ErrTooLarge, "%d bytes (limit %d)", len(raw), wire.MaxTxSize)
	}
	txid, err = decodeRaw(raw)
	if err != nil {
		return chainhash.Hash{}, false, err
	}
	added, err = p.insert(txid, bytes.Clone(raw))
	return txid, added, err
}

// decodeRaw decodes raw as one transaction and returns its txid. It rejects
// trailing bytes and encodings that do not serialize back to the same size
// (a witness marker with no witness), so what the pool serves decodes to
// the same transaction everywhere.
func decodeRaw(raw []byte) (chainhash.Hash, error) {
	var tx btcwire.MsgTx
	r := bytes.NewReader(raw)
	if err := tx.Deserialize(r); err != nil {
		return chainhash.Hash{}, errorf(ErrBadTx, "decode: %v", err)
	}
	if r.Len() != 0 {
		return chainhash.Hash{}, errorf(ErrBadTx, "%d bytes after the transaction", r.Len())
	}
	if n := tx.SerializeSize(); n != len(raw) {
		return chainhash.Hash{}, errorf(ErrBadTx, "%d bytes re-serialize as %d", len(raw), n)
	}
	return tx.TxHash(), nil
}

// insert stores raw under txid, evicting the oldest entries first when the
// bound requires it. raw becomes the pool's.
func (p *Pool) insert(txid chainhash.Hash, raw []byte) (bool, error) {
	cost := int64(len(raw)) + EntryOverhead
	if cost > p.maxBytes {
		return false, errorf(ErrTooLarge, "%d bytes exceed the pool's bound of %d", len(raw), p.maxBytes)
	}
	now := p.now().UnixNano()
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.find(&txid); ok {
		return false, nil
	}
	for p.count > 0 && (p.bytes+cost > p.maxBytes || p.count >= maxEntries) {
		p.remove(p.oldest)
		p.evicted++
	}
	var ref uint32
	if n := len(p.free); n > 0 {
		ref = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		ref = uint32(len(p.entries))
		p.entries = append(p.entries, entry{})
	}
	p.entries[ref] = entry{txid: txid, raw: raw, arrived: now, older: p.newest, newer: noEntry}
	if p.newest != noEntry {
		p.entries[p.newest].newer = ref
	} else {
		p.oldest = ref
	}
	p.newest = ref
	p.count++
	p.bytes += cost
	p.indexAdd(ref)
	return true, nil
}

// remove deletes entry ref from the index and the age list and frees its
// slot. The caller holds the write lock.
func (p *Pool) remove(ref uint32) {
	e := &p.entries[ref]
	p.indexRemove(ref)
	if e.older != noEntry {
		p.entries[e.older].newer = e.newer
	} else {
		p.oldest = e.newer
	}
	if e.newer != noEntry {
		p.entries[e.newer].older = e.older
	} else {
		p.newest = e.older
	}
	p.count--
	p.bytes -= int64(len(e.raw)) + EntryOverhead
	*e = entry{}
	p.free = append(p.free, ref)
}

// RemoveBlock drops the transactions a block confirmed and returns how
// many of them the pool held. txids not in the pool are ignored.
func (p *Pool) RemoveBlock(txids []chainhash.Hash) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for i := range txids {
		if ref, ok := p.find(&txids[i]); ok {
			p.remove(ref)
			n++
		}
	}
	return n
}

// Get returns the serialization (with witness) of the transaction txid.
// The slice is shared with the pool and must not be modified; it stays
// valid after the transaction leaves the pool.
func (p *Pool) Get(txid chainhash.Hash) ([]byte, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if ref, ok := p.find(&txid); ok {
		return p.entries[ref].raw, true
	}
	return nil, false
}

// Has reports whether the pool holds txid.
func (p *Pool) Has(txid chainhash.Hash) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	_, ok := p.find(&txid)
	return ok
}

// Arrived returns when txid entered the pool.
func (p *Pool) Arrived(txid chainhash.Hash) (time.Time, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if ref, ok := p.find(&txid); ok {
		return time.Unix(0, p.entries[ref].arrived), true
	}
	return time.Time{}, false
}

// Len returns the number of transactions held.
func (p *Pool) Len() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.count
}

// Bytes returns the accounted bytes the byte bound limits: the
// serializations plus EntryOverhead per transaction.
func (p *Pool) Bytes() int64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.bytes
}

// MaxBytes returns the byte bound.
func (p *Pool) MaxBytes() int64 { return p.maxBytes }

// Evicted returns how many transactions the byte bound has evicted so far.
func (p *Pool) Evicted() uint64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.evicted
}
