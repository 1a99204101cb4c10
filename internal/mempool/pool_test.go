package mempool

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

func TestAddGet(t *testing.T) {
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := New(WithClock(func() time.Time { return clock }))
	tx := makeTx(1)
	added, err := p.Add(tx)
	if err != nil || !added {
		t.Fatalf("Add = %v, %v; want true, nil", added, err)
	}
	raw, ok := p.Get(tx.TxHash())
	if !ok || !bytes.Equal(raw, serialize(t, tx)) {
		t.Fatalf("Get = %x, %v; want the serialization", raw, ok)
	}
	if !p.Has(tx.TxHash()) || p.Has(chainhash.Hash{}) {
		t.Fatal("Has is wrong")
	}
	if at, ok := p.Arrived(tx.TxHash()); !ok || !at.Equal(clock) {
		t.Fatalf("Arrived = %v, %v; want %v", at, ok, clock)
	}
	if added, err := p.Add(tx); added || err != nil {
		t.Fatalf("second Add = %v, %v; want false, nil", added, err)
	}
	if _, added, err := p.AddRaw(raw); added || err != nil {
		t.Fatalf("AddRaw of a held tx = %v, %v; want false, nil", added, err)
	}

	// AddRaw copies its input and returns the txid.
	other := makeTx(2)
	buf := serialize(t, other)
	txid, added, err := p.AddRaw(buf)
	if err != nil || !added || txid != other.TxHash() {
		t.Fatalf("AddRaw = %v, %v, %v; want %v, true, nil", txid, added, err, other.TxHash())
	}
	want := slices.Clone(buf)
	clear(buf)
	if got, _ := p.Get(txid); !bytes.Equal(got, want) {
		t.Fatal("AddRaw kept the caller's buffer")
	}
	if p.Len() != 2 || p.Bytes() != int64(len(raw)+len(want)+2*EntryOverhead) {
		t.Fatalf("Len, Bytes = %d, %d", p.Len(), p.Bytes())
	}
}

func TestAddWitness(t *testing.T) {
	tx := makeTx(7)
	tx.TxIn[0].Witness = btcwire.TxWitness{{1, 2, 3}, bytes.Repeat([]byte{9}, 70)}
	p := New()
	if _, err := p.Add(tx); err != nil {
		t.Fatal(err)
	}
	raw, _ := p.Get(tx.TxHash())
	if !bytes.Equal(raw, serialize(t, tx)) || !tx.HasWitness() {
		t.Fatal("the witness was not kept")
	}
}

func TestAddRejects(t *testing.T) {
	noInputs := btcwire.NewMsgTx(1)
	noInputs.AddTxOut(btcwire.NewTxOut(1, []byte{0x51}))
	huge := makeTx(3)
	huge.TxOut[0].PkScript = make([]byte, wire.MaxTxSize)
	good := serialize(t, makeTx(4))
	// A witness marker with no witness decodes but re-serializes shorter.
	emptyWitness := append(append(slices.Clone(good[:4]), 0, 1), good[4:len(good)-4]...)
	emptyWitness = append(emptyWitness, 0) // the input's empty witness
	emptyWitness = append(emptyWitness, good[len(good)-4:]...)

	tests := []struct {
		name string
		add  func(p *Pool) error
		kind error
	}{
		{"nil", func(p *Pool) error { _, err := p.Add(nil); return err }, ErrBadTx},
		{"no inputs", func(p *Pool) error { _, err := p.Add(noInputs); return err }, ErrBadTx},
		{"over 4 MB", func(p *Pool) error { _, err := p.Add(huge); return err }, ErrTooLarge},
		{"raw over 4 MB", func(p *Pool) error {
			_, _, err := p.AddRaw(make([]byte, wire.MaxTxSize+1))
			return err
		}, ErrTooLarge},
		{"garbage", func(p *Pool) error { _, _, err := p.AddRaw([]byte{1, 2, 3}); return err }, ErrBadTx},
		{"empty", func(p *Pool) error { _, _, err := p.AddRaw(nil); return err }, ErrBadTx},
		{"truncated", func(p *Pool) error { _, _, err := p.AddRaw(good[:len(good)-1]); return err }, ErrBadTx},
		{"trailing", func(p *Pool) error { _, _, err := p.AddRaw(append(slices.Clone(good), 0)); return err }, ErrBadTx},
		{"empty witness", func(p *Pool) error { _, _, err := p.AddRaw(emptyWitness); return err }, ErrBadTx},
		{"over the bound", func(*Pool) error {
			_, _, err := New(WithMaxBytes(EntryOverhead + 10)).AddRaw(good)
			return err
		}, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := New()
			if err := tc.add(p); !errors.Is(err, tc.kind) {
				t.Fatalf("err = %v, want %v", err, tc.kind)
			}
			if p.Len() != 0 || p.Bytes() != 0 {
				t.Fatal("a rejected transaction was stored")
			}
		})
	}
}

