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
	"testing/synctest"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/store"
	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
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
	// headers, if set, replaces the HEADERS reply (nil: no reply at all).
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
				if r := p.b.headers(m); r != nil {
					reply = r
				}
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
	t     *testing.T
	st    *store.Store
	s     *Syncer
	ctx   context.Context
	peers []*fakePeer
}

func newHarness(t *testing.T, tweak func(*Config)) *harness {
	t.Helper()
	return newHarnessFor(t, tweak, 50*time.Second)
}

// newHarnessFor is newHarness whose Syncer runs for at most limit. When the
// test ends, the Syncer stops first and then its fake peers are
// disconnected, so that no goroutine of the test outlives it (a synctest
// bubble waits for all of them).
func newHarnessFor(t *testing.T, tweak func(*Config), limit time.Duration) *harness {
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
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	h := &harness{t: t, st: st, s: s, ctx: ctx}
	t.Cleanup(func() {
		cancel()
		<-done
		for _, p := range h.peers {
			p.Disconnect(wire.ReasonShuttingDown, "test over")
		}
		st.Close()
	})
	return h
}

func (h *harness) peer(b behaviour) *fakePeer {
	p := newFakePeer(sourceStore(h.t), h.s, b)
	h.peers = append(h.peers, p)
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

// The orphan-hint tests below run in a synctest bubble: the Syncer's ticker,
// the rounds between retries of a hint and the waits of the tests are all
// virtual time, so a test that waits many seconds of it takes milliseconds,
// and synctest.Wait tells when every goroutine has done all it can.

// bubbleLimit bounds a bubble's Syncer in virtual time; settle is how long
// a test lets the Syncer work after its last hint, far more than any
// download or round of retries here takes.
const (
	bubbleLimit = 10 * time.Minute
	settle      = time.Minute
)

// behind makes a fake peer announce the genesis block and its work, which
// is no more than a fresh store has, so the Syncer downloads nothing from it
// until a hint arrives; the peer serves blocks.
func behind(h *harness) func(v *wire.BTVersion) {
	return func(v *wire.BTVersion) {
		v.BestHash, v.BestHeight = *params.GenesisHash, 0
		v.SetTD(h.genesisWork())
		v.Services = wire.ServiceBlocks
	}
}

// sourceHash is the hash of the source chain's block at height.
func sourceHash(t *testing.T, height int32) chainhash.Hash {
	t.Helper()
	hash, err := sourceStore(t).HashAtHeight(height)
	if err != nil {
		t.Fatalf("height %d: %v", height, err)
	}
	return hash
}

// madeUp is the hash of a block no peer has.
func madeUp(i int) chainhash.Hash {
	var hash chainhash.Hash
	hash[0], hash[1], hash[31] = 0xee, byte(i), 0xee
	return hash
}

// headersAsk is one GET_HEADERS a fake peer received.
type headersAsk struct {
	peer int // the fake peer's index in the test
	hash chainhash.Hash
	at   time.Time
}

func (a headersAsk) String() string {
	return fmt.Sprintf("peer %d at %s", a.peer, a.at.Format("15:04:05.000"))
}

// askLog records the GET_HEADERS of a test's fake peers.
type askLog struct {
	mu   gosync.Mutex
	asks []headersAsk
}

// asksString shows the first asks of a list, which may be long.
func asksString(asks []headersAsk) string {
	if len(asks) > 20 {
		return fmt.Sprintf("%v ... (%d in all)", asks[:20], len(asks))
	}
	return fmt.Sprint(asks)
}

// maxAsks bounds the GET_HEADERS a test's fake peers answer: a Syncer that
// asked without end, with no time passing in between, would never let a
// bubble's virtual clock reach the end of the test.
const maxAsks = 1000

// add records an ask and reports whether it is within maxAsks; a fake peer
// leaves the ones beyond unanswered, which ends such a loop.
func (l *askLog) add(peer int, hash chainhash.Hash) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asks = append(l.asks, headersAsk{peer: peer, hash: hash, at: time.Now()})
	return len(l.asks) <= maxAsks
}

// of returns the asks for hash, oldest first.
func (l *askLog) of(hash chainhash.Hash) []headersAsk {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []headersAsk
	for _, a := range l.asks {
		if a.hash == hash {
			out = append(out, a)
		}
	}
	return out
}

// firsts returns the hashes asked, each once, in the order of their first
// ask.
func (l *askLog) firsts() []chainhash.Hash {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []chainhash.Hash
	seen := map[chainhash.Hash]bool{}
	for _, a := range l.asks {
		if !seen[a.hash] {
			seen[a.hash] = true
			out = append(out, a.hash)
		}
	}
	return out
}

// gate holds a fake peer's reply to the GET_HEADERS for one hash until the
// test opens it, so that a hint download is certainly running while the
// test sends more hints.
type gate struct {
	hash    chainhash.Hash
	asked   chan struct{} // closed when the held request arrives
	release chan struct{}
	ask     gosync.Once
	open    gosync.Once
}

