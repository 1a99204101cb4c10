package job

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/blockgen"
	"github.com/blocktorrent/blocktorrent/internal/merkle"
	"github.com/blocktorrent/blocktorrent/internal/pow"
	"github.com/blocktorrent/blocktorrent/internal/treestate"
	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// attacker is an engine's view of its victim that misbehaves: rewrite may
// change or drop (nil) each message on its way out, and every message is
// held for delay before it enters the link. Messages are copied (encoded
// and decoded) first, so rewriting never touches the engine's state.
type attacker struct {
	*fakePeer
	delay   time.Duration
	rewrite func(wire.Message) wire.Message
}

func (a *attacker) SendUDP(m wire.Message) (int, error) {
	size := len(m.Append(nil)) + wire.DatagramHeaderSize
	if c := a.copyOf(m, udpOrTCP(m.Type())); c != nil {
		a.later(func() { a.fakePeer.send(c) })
	}
	return size, nil
}

func (a *attacker) SendTCP(m wire.Message) error {
	if c := a.copyOf(m, m.Type()); c != nil {
		a.later(func() { _ = a.fakePeer.SendTCP(c) })
	}
	return nil
}

// copyOf returns a rewritten copy of m, or nil when it is dropped.
func (a *attacker) copyOf(m wire.Message, t wire.MsgType) wire.Message {
	c, err := wire.DecodeMessage(t, m.Append(nil))
	if err != nil {
		panic(err)
	}
	if a.rewrite != nil {
		return a.rewrite(c)
	}
	return c
}

func (a *attacker) later(f func()) {
	if a.delay == 0 {
		f()
		return
	}
	time.AfterFunc(a.delay, f)
}

// dropData drops every NODES and TXS: the attacker announces (OPEN_JOB,
// JOB_STATE) and acknowledges, but delivers nothing.
func dropData(m wire.Message) wire.Message {
	switch m.(type) {
	case *wire.Nodes, *wire.Txs:
		return nil
	}
	return m
}

// mutate makes the first two hashes of every full-hash run in a NODES equal:
// two real siblings with equal hashes (CVE-2012-2459).
func mutate(m wire.Message) wire.Message {
	if n, ok := m.(*wire.Nodes); ok {
		for i := range n.Runs.Runs {
			seq := &n.Runs.Runs[i].Seq
			if seq.DefaultSize == 32 && len(seq.Exceptions) == 0 && seq.Count >= 2 && n.Runs.Runs[i].Start%2 == 0 {
				copy(seq.Data[32:64], seq.Data[:32])
			}
		}
	}
	return m
}

// falseTails flips a byte of every TXS fragment that does not start a
// body: the attacker's large bodies reassemble wrong, and if the victim
// mixed its fragments with the honest source's, the honest source's last
// fragment would complete a false body.
func falseTails(m wire.Message) wire.Message {
	if t, ok := m.(*wire.Txs); ok {
		for i := range t.Fragments {
			if f := &t.Fragments[i]; f.Offset > 0 {
				f.Data[0] ^= 0xff
			}
		}
	}
	return m
}

// closeRecorder is a peer that counts the CLOSE_JOBs sent to it.
type closeRecorder struct {
	*fakePeer
	mu     sync.Mutex
	closes map[wire.CloseReason]int
}

func (r *closeRecorder) SendTCP(m wire.Message) error {
	if cj, ok := m.(*wire.CloseJob); ok {
		r.mu.Lock()
		r.closes[cj.Reason]++
		r.mu.Unlock()
	}
	return r.fakePeer.SendTCP(m)
}

func (r *closeRecorder) count(reason wire.CloseReason) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closes[reason]
}

// openJobFor returns the OPEN_JOB a holder of blk sends.
func openJobFor(t *testing.T, blk *btcwire.MsgBlock) *wire.OpenJob {
	t.Helper()
	shape, err := merkle.NewShape(uint32(len(blk.Transactions)))
	if err != nil {
		t.Fatal(err)
	}
	st := treestate.New(shape, blk.Header.MerkleRoot)
	leaves := make([]merkle.Node, len(blk.Transactions))
	for i, tx := range blk.Transactions {
		leaves[i] = merkle.Node{Pos: shape.Leaf(uint32(i)), Hash: tx.TxHash()}
	}
	if _, err := st.AddNodes(leaves); err != nil {
		t.Fatal(err)
	}
	lap, err := wire.BuildRootLap(shape, func(p merkle.Pos) chainhash.Hash {
		h, _ := st.Verified(p)
		return h
	})
	if err != nil {
		t.Fatal(err)
	}
	return &wire.OpenJob{Header: blk.Header, TxCount: shape.Leaves(), Flags: wire.OpenJobHasBodies, Lap: lap}
}