func TestEvictionOldestFirst(t *testing.T) {
	txs := make([]*btcwire.MsgTx, 12)
	for i := range txs {
		txs[i] = makeTx(uint64(100 + i))
	}
	size := int64(txs[0].SerializeSize() + EntryOverhead) // all the same size
	p := New(WithMaxBytes(5 * size))
	for i, tx := range txs[:8] {
		if added, err := p.Add(tx); !added || err != nil {
			t.Fatalf("Add %d = %v, %v", i, added, err)
		}
		if p.Bytes() > p.MaxBytes() {
			t.Fatalf("Bytes %d over the bound %d", p.Bytes(), p.MaxBytes())
		}
	}
	held := func() (out []int) {
		for i, tx := range txs {
			if p.Has(tx.TxHash()) {
				out = append(out, i)
			}
		}
		return out
	}
	if got := held(); !slices.Equal(got, []int{3, 4, 5, 6, 7}) || p.Evicted() != 3 {
		t.Fatalf("held %v, evicted %d; want [3 4 5 6 7], 3", got, p.Evicted())
	}

	// Removing confirmed transactions makes room without eviction; the
	// age order of the rest is kept.
	if n := p.RemoveBlock([]chainhash.Hash{txs[4].TxHash(), txs[6].TxHash(), txs[0].TxHash()}); n != 2 {
		t.Fatalf("RemoveBlock removed %d, want 2", n)
	}
	for _, tx := range txs[8:11] {
		if _, err := p.Add(tx); err != nil {
			t.Fatal(err)
		}
	}
	if got := held(); !slices.Equal(got, []int{5, 7, 8, 9, 10}) || p.Evicted() != 4 {
		t.Fatalf("held %v, evicted %d; want [5 7 8 9 10], 4", got, p.Evicted())
	}
	if p.Len() != 5 || p.Bytes() != 5*size {
		t.Fatalf("Len, Bytes = %d, %d", p.Len(), p.Bytes())
	}

	// A larger transaction evicts as many old ones as it needs.
	big := makeTx(999)
	big.TxOut[0].PkScript = make([]byte, 2*int(size))
	if _, err := p.Add(big); err != nil {
		t.Fatal(err)
	}
	if got := held(); !slices.Equal(got, []int{10}) || !p.Has(big.TxHash()) {
		t.Fatalf("held %v after a large add", got)
	}
}

func TestRemoveBlock(t *testing.T) {
	ids := randomHashes(1000, 1)
	p := poolOf(t, ids)
	gone := ids[100:600]
	if n := p.RemoveBlock(append(slices.Clone(gone), randomHashes(10, 2)...)); n != len(gone) {
		t.Fatalf("removed %d, want %d", n, len(gone))
	}
	if p.Len() != 500 || p.Bytes() != 500*int64(len(fakeRaw)+EntryOverhead) {
		t.Fatalf("Len, Bytes = %d, %d", p.Len(), p.Bytes())
	}
	for i, h := range ids {
		in := i < 100 || i >= 600
		if p.Has(h) != in || (len(p.Candidates(h[:4], 10)) > 0) != in {
			t.Fatalf("txid %d: Has %v, want %v", i, p.Has(h), in)
		}
	}
	// Freed slots are reused and the index stays consistent.
	addHashes(t, p, gone[:300])
	for _, h := range gone[:300] {
		if got := p.Candidates(h[:], 2); len(got) != 1 || got[0] != h {
			t.Fatalf("Candidates(%v) = %v", h, got)
		}
	}
	if p.RemoveBlock(ids) != 800 || p.Len() != 0 || p.Bytes() != 0 {
		t.Fatalf("after removing all: Len %d, Bytes %d", p.Len(), p.Bytes())
	}
}

func TestConcurrentUse(t *testing.T) {
	p := New(WithMaxBytes(300 * int64(makeTx(0).SerializeSize()+EntryOverhead)))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 300 {
				tx := makeTx(uint64(w*1000 + i))
				if _, err := p.Add(tx); err != nil {
					t.Error(err)
					return
				}
				h := tx.TxHash()
				if raw, ok := p.Get(h); ok {
					if _, err := decodeRaw(raw); err != nil {
						t.Error(err)
					}
				}
				p.Candidates(h[:2], 8)
				if i%50 == 0 {
					p.RemoveBlock([]chainhash.Hash{h})
				}
				_ = p.Len() + int(p.Bytes())
			}
		})
	}
	wg.Wait()
	if p.Len() > 300 || p.Bytes() > p.MaxBytes() {
		t.Fatalf("Len %d, Bytes %d over the bound", p.Len(), p.Bytes())
	}
}
