package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/linkemu"
	"github.com/blocktorrent/blocktorrent/internal/node"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// ErrTimeout means the network did not reach the awaited state in time.
var ErrTimeout = errors.New("lab: timed out")

// Link joins nodes A and B; each direction is shaped by Profile (with its
// own random seed).
type Link struct {
	A, B    int
	Profile linkemu.Profile
}

// Options configure a Net.
type Options struct {
	// Configure, if set, adjusts each node's configuration.
	Configure func(i int, cfg *node.Config)
	// Log is the base logger (default: discard).
	Log *slog.Logger
	// Subnet is the third byte of the nodes' IPs (127.77.Subnet.i+1), so
	// concurrent nets in one process do not collide. Default 1.
	Subnet byte
}

// Net is a running network of nodes.
type Net struct {
	Nodes []*node.Node
	Links []Link
	ips   []netip.Addr
}

// IP returns node i's address.
func IP(subnet byte, i int) netip.Addr { return netip.AddrFrom4([4]byte{127, 77, subnet, byte(i + 1)}) }

// Start starts n nodes joined by links and waits until every link is
// handshaken and measured.
func Start(ctx context.Context, n int, links []Link, opt Options) (*Net, error) {
	if n < 1 || n > 250 {
		return nil, fmt.Errorf("lab: %d nodes", n)
	}
	if opt.Subnet == 0 {
		opt.Subnet = 1
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	net := &Net{Links: links}
	byIP := make(map[netip.Addr]int)
	for i := range n {
		ip := IP(opt.Subnet, i)
		net.ips = append(net.ips, ip)
		byIP[ip] = i
	}
	profile := make(map[[2]int]linkemu.Profile)
	degree := make([]int, n)
	for k, l := range links {
		if l.A == l.B || l.A < 0 || l.B < 0 || l.A >= n || l.B >= n {
			return nil, fmt.Errorf("lab: bad link %d-%d", l.A, l.B)
		}
		pa, pb := l.Profile, l.Profile
		pa.Seed = l.Profile.Seed + int64(2*k+1)
		pb.Seed = l.Profile.Seed + int64(2*k+2)
		profile[[2]int{l.A, l.B}] = pa
		profile[[2]int{l.B, l.A}] = pb
		degree[l.A]++
		degree[l.B]++
	}
	for i := range n {
		cfg := node.DefaultConfig()
		cfg.Listen = netip.AddrPortFrom(net.ips[i], 0).String()
		cfg.Log = opt.Log.With("node", i)
		cfg.RedialInterval = 200 * time.Millisecond
		cfg.Link = func(remote netip.Addr) linkemu.Profile {
			if j, ok := byIP[remote]; ok {
				return profile[[2]int{i, j}]
			}
			return linkemu.Profile{}
		}
		if opt.Configure != nil {
			opt.Configure(i, &cfg)
		}
		nd, err := node.New(cfg)
		if err == nil {
			err = nd.Start(ctx)
		}
		if err != nil {
			net.Close()
			return nil, fmt.Errorf("lab: node %d: %w", i, err)
		}
		net.Nodes = append(net.Nodes, nd)
	}
	// The lower-numbered end dials; nodes learn their peers' ports only
	// now, so dialling starts after every node listens.
	for _, l := range links {
		net.Nodes[l.A].AddPeer(net.Nodes[l.B].Addr())
	}
	deadline := time.Now().Add(20 * time.Second)
	for i, nd := range net.Nodes {
		for !nd.Ready(degree[i]) {
			if time.Now().After(deadline) || ctx.Err() != nil {
				net.Close()
				return nil, fmt.Errorf("%w: node %d has not connected and measured %d peers", ErrTimeout, i, degree[i])
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return net, nil
}

// Close stops every node.
func (net *Net) Close() {
	for _, nd := range net.Nodes {
		nd.Close()
	}
}

// WaitBlock waits until every node's best block is hash, or ctx ends, or
// timeout passes. It returns the nodes that do not have it.
func (net *Net) WaitBlock(ctx context.Context, hash chainhash.Hash, timeout time.Duration) ([]int, error) {
	deadline := time.Now().Add(timeout)
	for {
		var missing []int
		for i, nd := range net.Nodes {
			if best, _, _ := nd.Tip(); best != hash {
				missing = append(missing, i)
			}
		}
		if len(missing) == 0 {
			return nil, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return missing, fmt.Errorf("%w: %d nodes lack block %v", ErrTimeout, len(missing), hash)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Block returns the block a node holds for hash (nil if it has none).
func (net *Net) Block(ctx context.Context, i int, hash chainhash.Hash) *btcwire.MsgBlock {
	blk, _ := net.Nodes[i].Engine().Block(ctx, hash)
	return blk
}

// Line returns the links of a line of n nodes, each with profile p.
func Line(n int, p linkemu.Profile) []Link {
	var out []Link
	for i := 0; i+1 < n; i++ {
		out = append(out, Link{A: i, B: i + 1, Profile: p})
	}
	return out
}