// bogusBlocks returns n small blocks with valid regtest proof of work that
// nobody will ever deliver.
func bogusBlocks(t *testing.T, n int, seed uint64) []*btcwire.MsgBlock {
	t.Helper()
	out := make([]*btcwire.MsgBlock, n)
	for i := range out {
		blk, err := blockgen.Block(blockgen.Config{Txs: 5, Seed: seed + uint64(i), Prev: *chaincfg.RegressionNetParams.GenesisHash, Height: 1})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = blk
	}
	return out
}

// counter reads a counter of the engine's metrics from reg.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// adversaryNet is a victim fed by an honest source and by an attacker, in
// virtual time.
type adversaryNet struct {
	victim, source, bad *Engine
	reg                 *prometheus.Registry // the victim's metrics
	got                 chan *btcwire.MsgBlock
	sourceAtVictim      *fakePeer // the victim's view of the source (its penalties)
	badAtVictim         *fakePeer // the victim's view of the attacker
	closedBad           *closeRecorder
	victimAtSource      *fakePeer // the source's view of the victim
	out                 *attacker // what the attacker sends the victim
}

// tooEasyBits is a regtest difficulty the victim's CheckHeader rejects.
const tooEasyBits = 0x207ffffe

// Peer ids: the victim knows the source as 1 and the attacker as 2.
const (
	sourceID   PeerID = 1
	attackerID PeerID = 2
)

// newAdversaryNet starts the three engines. push sets whether the source
// and the attacker push; the victim always accepts pushes.
func newAdversaryNet(ctx context.Context, push bool, sourceRate float64, out *attacker) *adversaryNet {
	n := &adversaryNet{reg: prometheus.NewRegistry(), got: make(chan *btcwire.MsgBlock, 4), out: out}
	engine := func(push bool, got chan *btcwire.MsgBlock, m *Metrics) *Engine {
		local := wire.DefaultSetParams()
		local.MaxUnsolicited = wire.NoLimit
		var check func(*btcwire.BlockHeader) error
		if got != nil {
			// The victim's chain rule (the node's pow.CheckContext) in
			// miniature: one marked difficulty is too easy.
			check = func(h *btcwire.BlockHeader) error {
				if h.Bits == tooEasyBits {
					return pow.ErrTooEasy
				}
				return nil
			}
		}
		e := New(Config{
			PowLimit: chaincfg.RegressionNetParams.PowLimit, Local: local, Push: push,
			CheckHeader: check,
			Log:         slog.New(slog.DiscardHandler), Metrics: m,
			OnBlock: func(b *btcwire.MsgBlock) {
				if got != nil {
					got <- b
				}
			},
		})
		go e.Run(ctx)
		return e
	}
	n.victim = engine(true, n.got, NewMetrics(n.reg))
	n.source = engine(push, nil, nil)
	n.bad = engine(push, nil, nil)
	const delay = 10 * time.Millisecond
	n.sourceAtVictim, n.victimAtSource = connect(n.victim, n.source, 10, sourceID, delay, sourceRate, 0, 1)
	// The attacker's link is fast, so the victim likes to ask it.
	toBad := &link{delay: delay, rate: 50e6 / 8, rng: rand.New(rand.NewPCG(2, 1))}
	fromBad := &link{delay: delay, rate: 50e6 / 8, rng: rand.New(rand.NewPCG(2, 2))}
	n.badAtVictim = &fakePeer{id: attackerID, from: 20, to: n.bad, out: toBad, penalty: map[string]int{}}
	out.fakePeer = &fakePeer{id: 20, from: attackerID, to: n.victim, out: fromBad, penalty: map[string]int{}}
	n.closedBad = &closeRecorder{fakePeer: n.badAtVictim, closes: map[wire.CloseReason]int{}}
	n.victim.AddPeer(n.closedBad)
	n.bad.AddPeer(out)
	return n
}

// inject sends m from the attacker to the victim as a datagram.
func (n *adversaryNet) inject(m wire.Message) { n.out.fakePeer.send(m) }

