package transport

import (
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/wire"
)

func listen(t *testing.T) net.PacketConn {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

func addrOf(pc net.PacketConn) netip.AddrPort { return pc.LocalAddr().(*net.UDPAddr).AddrPort() }

// TestDispatch checks which datagrams reach a session: only those from the
// bound address, with the token this side handed out and a fresh SEQ. The
// others are counted and get no reply.
func TestDispatch(t *testing.T) {
	srv := New(listen(t))
	go srv.Serve()
	t.Cleanup(func() { srv.Close() })
	peer, stranger := listen(t), listen(t)
	recvTok, sendTok := wire.Token{1, 2, 3}, wire.Token{9, 9}
	got := make(chan uint32, 16)
	b, err := srv.Bind(addrOf(peer), recvTok, sendTok, func(_ *Binding, h wire.DatagramHeader, _ []byte) { got <- h.Seq })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Bind(addrOf(peer), recvTok, sendTok, nil); !errors.Is(err, ErrBound) {
		t.Fatalf("second bind: %v", err)
	}
	dgram := func(tok wire.Token, seq uint32) []byte {
		return wire.AppendDatagram(nil, wire.DatagramHeader{Token: tok, Seq: seq}, &wire.Ping{Nonce: 1})
	}
	tcpType := dgram(recvTok, 4)
	tcpType[0] = byte(wire.TypeBTVersion)
	tests := []struct {
		name    string
		from    net.PacketConn
		payload []byte
		deliver uint32 // SEQ expected at the handler, 0 for none
		counter *atomic.Int64
	}{
		{"valid", peer, dgram(recvTok, 1), 1, nil},
		{"no session", stranger, dgram(recvTok, 2), 0, &srv.Stats.UnknownSource},
		{"wrong token", peer, dgram(sendTok, 3), 0, &srv.Stats.BadToken},
		{"replayed", peer, dgram(recvTok, 1), 0, &srv.Stats.Replayed},
		{"too short", peer, []byte{0x40, 1, 2}, 0, &srv.Stats.Malformed},
		{"not a UDP type", peer, tcpType, 0, &srv.Stats.Malformed},
		{"valid again", peer, dgram(recvTok, 5), 5, nil},
	}
	for _, tt := range tests {
		var before int64
		if tt.counter != nil {
			before = tt.counter.Load()
		}
		if _, err := tt.from.WriteTo(tt.payload, srv.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		if tt.deliver != 0 {
			select {
			case seq := <-got:
				if seq != tt.deliver {
					t.Fatalf("%s: delivered SEQ %d, want %d", tt.name, seq, tt.deliver)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: not delivered", tt.name)
			}
			continue
		}
		deadline := time.Now().Add(5 * time.Second)
		for tt.counter.Load() == before {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not counted", tt.name)
			}
			time.Sleep(time.Millisecond)
		}
		select {
		case seq := <-got:
			t.Fatalf("%s: delivered SEQ %d", tt.name, seq)
		default:
		}
	}
	// Nothing was ever sent back: amplification is zero before a session.
	for _, pc := range []net.PacketConn{peer, stranger} {
		pc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		if n, _, err := pc.ReadFrom(make([]byte, 2048)); err == nil {
			t.Fatalf("a %d-byte reply was sent", n)
		}
	}
	// Send frames with the peer's token and increasing SEQ.
	for want := uint32(1); want <= 2; want++ {
		n, err := srv.Send(b, &wire.Ping{Nonce: 7}, wire.DefaultDatagramSize)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 2048)
		peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		m, _, err := peer.ReadFrom(buf)
		if err != nil || m != n {
			t.Fatalf("read %d, %v; sent %d", m, err, n)
		}
		h, _, err := wire.ParseDatagram(buf[:m])
		if err != nil || h.Token != sendTok || h.Seq != want || h.Type != wire.TypePing {
			t.Fatalf("header %+v, %v", h, err)
		}
	}
	if _, err := srv.Send(b, &wire.Ping{Nonce: 7, Padding: 2000}, wire.DefaultDatagramSize); !errors.Is(err, ErrTooBig) {
		t.Fatalf("oversize send: %v", err)
	}
	srv.Unbind(b)
	if _, err := srv.Send(b, &wire.Ping{}, wire.DefaultDatagramSize); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after unbind: %v", err)
	}
}
