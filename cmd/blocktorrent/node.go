package main

import (
	"context"
	"flag"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/bridge"
	"github.com/blocktorrent/blocktorrent/internal/linkemu"
	"github.com/blocktorrent/blocktorrent/internal/node"
	"github.com/blocktorrent/blocktorrent/internal/transport"
	"github.com/blocktorrent/blocktorrent/internal/wire"
)

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func runNode(args []string) error {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	cfg := node.DefaultConfig()
	var peers listFlag
	fs.StringVar(&cfg.Network, "network", "regtest", "Bitcoin network: mainnet, testnet3, testnet4, signet, regtest, simnet")
	fs.StringVar(&cfg.DataDir, "datadir", "", "directory for the node's files")
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:8334", "TCP and UDP address")
	fs.Var(&peers, "peer", "peer to connect to, HOST:PORT (repeatable)")
	fs.StringVar(&cfg.Status, "status", "", "serve GET /status and GET /metrics on HOST:PORT")
	role := fs.String("role", "relay", "role announced in SET_PARAMS: node, limited, relay, miner")
	unsolicited := fs.Uint("max-unsolicited", wire.NoLimit, "unsolicited bytes accepted per job (0 none)")
	push := fs.Bool("push", true, "push verified data to peers that accept it")
	delay := fs.Duration("link-delay", 0, "emulate a WAN: one-way delay added to every outbound link")
	rate := fs.Float64("link-mbit", 0, "emulate a WAN: outbound rate per peer in Mbit/s (0 = unlimited)")
	loss := fs.Float64("link-loss", 0, "emulate a WAN: random outbound loss, 0..1")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	btcP2P := fs.String("bitcoin-p2p", "", "bridge to the local Bitcoin node's P2P port, HOST:PORT (transactions and blocks both ways)")
	btcRPC := fs.String("bitcoin-rpc", "", "also submit blocks to the Bitcoin node over RPC, HOST:PORT (HTTP POST, no TLS: loopback); needs --bitcoin-p2p")
	btcUser := fs.String("bitcoin-rpcuser", "", "Bitcoin node RPC user")
	btcPass := fs.String("bitcoin-rpcpass", "", "Bitcoin node RPC password")
	btcGBT := fs.Duration("bitcoin-gbt", 0, "with --bitcoin-rpc, poll getblocktemplate at this interval and add its transactions to the mempool (0 off)")
	lim := transport.DefaultLimits()
	peerPPS := fs.Float64("limit-peer-pps", lim.Peer.Datagrams, "inbound datagrams per second accepted from each peer (0 = no limit)")
	peerMbit := fs.Float64("limit-peer-mbit", lim.Peer.Bytes*8/1e6, "inbound UDP payload Mbit/s accepted from each peer (0 = no limit)")
	globalPPS := fs.Float64("limit-global-pps", lim.Global.Datagrams, "inbound datagrams per second accepted from all peers together (0 = no limit)")
	globalMbit := fs.Float64("limit-global-mbit", lim.Global.Bytes*8/1e6, "inbound UDP payload Mbit/s accepted from all peers together (0 = no limit)")
	ban := fs.Duration("ban-duration", 24*time.Hour, "how long a misbehaving peer's address stays banned")
	fs.IntVar(&cfg.TargetPeers, "target-peers", 8, "dial peers learnt from BTADDR until this many are connected (0 = only --peer)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for name, v := range map[string]float64{"limit-peer-pps": *peerPPS, "limit-peer-mbit": *peerMbit, "limit-global-pps": *globalPPS, "limit-global-mbit": *globalMbit} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return usageError(fs, "--%s %v: want a finite number ≥ 0", name, v)
		}
	}
	if *ban <= 0 {
		return usageError(fs, "--ban-duration %v: want a positive duration", *ban)
	}
	if cfg.TargetPeers < 0 {
		return usageError(fs, "--target-peers %d: want ≥ 0", cfg.TargetPeers)
	}
	lim.Peer = transport.Rate{Datagrams: *peerPPS, Bytes: *peerMbit * 1e6 / 8}
	lim.Global = transport.Rate{Datagrams: *globalPPS, Bytes: *globalMbit * 1e6 / 8}
	cfg.InboundLimits = &lim
	cfg.BanDuration = *ban
	cfg.Peers = peers
	cfg.Push = *push
	cfg.Params.MaxUnsolicited = uint32(min(*unsolicited, uint(wire.NoLimit)))
	switch *role {
	case "node":
		cfg.Params.Role = wire.RoleNode
	case "limited":
		cfg.Params.Role = wire.RoleLimited
	case "relay":
		cfg.Params.Role = wire.RoleRelay
	case "miner":
		cfg.Params.Role = wire.RoleMiner
	default:
		return usageError(fs, "unknown role %q", *role)
	}
	if *delay > 0 || *rate > 0 || *loss > 0 {
		p := linkemu.Profile{Delay: *delay, RateBps: int64(*rate * 1e6), Loss: *loss, Seed: time.Now().UnixNano()}
		if err := p.Validate(); err != nil {
			return err
		}
		cfg.Link = func(netip.Addr) linkemu.Profile { return p }
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return usageError(fs, "log level: %v", err)
	}
	cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	if *btcP2P == "" && *btcRPC != "" {
		return usageError(fs, "--bitcoin-rpc needs --bitcoin-p2p")
	}
	var br *bridge.Bridge
	if *btcP2P != "" {
		var err error
		br, err = bridge.New(bridge.Config{
			Network: cfg.Network, P2P: *btcP2P,
			RPC: *btcRPC, RPCUser: *btcUser, RPCPass: *btcPass, PollTemplate: *btcGBT,
			Log: cfg.Log,
		})
		if err != nil {
			return err
		}
		cfg.OnBlock = br.OnBlock
	}
	n, err := node.New(cfg)
	if err != nil {
		if br != nil {
			br.Close()
		}
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := n.Start(ctx); err != nil {
		return err
	}
	if cfg.Status != "" {
		cfg.Log.Info("status listening", "addr", n.StatusAddr())
	}
	if br != nil {
		if err := br.Start(ctx, n); err != nil {
			n.Close()
			return err
		}
	}
	<-ctx.Done()
	if br != nil {
		br.Close()
	}
	n.Close()
	return nil
}
