package job

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/blockgen"
	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chaincfg/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// link is one direction between two engines: a fixed delay, a rate and
// seeded random loss, in virtual time.
type link struct {
	delay time.Duration
	rate  float64 // bytes/s
	loss  float64
	mu    sync.Mutex
	rng   *rand.Rand
	free  time.Time // when the wire is next free
}

// fakePeer is engine A's view of engine B across a link. Messages are
// encoded and decoded, so the engines share no memory.
type fakePeer struct {
	id      PeerID
	from    PeerID // the id B knows A by
	to      *Engine
	out     *link
	penalty map[string]int
	short   bool
	mu      sync.Mutex
}

func (p *fakePeer) ID() PeerID     { return p.id }
func (p *fakePeer) String() string { return fmt.Sprintf("fake%d", p.id) }

func (p *fakePeer) send(m wire.Message) int {
	payload := m.Append(nil)
	size := len(payload) + wire.DatagramHeaderSize
	dec, err := wire.DecodeMessage(udpOrTCP(m.Type()), payload)
	if err != nil {
		panic(err)
	}
	l := p.out
	l.mu.Lock()
	now := time.Now()
	start := now
	if l.free.After(now) {
		start = l.free
	}
	l.free = start.Add(time.Duration(float64(size) / l.rate * float64(time.Second)))
	lost := l.rng.Float64() < l.loss
	arrive := l.free.Add(l.delay)
	l.mu.Unlock()
	if !lost {
		time.AfterFunc(arrive.Sub(now), func() { p.to.Deliver(p.from, dec, size) })
	}
	return size
}

func udpOrTCP(t wire.MsgType) wire.MsgType {
	if u, ok := t.UDPType(); ok {
		return u
	}
	return t
}

func (p *fakePeer) SendUDP(m wire.Message) (int, error) { return p.send(m), nil }
func (p *fakePeer) SendTCP(m wire.Message) error {
	// The control stream does not lose data: deliver after the delay.
	payload := m.Append(nil)
	dec, err := wire.DecodeMessage(m.Type(), payload)
	if err != nil {
		return err
	}
	time.AfterFunc(p.out.delay, func() { p.to.Deliver(p.from, dec, len(payload)) })
	return nil
}
func (p *fakePeer) Params() wire.SetParams {
	s := wire.DefaultSetParams()
	s.MaxUnsolicited = wire.NoLimit
	return s
}
func (p *fakePeer) RTT() time.Duration { return 2 * p.out.delay }
func (p *fakePeer) PaceRate() float64  { return p.out.rate * 0.95 }
func (p *fakePeer) MaxDatagram() int   { return wire.DefaultDatagramSize }
func (p *fakePeer) ShortHashes() bool  { return p.short }
func (p *fakePeer) Penalize(reason string, points int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.penalty[reason] += points
}

// connect joins engines a and b (ids ia, ib) with links of the given shape.
func connect(a, b *Engine, ia, ib PeerID, delay time.Duration, rate, loss float64, seed uint64) (*fakePeer, *fakePeer) {
	ab := &link{delay: delay, rate: rate, loss: loss, rng: rand.New(rand.NewPCG(seed, 1))}
	ba := &link{delay: delay, rate: rate, loss: loss, rng: rand.New(rand.NewPCG(seed, 2))}
	pb := &fakePeer{id: ib, from: ia, to: b, out: ab, penalty: map[string]int{}}
	pa := &fakePeer{id: ia, from: ib, to: a, out: ba, penalty: map[string]int{}}
	a.AddPeer(pb)
	b.AddPeer(pa)
	return pb, pa
}

func newEngine(got chan<- *btcwire.MsgBlock) *Engine {
	local := wire.DefaultSetParams()
	local.MaxUnsolicited = wire.NoLimit
	return New(Config{
		PowLimit: chaincfg.RegressionNetParams.PowLimit, Local: local, Push: true,
		Log:     slog.New(slog.DiscardHandler),
		OnBlock: func(b *btcwire.MsgBlock) { got <- b },
	})
}

// TestRelayVirtualTime relays a block along a line of engines in virtual
// time and checks the exact block arrives everywhere, that the relays
// forwarded before completing, and that virtual arrival times respect the
// physics (never earlier than the delay plus transmission).
func TestRelayVirtualTime(t *testing.T) {
	tests := []struct {
		name string
		hops int
		loss float64
		txs  int
	}{
		{"one hop", 1, 0, 300},
		{"three hops", 3, 0, 1000},
		{"three hops 5% loss", 3, 0.05, 1000},
		{"tiny block", 2, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				blk, err := blockgen.Block(blockgen.Config{Txs: tt.txs, Seed: 3, Prev: *chaincfg.RegressionNetParams.GenesisHash, Height: 1})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				const delay, rate = 10 * time.Millisecond, 50e6 / 8
				got := make(chan *btcwire.MsgBlock, tt.hops+1)
				engines := make([]*Engine, tt.hops+1)
				for i := range engines {
					engines[i] = newEngine(got)
					go engines[i].Run(ctx)
				}
				var peers []*fakePeer
				for i := 0; i < tt.hops; i++ {
					p, q := connect(engines[i], engines[i+1], PeerID(100+i), PeerID(200+i), delay, rate, tt.loss, uint64(i))
					peers = append(peers, p, q)
				}
				start := time.Now()
				if err := engines[0].Submit(blk); err != nil {
					t.Fatal(err)
				}
				waitBlocks(t, got, tt.hops, blk)
				elapsed := time.Since(start)
				floor := time.Duration(tt.hops)*delay + time.Duration(float64(blk.SerializeSize())/rate*float64(time.Second))
				if elapsed < floor {
					t.Fatalf("arrived after %v, faster than physics (%v)", elapsed, floor)
				}
				t.Logf("virtual time %v, limit %v (%.2f×)", elapsed, floor, float64(elapsed)/float64(floor))
				// A block that fits one datagram has nothing to forward
				// early; larger ones must be cut through.
				for i := 1; i < tt.hops && tt.txs > 100; i++ {
					st, err := engines[i].Status(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if st[0].ForwardedEarlyBy == 0 {
						t.Errorf("engine %d forwarded nothing before completing", i)
					}
				}
				for _, p := range peers {
					if len(p.penalty) != 0 {
						t.Errorf("honest peer penalised: %v", p.penalty)
					}
				}
				cancel()
			})
		})
	}
}

// waitBlocks waits (in virtual time) for n blocks from got and checks each
// is byte-identical to want.
func waitBlocks(t *testing.T, got <-chan *btcwire.MsgBlock, n int, want *btcwire.MsgBlock) {
	t.Helper()
	var w bytes.Buffer
	want.Serialize(&w)
	for range n {
		select {
		case b := <-got:
			var buf bytes.Buffer
			b.Serialize(&buf)
			if !bytes.Equal(buf.Bytes(), w.Bytes()) {
				t.Fatal("a different block arrived")
			}
		case <-time.After(time.Minute):
			t.Fatal("the block did not reach every engine")
		}
	}
}