// TestAdversary runs one attack per case against a victim that an honest
// source also serves: the victim must end with the exact block, the
// attacker must be scored, and no honest party may be.
func TestAdversary(t *testing.T) {
	tests := []struct {
		name       string
		txs        int
		avg        int     // mean transaction size (0: blockgen's mix)
		push       bool    // the source and the attacker push
		sourceRate float64 // bytes/s
		attacker   attacker
		holds      bool // the attacker holds the block and opens the job
		before     func(t *testing.T, n *adversaryNet)
		after      func(t *testing.T, n *adversaryNet, blk *btcwire.MsgBlock)
		reason     string
	}{
		{
			// Announces the whole block, acknowledges every JOB_STATE, and
			// answers no request. Nobody pushes, so the victim must ask,
			// and the attacker's fast link makes it look the better holder.
			name: "announces and never sends", txs: 2000, sourceRate: 5e6 / 8,
			attacker: attacker{rewrite: dropData}, holds: true, reason: ReasonStall,
		},
		{
			// Sends everything, correctly, two seconds late.
			name: "slow forever", txs: 2000, sourceRate: 1e6 / 8,
			attacker: attacker{delay: 2 * time.Second}, holds: true, reason: ReasonStall,
		},
		{
			// Five times the limit of OPEN_JOBs with valid proof of work
			// for blocks that never come.
			name: "job flood", txs: 300, push: true, sourceRate: 50e6 / 8,
			before: func(t *testing.T, n *adversaryNet) {
				for _, b := range bogusBlocks(t, 5*8, 100) {
					n.inject(openJobFor(t, b))
				}
				time.Sleep(50 * time.Millisecond)
			},
			after:  checkFlood,
			reason: ReasonProtocol,
		},
		{
			// Every group it pushes or serves pairs two equal siblings.
			name: "mutated nodes", txs: 1000, push: true, sourceRate: 5e6 / 8,
			attacker: attacker{rewrite: mutate}, holds: true, reason: ReasonMutated,
		},
		{
			// Large bodies (about 5 KB each, several fragments) whose
			// non-first fragments it falsifies; the honest source sends
			// the same bodies correctly at the same time.
			name: "false fragments", txs: 300, avg: 5000, push: true, sourceRate: 20e6 / 8,
			attacker: attacker{rewrite: falseTails}, holds: true, reason: ReasonInvalidBody,
		},
		{
			name: "bad proof of work", txs: 300, push: true, sourceRate: 50e6 / 8,
			before: func(t *testing.T, n *adversaryNet) {
				m := openJobFor(t, bogusBlocks(t, 1, 7)[0])
				limit := chaincfg.RegressionNetParams.PowLimit
				for pow.Check(&m.Header, limit) == nil {
					m.Header.Nonce++
				}
				n.inject(m)
			},
			reason: ReasonBadPoW,
		},
		{
			// Valid proof of work, but easier than the victim's chain
			// allows (a minimum-difficulty header on mainnet).
			name: "header too easy for the chain", txs: 300, push: true, sourceRate: 50e6 / 8,
			before: func(t *testing.T, n *adversaryNet) {
				m := openJobFor(t, bogusBlocks(t, 1, 8)[0])
				m.Header.Bits = tooEasyBits
				if err := blockgen.Solve(&m.Header); err != nil {
					t.Fatal(err)
				}
				// Only CheckHeader may reject it: the proof of work holds.
				if err := pow.Check(&m.Header, chaincfg.RegressionNetParams.PowLimit); err != nil {
					t.Fatal(err)
				}
				n.inject(m)
			},
			reason: ReasonBadPoW,
		},
		{
			name: "requests outside the tree", txs: 300, push: true, sourceRate: 50e6 / 8,
			after: func(t *testing.T, n *adversaryNet, blk *btcwire.MsgBlock) {
				id := wire.JobIDOf(blk.BlockHash())
				shape, _ := merkle.NewShape(uint32(len(blk.Transactions)))
				past := shape.Leaves()
				n.inject(&wire.GetNodes{JobID: id, ReqID: 1, LeafHashSize: 32,
					Want: wire.Workout{Runs: []wire.Run{wire.HashlessFlat(shape.Depth(), past, 4)}}})
				n.inject(&wire.GetTxs{JobID: id, ReqID: 2,
					Leaves: wire.Workout{Runs: []wire.Run{wire.HashlessFlat(shape.Depth(), past-1, 2)}}})
				time.Sleep(time.Second)
				if got := n.badAtVictim.penalties()[ReasonProtocol]; got != 2*penalty(ReasonProtocol) {
					t.Errorf("protocol penalty %d, want %d (one per request)", got, 2*penalty(ReasonProtocol))
				}
			},
			reason: ReasonProtocol,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				blk, err := blockgen.Block(blockgen.Config{Txs: tt.txs, AvgTxBytes: tt.avg, Seed: 11, Prev: *chaincfg.RegressionNetParams.GenesisHash, Height: 1})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				att := tt.attacker
				n := newAdversaryNet(ctx, tt.push, tt.sourceRate, &att)
				if tt.before != nil {
					tt.before(t, n)
				}
				if tt.holds {
					if err := n.bad.Submit(blk); err != nil {
						t.Fatal(err)
					}
				}
				if err := n.source.Submit(blk); err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				waitBlocks(t, n.got, 1, blk)
				t.Logf("block of %d txs complete after %v", tt.txs, time.Since(start))
				if tt.after != nil {
					tt.after(t, n, blk)
				}
				synctest.Wait()
				bad := n.badAtVictim.penalties()
				if bad[tt.reason] == 0 {
					t.Errorf("attacker not scored %q: %v", tt.reason, bad)
				}
				t.Logf("attacker scored %v", bad)
				if s, v := n.sourceAtVictim.penalties(), n.victimAtSource.penalties(); len(s) != 0 || len(v) != 0 {
					t.Errorf("honest peer penalised: source %v, victim %v", s, v)
				}
				cancel()
			})
		})
	}
}

