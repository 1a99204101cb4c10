package node_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/lab"
	"github.com/blocktorrent/blocktorrent/internal/linkemu"
	"github.com/blocktorrent/blocktorrent/internal/node"
	"github.com/blocktorrent/blocktorrent/internal/transport"
	"github.com/blocktorrent/blocktorrent/internal/wire"
)

// TestFloodOnePeer has a peer with a real session (node 2) flood the victim
// (node 1) with valid datagrams, its real token and fresh SEQs, as fast as
// it can, while an honest source (node 0) relays a block to the victim.
// The victim's per-peer limit cuts the flood before it reaches the global
// budget, so the honest source is unaffected: the victim must end with the
// exact block, count the flood as rate-limited, never hit its global
// limit, and not ban the honest source.
func TestFloodOnePeer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	const honest, victim, flooder, subnet = 0, 1, 2, 70
	// Limits lower than the defaults so a test flood surely exceeds the
	// per-peer one; the honest link (50 Mbit/s, about 5,200 datagrams/s
	// of 1,200 bytes) stays under it.
	limits := transport.Limits{
		Peer:   transport.Rate{Datagrams: 8000, Bytes: 8000 * 1500},
		Global: transport.Rate{Datagrams: 40000, Bytes: 40000 * 1500},
		Burst:  time.Second,
	}
	p := linkemu.Profile{Delay: 5 * time.Millisecond, RateBps: 50e6}
	links := []lab.Link{{A: honest, B: victim, Profile: p}, {A: victim, B: flooder, Profile: p}}
	var rec *lab.Recorder
	nw, err := lab.Start(ctx, 3, links, lab.Options{
		Subnet: subnet,
		Configure: func(i int, cfg *node.Config) {
			switch i {
			case victim:
				cfg.InboundLimits = &limits
			case flooder:
				// No emulated link: the flood goes straight to the socket.
				cfg.Link = nil
				cfg.WrapPacketConn = func(pc net.PacketConn) net.PacketConn {
					rec = lab.NewRecorder(pc)
					return rec
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer nw.Close()
	to, err := netip.ParseAddrPort(nw.Nodes[victim].Addr())
	if err != nil {
		t.Fatal(err)
	}
	// The flooder's latest datagram to the victim carries the token the
	// victim expects from it.
	last, ok := rec.Last(to)
	if !ok {
		t.Fatal("the flooder has sent the victim no datagram")
	}
	h, _, err := wire.ParseDatagram(last)
	if err != nil {
		t.Fatal(err)
	}
	before, err := nw.Nodes[victim].Status(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// The flood: valid PINGs with increasing SEQ, bounded in count and
	// time, until the block has arrived.
	const maxFlood, maxFloodTime = 300_000, 3 * time.Second
	stop := make(chan struct{})
	floodDone := make(chan int)
	go func() {
		sent := 0
		end := time.Now().Add(maxFloodTime)
		buf := make([]byte, 0, 64)
		for i := range maxFlood {
			if i%1024 == 0 {
				select {
				case <-stop:
					floodDone <- sent
					return
				default:
				}
				if time.Now().After(end) {
					break
				}
			}
			fh := wire.DatagramHeader{Type: wire.TypePing, Token: h.Token, Seq: h.Seq + 1 + uint32(i)}
			buf = wire.AppendDatagram(buf[:0], fh, &wire.Ping{Nonce: uint64(i)})
			if rec.Inject(buf, to) == nil {
				sent++
			}
		}
		floodDone <- sent
	}()

	// The block leaves once the victim is dropping the flood.
	var st node.Status
	for deadline := time.Now().Add(maxFloodTime); ; {
		if st, err = nw.Nodes[victim].Status(ctx); err != nil {
			t.Fatal(err)
		}
		if st.UDP.RateLimited > before.UDP.RateLimited || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	blk := attackBlock(t, 1000, 70)
	if err := nw.Nodes[honest].Submit(ctx, blk); err != nil {
		t.Fatal(err)
	}
	_, werr := nw.WaitBlock(ctx, blk.BlockHash(), 60*time.Second)
	close(stop)
	sent := <-floodDone
	if st, err = nw.Nodes[victim].Status(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("flood of %d datagrams; victim UDP drops: before %+v, after %+v", sent, before.UDP, st.UDP)
	if werr != nil {
		dumpStatus(ctx, t, "victim", nw.Nodes[victim])
		t.Fatal(werr)
	}
	checkExactBlock(ctx, t, nw, victim, blk)
	if st.UDP.RateLimited == before.UDP.RateLimited {
		t.Errorf("the victim counted no rate-limited datagram: before %+v, after %+v", before.UDP, st.UDP)
	}
	if st.UDP.GlobalLimited != before.UDP.GlobalLimited {
		t.Errorf("the flood reached the global limit (%d datagrams): the per-peer limit should cut it first",
			st.UDP.GlobalLimited-before.UDP.GlobalLimited)
	}
	srcIP := lab.IP(subnet, honest)
	ps, ok := findPeer(t, st, srcIP)
	switch {
	case !ok:
		t.Errorf("the honest source (%v) is no longer connected to the victim", srcIP)
	default:
		for reason := range ps.Penalties {
			if reason != "stall" {
				t.Errorf("the victim penalised the honest source for %s: score %d %v", reason, ps.Score, ps.Penalties)
			}
		}
		if ps.Score != 0 {
			// The flood can overrun the victim's kernel receive buffer
			// when its reader falls behind (a loaded machine, the race
			// detector): the honest source's datagrams are then lost
			// before any rate limit sees them, and requests to it may
			// time out. That costs a few stall points (which decay), never
			// a ban.
			t.Logf("the honest source lost datagrams to the flood in the kernel: score %d %v", ps.Score, ps.Penalties)
		}
	}
	if b, ok := findBan(st, srcIP); ok {
		t.Errorf("the honest source is banned: %+v", b)
	}
}
