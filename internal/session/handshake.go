package session

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chainhash/v2"
)

// Error kinds.
var (
	// ErrHandshake means the peer broke the handshake rules.
	ErrHandshake = errors.New("session: handshake failed")
	// ErrWrongNetwork means a peer on another network or genesis.
	ErrWrongNetwork = errors.New("session: wrong network")
	// ErrSelf means a connection to this node itself.
	ErrSelf = errors.New("session: connected to self")
	// ErrClosed means the session has ended.
	ErrClosed = errors.New("session: closed")
)

// HandshakeTimeout bounds the whole handshake.
const HandshakeTimeout = 10 * time.Second

// Local is what this node says about itself in BTVERSION.
type Local struct {
	NetworkMagic uint32
	Genesis      chainhash.Hash
	Services     uint64
	Features     uint64
	UDPPort      uint16
	Nonce        uint64 // random per node, detects self-connections
	UserAgent    string
	// Tip returns the current best block, its height and total work.
	Tip func() (chainhash.Hash, uint32, *big.Int)
	// Params is what this node accepts, sent in SET_PARAMS.
	Params wire.SetParams
	// ScoreDecay is how long it takes a peer's misbehaviour score to go
	// down by one point: 0 means DefaultScoreDecay, a negative value
	// turns decay off.
	ScoreDecay time.Duration
	// IdleTimeout disconnects a peer from which nothing (no frame, no
	// datagram: not even the PONG of the ping sent every second) has
	// arrived for that long, e.g. a host that hung without closing its
	// connections: 0 means DefaultIdleTimeout, a negative value turns it
	// off.
	IdleTimeout time.Duration

	now func() time.Time // the score's clock (tests); nil means time.Now
}

// idleTimeout returns the idle timeout in force (0: none).
func (l *Local) idleTimeout() time.Duration {
	switch {
	case l.IdleTimeout == 0:
		return DefaultIdleTimeout
	case l.IdleTimeout < 0:
		return 0
	}
	return l.IdleTimeout
}

// scoreClock returns the score's decay step (0: no decay) and clock.
func (l *Local) scoreClock() (time.Duration, func() time.Time) {
	d, now := l.ScoreDecay, l.now
	switch {
	case d == 0:
		d = DefaultScoreDecay
	case d < 0:
		d = 0
	}
	if now == nil {
		now = time.Now
	}
	return d, now
}

// randomToken returns a fresh non-zero session token.
func randomToken() wire.Token {
	var t wire.Token
	for t == (wire.Token{}) {
		_, _ = rand.Read(t[:])
	}
	return t
}

// RandomNonce returns a random 64-bit nonce.
func RandomNonce() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// version builds this side's BTVERSION with a fresh token.
func (l *Local) version() *wire.BTVersion {
	v := &wire.BTVersion{
		Version:      wire.ProtocolVersion,
		Services:     l.Services,
		Features:     l.Features,
		NetworkMagic: l.NetworkMagic,
		GenesisHash:  l.Genesis,
		Token:        randomToken(),
		UDPPort:      l.UDPPort,
		Nonce:        l.Nonce,
		UserAgent:    l.UserAgent,
	}
	if l.Tip != nil {
		best, height, td := l.Tip()
		v.BestHash, v.BestHeight = best, height
		v.SetTD(td)
	} else {
		v.BestHash = l.Genesis
	}
	return v
}

// handshake runs BTVERSION/BTVERACK on conn. The dialer speaks first.
// bind is called as soon as the peer's BTVERSION has passed the checks,
// before this side completes the handshake, so the peer's first datagrams
// (sent the moment its handshake completes) find the UDP binding in place.
func handshake(ctx context.Context, conn net.Conn, fr *wire.FrameReader, l *Local, dialer bool, bind func(mine, theirs *wire.BTVersion) error) (mine, theirs *wire.BTVersion, err error) {
	deadline := time.Now().Add(HandshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	defer conn.SetDeadline(time.Time{})
	mine = l.version()
	send := func(m wire.Message) error { return wire.WriteFrame(conn, m) }
	recv := func(want wire.MsgType) (wire.Message, error) {
		t, payload, err := fr.ReadFrame()
		if err != nil {
			return nil, err
		}
		if t != want {
			return nil, fmt.Errorf("%w: got %v, want %v", ErrHandshake, t, want)
		}
		// The frame reader reuses its buffer; the peer's BTVERSION is
		// kept for the session's life, so it must not alias it.
		return wire.DecodeMessage(t, bytes.Clone(payload))
	}
	if dialer {
		if err := send(mine); err != nil {
			return nil, nil, err
		}
	}
	m, err := recv(wire.TypeBTVersion)
	if err != nil {
		return nil, nil, err
	}
	theirs = m.(*wire.BTVersion)
	if err := l.check(theirs); err != nil {
		reason := wire.ReasonProtocol
		switch {
		case errors.Is(err, ErrWrongNetwork):
			reason = wire.ReasonWrongGenesis
		case errors.Is(err, ErrHandshake):
			reason = wire.ReasonVersion
		}
		_ = send(&wire.Disconnect{Reason: reason, Message: err.Error()})
		return nil, nil, err
	}
	if err := bind(mine, theirs); err != nil {
		return nil, nil, err
	}
	if !dialer {
		if err := send(mine); err != nil {
			return nil, nil, err
		}
		if err := send(&wire.BTVerack{}); err != nil {
			return nil, nil, err
		}
		if _, err := recv(wire.TypeBTVerack); err != nil {
			return nil, nil, err
		}
	} else {
		if _, err := recv(wire.TypeBTVerack); err != nil {
			return nil, nil, err
		}
		if err := send(&wire.BTVerack{}); err != nil {
			return nil, nil, err
		}
	}
	return mine, theirs, nil
}

// check applies the BTVERSION rules of docs/protocol.md §5.
func (l *Local) check(v *wire.BTVersion) error {
	switch {
	case v.Version < 1:
		return fmt.Errorf("%w: version %d", ErrHandshake, v.Version)
	case v.NetworkMagic != l.NetworkMagic:
		return fmt.Errorf("%w: magic %#08x, want %#08x", ErrWrongNetwork, v.NetworkMagic, l.NetworkMagic)
	case v.GenesisHash != l.Genesis:
		return fmt.Errorf("%w: genesis %v, want %v", ErrWrongNetwork, v.GenesisHash, l.Genesis)
	case v.Nonce == l.Nonce:
		return ErrSelf
	case v.Token == (wire.Token{}):
		return fmt.Errorf("%w: zero token", ErrHandshake)
	case v.UDPPort == 0:
		return fmt.Errorf("%w: zero UDP port", ErrHandshake)
	}
	return nil
}

// udpAddr is where the peer receives datagrams: its TCP address's IP and
// its announced UDP port.
func udpAddr(conn net.Conn, port uint16) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(conn.RemoteAddr().String())
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), port), nil
}
