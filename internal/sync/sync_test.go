package chainsync

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/store"
	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chaincfg/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

var params = &chaincfg.MainNetParams

// source is a store of mainnet blocks 0..14131 shared by the tests' peers
// (read-only).
var (
	sourceOnce gosync.Once
	source     *store.Store
	sourceErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if source != nil {
		source.Close()
		os.RemoveAll(filepath.Dir(sourceDir))
	}
	os.Exit(code)
}

var sourceDir string

func sourceStore(t *testing.T) *store.Store {
	t.Helper()
	sourceOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/btcsuite/btcd").Output()
		if err != nil {
			sourceErr = err
			return
		}
		path := filepath.Join(strings.TrimSpace(string(out)), "blockchain", "testdata", "blk_0_to_14131.dat")
		tmp, err := os.MkdirTemp("", "chainsync-test")
		if err != nil {
			sourceErr = err
			return
		}
		sourceDir = filepath.Join(tmp, "src")
		source, sourceErr = store.OpenWith(sourceDir, params, store.Options{Logger: quiet()})
		if sourceErr == nil {
			_, sourceErr = store.ImportFile(context.Background(), source, path, uint32(params.Net))
		}
	})
	if sourceErr != nil {
		t.Fatalf("mainnet test blocks: %v", sourceErr)
	}
	return source
}

func quiet() *slog.Logger {
	if testing.Verbose() && os.Getenv("CHAINSYNC_LOG") != "" {
		return slog.Default()
	}
	return slog.New(slog.DiscardHandler)
}

// behaviour changes how a fake peer answers.
type behaviour struct {
	// headers, if set, replaces the HEADERS reply.
	headers func(m *wire.GetHeaders) *wire.Headers
	// blocks, if set, replaces the BLOCKS reply (nil: no reply at all).
	blocks func(m *wire.GetBlocks, honest *wire.Blocks) *wire.Blocks
	// version, if set, adjusts the announced BTVERSION.
	version func(v *wire.BTVersion)
	delay   time.Duration
}

// fakePeer answers the Syncer's requests from a store.
type fakePeer struct {
	id   uint64
	st   *store.Store
	s    *Syncer
	b    behaviour
	v    *wire.BTVersion
	q    chan wire.Message
	mu   gosync.Mutex
	pens map[string]int
	gone atomic.Bool
	sent atomic.Int64 // GET_BLOCKS received
}

var nextID atomic.Uint64

func newFakePeer(st *store.Store, s *Syncer, b behaviour) *fakePeer {
	best, height, td := st.Tip()
	v := &wire.BTVersion{BestHash: best, BestHeight: uint32(height), GenesisHash: *params.GenesisHash}
	v.SetTD(td)
	if b.version != nil {
		b.version(v)
	}
	p := &fakePeer{id: nextID.Add(1), st: st, s: s, b: b, v: v, q: make(chan wire.Message, 64), pens: map[string]int{}}
	go p.serve()
	return p
}

func (p *fakePeer) ID() uint64               { return p.id }
func (p *fakePeer) Version() *wire.BTVersion { return p.v }
func (p *fakePeer) String() string           { return fmt.Sprintf("fake%d", p.id) }
func (p *fakePeer) SendTCP(m wire.Message) error {
	if p.gone.Load() {
		return fmt.Errorf("gone")
	}
	select {
	case p.q <- m:
		return nil
	default:
		return fmt.Errorf("queue full")
	}
}
func (p *fakePeer) Penalize(reason string, points int) {
	p.mu.Lock()
	p.pens[reason] += points
	p.mu.Unlock()
}
func (p *fakePeer) Disconnect(wire.DisconnectReason, string) {
	if !p.gone.Swap(true) {
		close(p.q)
	}
}
func (p *fakePeer) penalties() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for k, v := range p.pens {
		out[k] = v
	}
	return out
}

func (p *fakePeer) serve() {
	for m := range p.q {
		if p.b.delay > 0 {
			time.Sleep(p.b.delay)
		}
		var reply wire.Message
		switch m := m.(type) {
		case *wire.GetHeaders:
			if p.b.headers != nil {
				reply = p.b.headers(m)
			} else {
				reply = &wire.Headers{Headers: p.st.Headers(m.Hash, int(m.Max))}
			}
		case *wire.GetBlocks:
			p.sent.Add(1)
			honest := &wire.Blocks{}
			for _, h := range m.Hashes {
				if raw, err := p.st.RawBlock(h); err == nil {
					honest.Blocks = append(honest.Blocks, raw)
				}
			}
			if p.b.blocks != nil {
				if r := p.b.blocks(m, honest); r != nil {
					reply = r
				}
			} else {
				reply = honest
			}
		}
		if reply != nil && !p.gone.Load() {
			// Round-trip through the encoding, as a session would.
			payload := reply.Append(nil)
			dm, err := wire.DecodeMessage(reply.Type(), payload)
			if err != nil {
				panic(err)
			}
			p.s.Deliver(p, dm)
		}
	}
}

