package session

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/transport"
	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chaincfg/v2"
)

// handler records what a session hands up.
type handler struct {
	mu   sync.Mutex
	msgs []wire.Message
	bans []string
}

func (h *handler) OnMessage(_ *Session, m wire.Message, _ int) {
	h.mu.Lock()
	h.msgs = append(h.msgs, m)
	h.mu.Unlock()
}

func (h *handler) OnBan(_ *Session, reason string) {
	h.mu.Lock()
	h.bans = append(h.bans, reason)
	h.mu.Unlock()
}

// end is one side of a test connection: a UDP socket and its Local.
type end struct {
	sock  *transport.Socket
	local *Local
	h     *handler
}

func newEnd(t *testing.T, p *chaincfg.Params) *end {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := transport.New(pc)
	go s.Serve()
	t.Cleanup(func() { s.Close() })
	return &end{sock: s, h: &handler{}, local: &Local{
		NetworkMagic: uint32(p.Net), Genesis: *p.GenesisHash, UDPPort: uint16(pc.LocalAddr().(*net.UDPAddr).Port),
		Nonce: RandomNonce(), Params: wire.DefaultSetParams(),
	}}
}

// pair handshakes a and b over a real loopback TCP connection.
func pair(t *testing.T, a, b *end) (*Session, *Session, error, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var sb *Session
	var errB error
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			errB = err
			return
		}
		sb, errB = Open(ctx, c, b.sock, b.local, false, b.h, nil)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sa, errA := Open(ctx, c, a.sock, a.local, true, a.h, nil)
	<-done
	return sa, sb, errA, errB
}

func TestHandshake(t *testing.T) {
	reg, main := &chaincfg.RegressionNetParams, &chaincfg.MainNetParams
	t.Run("ok", func(t *testing.T) {
		a, b := newEnd(t, reg), newEnd(t, reg)
		sa, sb, errA, errB := pair(t, a, b)
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		defer sa.Close()
		defer sb.Close()
		if sa.Version().Nonce != b.local.Nonce || sb.Version().Nonce != a.local.Nonce || !sa.Dialer() || sb.Dialer() {
			t.Fatal("versions or roles mixed up")
		}
	})
	t.Run("wrong genesis", func(t *testing.T) {
		a, b := newEnd(t, reg), newEnd(t, main)
		_, _, errA, errB := pair(t, a, b)
		if !errors.Is(errB, ErrWrongNetwork) || errA == nil {
			t.Fatalf("dialer %v, listener %v", errA, errB)
		}
	})
	t.Run("self", func(t *testing.T) {
		a, b := newEnd(t, reg), newEnd(t, reg)
		b.local.Nonce = a.local.Nonce
		_, _, errA, errB := pair(t, a, b)
		if !errors.Is(errB, ErrSelf) || errA == nil {
			t.Fatalf("dialer %v, listener %v", errA, errB)
		}
	})
}

// TestRun checks the running session: probes measure the path, job
// messages go up, a UDP-only type on TCP ends the session, and a score of
// BanScore bans the peer once.
func TestRun(t *testing.T) {
	reg := &chaincfg.RegressionNetParams
	a, b := newEnd(t, reg), newEnd(t, reg)
	sa, sb, errA, errB := pair(t, a, b)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sa.Run(ctx)
	go sb.Run(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for !sa.Probed() || !sb.Probed() {
		if time.Now().After(deadline) {
			t.Fatal("paths never measured")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if sa.MaxDatagram() != wire.DefaultDatagramSize || sa.PaceRate() <= 0 {
		// The peer accepts 1,200 bytes by default, so the tested MTU is capped.
		t.Fatalf("datagram %d rate %v", sa.MaxDatagram(), sa.PaceRate())
	}
	cj := &wire.CloseJob{JobID: wire.JobID{1}}
	if _, err := sa.SendUDP(cj); err != nil {
		t.Fatal(err)
	}
	if err := sa.SendTCP(cj); err != nil {
		t.Fatal(err)
	}
	for {
		b.h.mu.Lock()
		n := len(b.h.msgs)
		b.h.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d job messages reached the handler, want 2", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	sa.Penalize("protocol", 60)
	sa.Penalize("invalid-run", 60)
	sa.Penalize("invalid-run", 60)
	select {
	case <-sa.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("banned session still open")
	}
	score, reasons := sa.Score()
	if score != 180 || reasons["invalid-run"] != 120 || len(a.h.bans) != 1 || a.h.bans[0] != "invalid-run" {
		t.Fatalf("score %d %v bans %v", score, reasons, a.h.bans)
	}
	select {
	case <-sb.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the banned side's session did not end")
	}
}

// TestUDPTypeOnTCP sends a NODES frame on the control stream: a protocol
// violation that ends the session.
func TestUDPTypeOnTCP(t *testing.T) {
	reg := &chaincfg.RegressionNetParams
	a, b := newEnd(t, reg), newEnd(t, reg)
	sa, sb, errA, errB := pair(t, a, b)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sb.Run(ctx)
	if err := wire.WriteFrame(sa.conn, &wire.Nodes{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sb.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("session survived a UDP type on TCP")
	}
	if score, _ := sb.Score(); score == 0 {
		t.Fatal("no penalty")
	}
	sa.Close()
}