// newGate makes a gate for hash and makes sure it opens by the end of the
// test (register it after the harness, so that it opens before the Syncer
// stops).
func newGate(t *testing.T, hash chainhash.Hash) *gate {
	g := &gate{hash: hash, asked: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(g.Open)
	return g
}

// hold blocks a request for the gate's hash until the gate opens.
func (g *gate) hold(m *wire.GetHeaders) {
	if m.Hash != g.hash {
		return
	}
	g.ask.Do(func() { close(g.asked) })
	<-g.release
}

// Open lets the held reply go.
func (g *gate) Open() { g.open.Do(func() { close(g.release) }) }

// TestOrphanHintBurst: hints that arrive while another hint's headers are
// being downloaded wait their turn instead of being dropped, so every hinted
// block is downloaded, the last of the burst included, whatever the order of
// their heights.
func TestOrphanHintBurst(t *testing.T) {
	cases := []struct {
		name  string
		first int32   // height of the hint whose download is running
		burst []int32 // heights of the hints sent meanwhile, in order
	}{
		{name: "two rising", first: 10, burst: []int32{20, 30}},
		{name: "four rising", first: 10, burst: []int32{20, 30, 40, 50}},
		{name: "newest is lowest", first: 10, burst: []int32{40, 25}},
		{name: "repeated hint", first: 10, burst: []int32{30, 20, 30}},
	}
	sourceStore(t) // outside the bubble: the source is shared by all tests
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarnessFor(t, nil, bubbleLimit)
				g := newGate(t, sourceHash(t, tc.first))
				p := h.peer(behaviour{version: behind(h), headers: func(m *wire.GetHeaders) *wire.Headers {
					g.hold(m)
					return &wire.Headers{Headers: sourceStore(t).Headers(m.Hash, int(m.Max))}
				}})
				h.s.Orphan(g.hash)
				<-g.asked
				// The first hint's download now waits for its headers;
				// the burst arrives meanwhile, and is handled before the
				// held reply, which the Syncer receives only after it.
				want := []chainhash.Hash{g.hash}
				top := tc.first
				for _, height := range tc.burst {
					hash := sourceHash(t, height)
					h.s.Orphan(hash)
					want = append(want, hash)
					top = max(top, height)
				}
				synctest.Wait()
				g.Open()
				time.Sleep(settle)
				synctest.Wait()

				for i, hash := range want {
					if !h.st.Has(hash) {
						t.Errorf("hinted block %d (%v) was not downloaded", i, hash)
					}
				}
				if _, height, _ := h.st.Tip(); height != top {
					t.Errorf("tip at height %d, want %d", height, top)
				}
				if pens := p.penalties(); len(pens) != 0 {
					t.Errorf("peer penalized: %v", pens)
				}
			})
		})
	}
}