// harness is a Syncer on a fresh store.
type harness struct {
	t   *testing.T
	st  *store.Store
	s   *Syncer
	ctx context.Context
}

func newHarness(t *testing.T, tweak func(*Config)) *harness {
	t.Helper()
	st, err := store.OpenWith(t.TempDir(), params, store.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Store: st, Params: params, Log: quiet(), StallTimeout: 200 * time.Millisecond,
		MinTimeout: 300 * time.Millisecond, ProgressInterval: time.Second}
	if tweak != nil {
		tweak(&cfg)
	}
	s := New(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; st.Close() })
	return &harness{t: t, st: st, s: s, ctx: ctx}
}

func (h *harness) peer(b behaviour) *fakePeer {
	p := newFakePeer(sourceStore(h.t), h.s, b)
	h.s.AddPeer(p)
	return p
}

// waitSynced waits until the store's tip is the source's.
func (h *harness) waitSynced() {
	h.t.Helper()
	want, _, _ := sourceStore(h.t).Tip()
	for {
		got, height, _ := h.st.Tip()
		if got == want {
			return
		}
		if h.ctx.Err() != nil {
			h.t.Fatalf("not synced: height %d, status %+v", height, h.s.Status(context.Background()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitGone waits until p has been disconnected.
func (h *harness) waitGone(p *fakePeer) {
	h.t.Helper()
	for !p.gone.Load() {
		if h.ctx.Err() != nil {
			h.t.Fatalf("%v not dropped; penalties %v", p, p.penalties())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSyncOnePeer(t *testing.T) {
	h := newHarness(t, nil)
	p := h.peer(behaviour{})
	h.waitSynced()
	if pens := p.penalties(); len(pens) != 0 {
		t.Fatalf("honest peer penalized: %v", pens)
	}
}

// TestFewerBlocks: a peer that answers with half of what was asked; the
// rest goes back to the pool and is asked again.
func TestFewerBlocks(t *testing.T) {
	h := newHarness(t, nil)
	p := h.peer(behaviour{blocks: func(m *wire.GetBlocks, honest *wire.Blocks) *wire.Blocks {
		honest.Blocks = honest.Blocks[:max(1, len(honest.Blocks)/2)]
		return honest
	}})
	h.waitSynced()
	if pens := p.penalties(); len(pens) != 0 {
		t.Fatalf("peer penalized: %v", pens)
	}
	if p.gone.Load() {
		t.Fatal("peer dropped")
	}
}

// TestStaller: one peer never answers GET_BLOCKS; its blocks move to the
// honest peer and the sync completes.
func TestStaller(t *testing.T) {
	h := newHarness(t, nil)
	staller := h.peer(behaviour{blocks: func(*wire.GetBlocks, *wire.Blocks) *wire.Blocks { return nil }})
	honest := h.peer(behaviour{})
	h.waitSynced()
	if staller.sent.Load() == 0 {
		t.Fatal("the staller was never asked; the test proves nothing")
	}
	st := h.s.Status(context.Background())
	t.Logf("status %+v, staller asked %d times, penalties %v", st, staller.sent.Load(), staller.penalties())
	if st.Stalls == 0 && !staller.gone.Load() {
		t.Fatal("the staller was neither detected nor dropped")
	}
	if pens := honest.penalties(); len(pens) != 0 {
		t.Fatalf("honest peer penalized: %v", pens)
	}
}

// TestBadPoW: a peer announcing a made-up block whose header fails its
// proof of work is dropped with bad-pow.
func TestBadPoW(t *testing.T) {
	h := newHarness(t, nil)
	src := sourceStore(t)
	tip, height, td := src.Tip()
	fake := btcwire.BlockHeader{Version: 1, PrevBlock: tip, Timestamp: time.Unix(1300000000, 0), Bits: 0x1d00ffff, Nonce: 1}
	fakeHash := fake.BlockHash()
	p := h.peer(behaviour{
		version: func(v *wire.BTVersion) {
			v.BestHash, v.BestHeight = fakeHash, uint32(height+1)
			v.SetTD(new(big.Int).Add(td, big.NewInt(1<<32)))
		},
		headers: func(m *wire.GetHeaders) *wire.Headers {
			return &wire.Headers{Headers: append([]btcwire.BlockHeader{fake}, src.Headers(tip, int(m.Max)-1)...)}
		},
	})
	h.waitGone(p)
	if got := p.penalties()["bad-pow"]; got != 100 {
		t.Fatalf("penalties %v, want bad-pow 100", p.penalties())
	}
}

// TestBrokenLink: headers that do not link are invalid-run.
func TestBrokenLink(t *testing.T) {
	h := newHarness(t, nil)
	src := sourceStore(t)
	p := h.peer(behaviour{headers: func(m *wire.GetHeaders) *wire.Headers {
		hs := src.Headers(m.Hash, int(m.Max))
		hs = append(hs[:10:10], hs[11:]...) // skip one
		return &wire.Headers{Headers: hs}
	}})
	h.waitGone(p)
	if got := p.penalties()["invalid-run"]; got != 100 {
		t.Fatalf("penalties %v, want invalid-run 100", p.penalties())
	}
}

// TestDripping: a peer that answers one header at a time is dropped after
// two short replies.
func TestDripping(t *testing.T) {
	h := newHarness(t, nil)
	src := sourceStore(t)
	var replies atomic.Int64
	p := h.peer(behaviour{headers: func(m *wire.GetHeaders) *wire.Headers {
		replies.Add(1)
		return &wire.Headers{Headers: src.Headers(m.Hash, 1)}
	}})
	h.waitGone(p)
	if n := replies.Load(); n != 2 {
		t.Fatalf("dropped after %d replies, want 2", n)
	}
}

// TestTDMismatch: a peer that claims more work than its headers show.
func TestTDMismatch(t *testing.T) {
	h := newHarness(t, nil)
	p := h.peer(behaviour{version: func(v *wire.BTVersion) {
		v.SetTD(new(big.Int).Add(v.TDInt(), big.NewInt(1)))
	}})
	h.waitGone(p)
	if _, height, _ := h.st.Tip(); height != 0 {
		t.Fatalf("blocks written from a peer whose TD does not add up: height %d", height)
	}
}

// TestUnrequestedBlock: a block that was not asked for drops the peer.
func TestUnrequestedBlock(t *testing.T) {
	h := newHarness(t, nil)
	src := sourceStore(t)
	other, _ := src.HashAtHeight(14000)
	raw, _ := src.RawBlock(other)
	p := h.peer(behaviour{blocks: func(m *wire.GetBlocks, honest *wire.Blocks) *wire.Blocks {
		if m.Hashes[0] == other {
			return honest
		}
		honest.Blocks = append(honest.Blocks, raw)
		return honest
	}})
	h.waitGone(p)
	if got := p.penalties()["unrequested"]; got != 10 {
		t.Fatalf("penalties %v, want unrequested 10", p.penalties())
	}
}

// TestBadBody: a block whose transactions do not match its header's merkle
// root drops the peer, and an honest peer completes the sync.
func TestBadBody(t *testing.T) {
	h := newHarness(t, nil)
	bad := h.peer(behaviour{blocks: func(m *wire.GetBlocks, honest *wire.Blocks) *wire.Blocks {
		for i, raw := range honest.Blocks {
			var blk btcwire.MsgBlock
			if err := blk.Deserialize(bytes.NewReader(raw)); err != nil {
				panic(err)
			}
			blk.Transactions[0].LockTime++ // changes the coinbase's txid
			var buf bytes.Buffer
			_ = blk.Serialize(&buf)
			honest.Blocks[i] = buf.Bytes()
		}
		return honest
	}})
	h.waitGone(bad)
	if got := bad.penalties()["invalid-body"]; got != 100 {
		t.Fatalf("penalties %v, want invalid-body 100", bad.penalties())
	}
	h.peer(behaviour{})
	h.waitSynced()
}

// TestCheckBodiesMutated: the CVE-2012-2459 mutation (a duplicated last
// transaction keeps the merkle root) is caught.
func TestCheckBodiesMutated(t *testing.T) {
	src := sourceStore(t)
	var raw []byte
	for ht := int32(1); ht < 14131; ht++ {
		hash, _ := src.HashAtHeight(ht)
		blk, _ := src.Block(hash)
		if len(blk.Transactions) == 3 || len(blk.Transactions) == 5 {
			blk.Transactions = append(blk.Transactions, blk.Transactions[len(blk.Transactions)-1])
			var buf bytes.Buffer
			_ = blk.Serialize(&buf)
			raw = buf.Bytes()
			break
		}
	}
	if raw == nil {
		t.Skip("no block with an odd transaction count")
	}
	got := checkBodies([][]byte{raw})
	if got[0].err == nil || got[0].pen != "mutated" {
		t.Fatalf("mutated block: %+v", got[0])
	}
}

// TestOrphanHint: a peer that was not ahead when it connected, and a block
// from it whose parent is unknown: the Syncer downloads the headers back
// from that block and then the blocks.
func TestOrphanHint(t *testing.T) {
	h := newHarness(t, nil)
	src := sourceStore(t)
	tip, _, _ := src.Tip()
	p := h.peer(behaviour{version: func(v *wire.BTVersion) {
		v.BestHash, v.BestHeight = *params.GenesisHash, 0
		v.SetTD(h.genesisWork())
		v.Services = wire.ServiceBlocks
	}})
	time.Sleep(50 * time.Millisecond)
	if st := h.s.Status(h.ctx); st.Syncing {
		t.Fatalf("syncing from a peer with no more work: %+v", st)
	}
	h.s.Orphan(tip)
	h.waitSynced()
	if pens := p.penalties(); len(pens) != 0 {
		t.Fatalf("peer penalized: %v", pens)
	}
}

func (h *harness) genesisWork() *big.Int {
	_, _, w := h.st.Tip()
	return w
}