// checkFlood checks, after the flood case's block arrived, that the
// attacker's jobs were capped, that they expire, and that the expired ones
// are not reopened at once.
func checkFlood(t *testing.T, n *adversaryNet, blk *btcwire.MsgBlock) {
	ctx := context.Background()
	limit := int(wire.DefaultSetParams().MaxJobs)
	open := func() int {
		st, err := n.victim.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		for _, s := range st {
			if s.State == "open" {
				k++
			}
		}
		return k
	}
	if k := open(); k != limit {
		t.Errorf("%d attacker jobs open, want the limit %d", k, limit)
	}
	if got, want := counter(t, n.reg, "blocktorrent_jobs_ignored_total"), float64(5*limit-limit); got != want {
		t.Errorf("%v OPEN_JOBs ignored, want %v", got, want)
	}
	time.Sleep(31 * time.Second)
	if k := open(); k != 0 {
		t.Errorf("%d jobs still open after the job timeout", k)
	}
	if got := counter(t, n.reg, "blocktorrent_jobs_expired_total"); got != float64(limit) {
		t.Errorf("%v jobs expired, want %d", got, limit)
	}
	if got := n.closedBad.count(wire.CloseAbandoned); got != limit {
		t.Errorf("%d CLOSE_JOB abandoned sent to the attacker, want %d", got, limit)
	}
	// Reopening the abandoned blocks at once is ignored.
	for _, b := range bogusBlocks(t, limit, 100) {
		n.inject(openJobFor(t, b))
	}
	time.Sleep(time.Second)
	if k := open(); k != 0 {
		t.Errorf("%d abandoned jobs reopened at once", k)
	}
	if blk, err := n.victim.Block(ctx, blk.BlockHash()); err != nil || blk == nil {
		t.Errorf("the honest block is gone after the flood: %v", err)
	}
}

// TestOpenJobLimits checks the per-peer and global caps on incomplete jobs
// opened by peers, and that only a flood well past a peer's share is
// scored.
func TestOpenJobLimits(t *testing.T) {
	tests := []struct {
		name      string
		peers     int
		each      int // OPEN_JOBs per peer
		wantOpen  int
		penalised int // peers scored `protocol`
	}{
		{"within the limit", 2, 8, 16, 0},
		{"one peer twice its share", 1, 16, 8, 0},
		{"one peer flooding", 1, 40, 8, 1},
		{"global cap", 9, 8, 64, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				got := make(chan *btcwire.MsgBlock, 1)
				victim := newEngine(got)
				go victim.Run(ctx)
				blocks := bogusBlocks(t, tt.peers*tt.each, 1000)
				var views, peers []*fakePeer
				for i := range tt.peers {
					other := newEngine(make(chan *btcwire.MsgBlock, 1))
					go other.Run(ctx)
					v, p := connect(victim, other, PeerID(100+i), PeerID(200+i), time.Millisecond, 50e6/8, 0, uint64(i))
					views, peers = append(views, v), append(peers, p)
				}
				synctest.Wait()
				for i, p := range peers {
					for _, b := range blocks[i*tt.each : (i+1)*tt.each] {
						_ = p.SendTCP(openJobFor(t, b))
					}
				}
				time.Sleep(100 * time.Millisecond)
				st, err := victim.Status(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(st) != tt.wantOpen {
					t.Errorf("%d jobs open, want %d", len(st), tt.wantOpen)
				}
				synctest.Wait()
				scored := 0
				for i, v := range views {
					if v.penalties()[ReasonProtocol] > 0 {
						scored++
					}
					// The victim relays the jobs it opened to the other
					// peers, never past their share.
					if pen := peers[i].penalties(); len(pen) != 0 {
						t.Errorf("victim penalised by an honest peer: %v", pen)
					}
				}
				if scored != tt.penalised {
					t.Errorf("%d peers scored, want %d", scored, tt.penalised)
				}
				cancel()
			})
		})
	}
}

// penalties returns a copy of the points the engine gave the peer.
func (p *fakePeer) penalties() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.penalty))
	for k, v := range p.penalty {
		out[k] = v
	}
	return out
}
