package node_test

import (
	"context"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/lab"
	"github.com/blocktorrent/blocktorrent/internal/node"
	"github.com/blocktorrent/blocktorrent/internal/session"
	"github.com/blocktorrent/blocktorrent/internal/store"
	"github.com/blocktorrent/blocktorrent/internal/transport"
	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// The chain a node serves to peers that download it: its answers to
// GET_HEADERS, GET_BLOCK_HASHES and GET_BLOCKS, and a peer that serves a
// chain whose first header fails its proof of work.

// fakeServer is a peer built on a real session that announces a made-up
// block on top of the real chain and serves headers from src with that
// block's header first (its proof of work fails).
type fakeServer struct {
	src  *store.Store
	fake btcwire.BlockHeader
}

func (f *fakeServer) OnMessage(s *session.Session, m wire.Message, _ int) {
	if m, ok := m.(*wire.GetHeaders); ok {
		hs := []btcwire.BlockHeader{f.fake}
		hs = append(hs, f.src.Headers(f.fake.PrevBlock, int(m.Max)-1)...)
		_ = s.SendTCP(&wire.Headers{Headers: hs})
	}
}

func (f *fakeServer) OnBan(*session.Session, string) {}

// startFakeServer listens on ip for one Blocktorrent session at a time.
func startFakeServer(t *testing.T, ctx context.Context, ip netip.Addr, f *fakeServer) string {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	pc, err := net.ListenPacket("udp", netip.AddrPortFrom(ip, uint16(port)).String())
	if err != nil {
		t.Fatal(err)
	}
	sock := transport.New(pc)
	go func() { _ = sock.Serve() }()
	tip, height, td := f.src.Tip()
	f.fake = btcwire.BlockHeader{Version: 1, PrevBlock: tip, Timestamp: time.Unix(1300000000, 0), Bits: 0x1d00ffff}
	fakeHash := f.fake.BlockHash()
	fakeTD := new(big.Int).Add(td, big.NewInt(1<<32))
	local := &session.Local{
		NetworkMagic: uint32(chaincfg.MainNetParams.Net), Genesis: *chaincfg.MainNetParams.GenesisHash,
		Services: wire.ServiceBlocks, Features: wire.FeatureHeaderSync, UDPPort: uint16(port),
		Nonce: session.RandomNonce(), UserAgent: "/fake/", Params: node.DefaultConfig().Params,
		Tip: func() (chainhash.Hash, uint32, *big.Int) { return fakeHash, uint32(height + 1), fakeTD },
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				s, err := session.Open(ctx, c, sock, local, false, f, slog.New(slog.DiscardHandler))
				if err != nil {
					c.Close()
					return
				}
				_ = s.Run(ctx)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); sock.Close() })
	return ln.Addr().String()
}

