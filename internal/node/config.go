package node

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/linkemu"
	"github.com/blocktorrent/blocktorrent/internal/transport"
	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chaincfg/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// ErrConfig means a configuration the node cannot run with.
var ErrConfig = errors.New("node: bad configuration")

// Config configures a Node.
type Config struct {
	// Network names the Bitcoin network: mainnet, testnet3, testnet4,
	// signet, regtest or simnet.
	Network string
	// DataDir holds the node's files.
	DataDir string
	// Listen is the TCP and UDP address, e.g. 127.0.0.1:8334 (port 0
	// picks a free port).
	Listen string
	// Peers are dialled and re-dialled while the node runs.
	Peers []string
	// TargetPeers, if positive, turns on peer discovery: the node asks its
	// peers for addresses (GET_BTADDR) and dials learnt ones, one per
	// RedialInterval, while fewer than TargetPeers peers are connected.
	// Zero (the default, for labs with fixed topologies) dials only Peers.
	TargetPeers int
	// Status, if set, serves GET /status and GET /metrics.
	Status string
	// Params is what this node accepts from peers (SET_PARAMS).
	Params wire.SetParams
	// Push enables unsolicited pushes to peers that accept them.
	Push bool
	// Link, if set, shapes this node's outbound traffic to each peer IP
	// with the link emulator (tests, demo, bench, or a manual experiment).
	Link func(remote netip.Addr) linkemu.Profile
	// WrapPacketConn, if set, wraps the node's UDP socket (after the link
	// emulator): fault injection in tests.
	WrapPacketConn func(net.PacketConn) net.PacketConn
	// OnBlock is called with every block that completes from the network.
	OnBlock func(*btcwire.MsgBlock)
	// InboundLimits, if set, replaces transport.DefaultLimits: the rates
	// of datagrams accepted per peer and in all.
	InboundLimits *transport.Limits
	// MempoolBytes bounds the mempool (default mempool.DefaultMaxBytes).
	MempoolBytes int64
	// Log receives the node's logs.
	Log *slog.Logger
	// RedialInterval is the wait between dials of a configured peer and,
	// on average, between two rounds of peer discovery (default 2 s).
	RedialInterval time.Duration
	// BanDuration is how long a banned address stays banned (default 24 h).
	BanDuration time.Duration
	// IdleTimeout ends a session after that long without anything from
	// the peer (default session.DefaultIdleTimeout, 30 s; negative: never).
	IdleTimeout time.Duration
}

// DefaultConfig returns a configuration with the defaults of
// docs/protocol.md: a relay that pushes and accepts pushes.
func DefaultConfig() Config {
	p := wire.DefaultSetParams()
	p.Role = wire.RoleRelay
	p.MaxUnsolicited = wire.NoLimit
	p.MaxDatagram = wire.MaxDatagramSize
	return Config{Network: "regtest", Listen: "127.0.0.1:0", Params: p, Push: true}
}

// NetParams returns the chaincfg parameters of a network name.
func NetParams(name string) (*chaincfg.Params, error) {
	switch name {
	case "mainnet", "main":
		return &chaincfg.MainNetParams, nil
	case "testnet3", "testnet":
		return &chaincfg.TestNet3Params, nil
	case "testnet4":
		return &chaincfg.TestNet4Params, nil
	case "signet":
		return &chaincfg.SigNetParams, nil
	case "regtest":
		return &chaincfg.RegressionNetParams, nil
	case "simnet":
		return &chaincfg.SimNetParams, nil
	}
	return nil, fmt.Errorf("%w: unknown network %q", ErrConfig, name)
}