// TestOrphanHintRetry: a hint the asked peer does not know (it answers with
// no headers) is tried at the other peers, one round of every peer after
// another, orphanRoundWait apart, and dropped after orphanRounds rounds if
// no peer ever knows it. A dropped hint does not hold up the next one.
func TestOrphanHintRetry(t *testing.T) {
	cases := []struct {
		name      string
		peers     int
		ignorant  int  // GET_HEADERS for the hint answered with nothing, in all; -1 is all of them
		wantBlock bool // the hinted block is downloaded
		wantAsks  int  // GET_HEADERS for the hint
	}{
		{name: "other peer knows", peers: 2, ignorant: 1, wantBlock: true, wantAsks: 2},
		{name: "third peer knows", peers: 3, ignorant: 2, wantBlock: true, wantAsks: 3},
		{name: "known by the next round", peers: 2, ignorant: 2, wantBlock: true, wantAsks: 3},
		{name: "known by the last round", peers: 2, ignorant: 2 * (orphanRounds - 1), wantBlock: true, wantAsks: 2*(orphanRounds-1) + 1},
		{name: "one peer never knows", peers: 1, ignorant: -1, wantAsks: orphanRounds},
		{name: "no peer ever knows", peers: 3, ignorant: -1, wantAsks: 3 * orphanRounds},
	}
	sourceStore(t) // outside the bubble: the source is shared by all tests
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarnessFor(t, nil, bubbleLimit)
				hint := sourceHash(t, 30)
				var log askLog
				var empties atomic.Int64
				var ps []*fakePeer
				for i := range tc.peers {
					ps = append(ps, h.peer(behaviour{version: behind(h), headers: func(m *wire.GetHeaders) *wire.Headers {
						if !log.add(i, m.Hash) {
							return nil
						}
						if m.Hash == hint && (tc.ignorant < 0 || empties.Add(1) <= int64(tc.ignorant)) {
							return &wire.Headers{} // does not know the block (yet)
						}
						return &wire.Headers{Headers: sourceStore(t).Headers(m.Hash, int(m.Max))}
					}}))
				}
				synctest.Wait()
				start := time.Now()
				h.s.Orphan(hint)
				time.Sleep(settle)
				synctest.Wait()

				asks := log.of(hint)
				if len(asks) != tc.wantAsks {
					t.Fatalf("%d GET_HEADERS for the hint, want %d: %v", len(asks), tc.wantAsks, asksString(asks))
				}
				if got := h.st.Has(hint); got != tc.wantBlock {
					t.Fatalf("hinted block downloaded: %v, want %v", got, tc.wantBlock)
				}
				// The asks form rounds: within one the peers are asked
				// back to back, each at most once; the next round starts
				// orphanRoundWait (and at most a tick or two) later.
				round := map[int]bool{}
				for i, a := range asks {
					if i > 0 {
						gap := a.at.Sub(asks[i-1].at)
						switch {
						case gap == 0:
						case gap >= orphanRoundWait && gap <= orphanRoundWait+100*time.Millisecond:
							if len(round) != tc.peers {
								t.Fatalf("ask %d: a new round after %d of %d peers: %v", i, len(round), tc.peers, asksString(asks))
							}
							clear(round)
						default:
							t.Fatalf("ask %d: %v after the one before, want 0 or about %v", i, gap, orphanRoundWait)
						}
					}
					if round[a.peer] {
						t.Fatalf("ask %d: peer %d asked twice in one round: %v", i, a.peer, asksString(asks))
					}
					round[a.peer] = true
				}
				if !tc.wantBlock {
					// Dropped, and not asked again however long we wait.
					if el := asks[len(asks)-1].at.Sub(start); el > orphanRounds*orphanRoundWait {
						t.Errorf("last ask %v after the hint, want within %v", el, orphanRounds*orphanRoundWait)
					}
					time.Sleep(settle)
					synctest.Wait()
					if n := len(log.of(hint)); n != len(asks) {
						t.Fatalf("asked %d more times after the last round", n-len(asks))
					}
				}
				// The next hint is followed and downloaded.
				next := sourceHash(t, 50)
				h.s.Orphan(next)
				time.Sleep(settle)
				synctest.Wait()
				if !h.st.Has(next) {
					t.Fatal("the hint after it was not downloaded")
				}
				for i, p := range ps {
					if pens := p.penalties(); len(pens) != 0 {
						t.Errorf("peer %d penalized: %v", i, pens)
					}
				}
			})
		})
	}
}

// TestOrphanHintQueueBound: hints that arrive while one is being followed
// wait in a queue of at most maxOrphans, which drops the oldest; the newest
// is followed first. The hints are of blocks no peer has, so every queued
// hint is asked for in turn (and dropped after its rounds) and the order of
// the asks is the order of the queue.
func TestOrphanHintQueueBound(t *testing.T) {
	cases := []struct {
		name string
		n    int // hints sent while the first is followed
	}{
		{name: "a few", n: 3},
		{name: "as many as the bound", n: maxOrphans},
		{name: "more than the bound", n: maxOrphans + 4},
		{name: "twice the bound", n: 2 * maxOrphans},
	}
	sourceStore(t) // outside the bubble: the source is shared by all tests
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarnessFor(t, nil, bubbleLimit)
				g := newGate(t, sourceHash(t, 10))
				var log askLog
				h.peer(behaviour{version: behind(h), headers: func(m *wire.GetHeaders) *wire.Headers {
					g.hold(m)
					if !log.add(0, m.Hash) {
						return nil
					}
					return &wire.Headers{Headers: sourceStore(t).Headers(m.Hash, int(m.Max))}
				}})
				h.s.Orphan(g.hash)
				<-g.asked
				var hints []chainhash.Hash
				for i := range tc.n {
					hints = append(hints, madeUp(i))
					h.s.Orphan(hints[i])
				}
				synctest.Wait()
				g.Open()
				// Each hint takes orphanRounds rounds to be dropped.
				time.Sleep(time.Duration(tc.n*orphanRounds)*orphanRoundWait + settle)
				synctest.Wait()

				// The newest maxOrphans hints, newest first.
				var want []chainhash.Hash
				for i := tc.n - 1; i >= max(0, tc.n-maxOrphans); i-- {
					want = append(want, hints[i])
				}
				got := log.firsts()
				if len(got) == 0 || got[0] != g.hash {
					t.Fatalf("first GET_HEADERS %v, want the held hint %v", got, g.hash)
				}
				got = got[1:]
				if len(got) != len(want) {
					t.Fatalf("%d hints followed, want %d", len(got), len(want))
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("hint %d followed was %v, want %v (hints sent: %v)", i, got[i], want[i], hints)
					}
				}
				if !h.st.Has(g.hash) {
					t.Error("the held hint's block was not downloaded")
				}
			})
		})
	}
}