// TestSyncBadPoWPeerBanned: a peer announcing a made-up block whose header
// fails its proof of work is banned (bad-pow), and the node syncs from an
// honest peer.
func TestSyncBadPoWPeerBanned(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dirs, tip := mainnetStores(t, 2)
	src, err := store.Open(dirs[1], &chaincfg.MainNetParams)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	fakeAddr := startFakeServer(t, ctx, lab.IP(64, 1), &fakeServer{src: src})

	honest := startMainnet(t, ctx, dirs[0], lab.IP(64, 2), nil)
	fresh := startMainnet(t, ctx, filepath.Join(t.TempDir(), "fresh"), lab.IP(64, 3), func(cfg *node.Config) {
		cfg.Peers = []string{fakeAddr, honest.Addr()}
		cfg.RedialInterval = 100 * time.Millisecond
	})
	waitTip(t, ctx, fresh, tip, 50*time.Second)
	for {
		st := mustStatus(t, ctx, fresh)
		for _, b := range st.Bans {
			if b.Addr == lab.IP(64, 1).String() {
				if b.Reason != "bad-pow" {
					t.Fatalf("fake peer banned for %q, want bad-pow", b.Reason)
				}
				return
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("fake peer not banned: %+v", st.Bans)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// collector is a session handler that hands messages to a channel.
type collector chan wire.Message

func (c collector) OnMessage(_ *session.Session, m wire.Message, _ int) {
	select {
	case c <- m:
	default:
	}
}
func (c collector) OnBan(*session.Session, string) {}

// dialSession opens a client session to addr from ip.
func dialSession(t *testing.T, ctx context.Context, ip netip.Addr, addr string, h session.Handler) *session.Session {
	t.Helper()
	pc, err := net.ListenPacket("udp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	sock := transport.New(pc)
	go func() { _ = sock.Serve() }()
	t.Cleanup(func() { sock.Close() })
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: ip.AsSlice()}}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	local := &session.Local{
		NetworkMagic: uint32(chaincfg.MainNetParams.Net), Genesis: *chaincfg.MainNetParams.GenesisHash,
		UDPPort: uint16(pc.LocalAddr().(*net.UDPAddr).Port), Nonce: session.RandomNonce(), UserAgent: "/client/",
		Params: node.DefaultConfig().Params,
	}
	s, err := session.Open(ctx, c, sock, local, true, h, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Run(ctx) }()
	t.Cleanup(s.Close)
	return s
}

// TestServeChain checks the answers to GET_HEADERS, GET_BLOCK_HASHES and
// GET_BLOCKS, and that an over-limit request costs the peer.
func TestServeChain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dirs, tip := mainnetStores(t, 1)
	nd := startMainnet(t, ctx, dirs[0], lab.IP(65, 1), nil)
	got := make(collector, 16)
	s := dialSession(t, ctx, lab.IP(65, 2), nd.Addr(), got)
	if v := s.Version(); v.BestHash != tip || v.BestHeight != mainnetTipHeight || v.Services&wire.ServiceBlocks == 0 {
		t.Fatalf("BTVERSION best %v height %d services %b", v.BestHash, v.BestHeight, v.Services)
	}
	recv := func() wire.Message {
		t.Helper()
		select {
		case m := <-got:
			return m
		case <-ctx.Done():
			t.Fatal("no reply")
		}
		return nil
	}
	st := nd.Store()
	_ = s.SendTCP(&wire.GetHeaders{Hash: tip, Max: wire.MaxHeaders})
	hs := recv().(*wire.Headers).Headers
	if len(hs) != wire.MaxHeaders || hs[0].BlockHash() != tip || hs[1].BlockHash() != hs[0].PrevBlock {
		t.Fatalf("HEADERS: %d headers", len(hs))
	}
	_ = s.SendTCP(&wire.GetBlockHashes{Hash: tip, MaxBlocks: wire.MaxBlockHashes})
	bh := recv().(*wire.BlockHashes).Hashes
	if want, _ := st.HashAtHeight(mainnetTipHeight - 1); len(bh) != wire.MaxBlockHashes || bh[0] != want {
		t.Fatalf("BLOCK_HASHES: %d hashes", len(bh))
	}
	var unknown chainhash.Hash
	unknown[0] = 1
	_ = s.SendTCP(&wire.GetBlocks{Hashes: append(bh[:wire.MaxBlocksPerRequest-1:wire.MaxBlocksPerRequest-1], unknown)})
	blks := recv().(*wire.Blocks).Blocks
	if len(blks) != wire.MaxBlocksPerRequest-1 {
		t.Fatalf("BLOCKS: %d blocks, want %d (the unknown one left out)", len(blks), wire.MaxBlocksPerRequest-1)
	}
	_ = s.SendTCP(&wire.GetHeaders{Hash: unknown, Max: 10})
	if hs := recv().(*wire.Headers).Headers; len(hs) != 0 {
		t.Fatalf("HEADERS for an unknown hash: %d", len(hs))
	}
	// Over the limit: MAX 2,001 is a protocol violation.
	_ = s.SendTCP(&wire.GetHeaders{Hash: tip, Max: wire.MaxHeaders + 1})
	select {
	case <-s.Done():
	case <-ctx.Done():
		t.Fatal("an over-limit GET_HEADERS did not end the session")
	}
	for {
		stt := mustStatus(t, ctx, nd)
		if len(stt.Peers) == 0 {
			break // the session is gone; its score went with it
		}
		if stt.Peers[0].Penalties["protocol"] == 20 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
}
