package lab

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
	"github.com/blocktorrent/blocktorrent/internal/session"
	"github.com/blocktorrent/blocktorrent/internal/transport"
	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// Attacker is an evil peer for end-to-end adversarial tests: a real
// session (session.Open over TCP, its own UDP socket) to a victim node, so
// it handshakes exactly like a node, after which the test makes it send any
// message, well-formed or not, on TCP or UDP. It records the OPEN_JOBs and
// answers the victim sends it, and answers the victim's GET_NODES and GET_TXS for the blocks
// the test tells it to serve (which may be false blocks, e.g. a mutated
// tree). It never penalises the victim in return and relays nothing.
type Attacker struct {
	sess   *session.Session
	sock   *transport.Socket
	pc     net.PacketConn
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	openJobs map[wire.JobID]*wire.OpenJob
	served   map[wire.JobID]*ServedBlock
	answered int
	answers  int
}

// AttackerConfig configures an Attacker.
type AttackerConfig struct {
	// IP is the loopback address the attacker dials from and receives
	// datagrams on (required; victims ban by IP).
	IP netip.Addr
	// Net is the network the attacker claims; nil means regtest.
	Net *chaincfg.Params
	// Params is the SET_PARAMS it sends; the zero value means the
	// defaults.
	Params wire.SetParams
	// Log receives the session's log (default: discard).
	Log *slog.Logger
}

// DialAttacker connects to the victim at addr (its TCP and UDP address),
// handshakes and starts serving the session.
func DialAttacker(ctx context.Context, addr string, cfg AttackerConfig) (*Attacker, error) {
	if !cfg.IP.IsValid() {
		return nil, errors.New("lab: attacker without an IP")
	}
	if cfg.Net == nil {
		cfg.Net = &chaincfg.RegressionNetParams
	}
	if cfg.Params.MaxDatagram == 0 {
		cfg.Params = wire.DefaultSetParams()
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	pc, err := net.ListenPacket("udp", netip.AddrPortFrom(cfg.IP, 0).String())
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: cfg.IP.AsSlice()}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		pc.Close()
		return nil, err
	}
	local := &session.Local{
		NetworkMagic: uint32(cfg.Net.Net), Genesis: *cfg.Net.GenesisHash,
		Services: wire.ServiceRelay, Features: wire.FeatureUnsolicited | wire.FeatureShortHashes,
		UDPPort: uint16(pc.LocalAddr().(*net.UDPAddr).Port), Nonce: session.RandomNonce(),
		UserAgent: "/lab-attacker/", Params: cfg.Params,
	}
	a := &Attacker{
		pc: pc, sock: transport.New(pc),
		openJobs: make(map[wire.JobID]*wire.OpenJob),
		served:   make(map[wire.JobID]*ServedBlock),
	}
	s, err := session.Open(ctx, conn, a.sock, local, true, a, cfg.Log)
	if err != nil {
		pc.Close()
		return nil, err
	}
	a.sess = s
	runCtx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.wg.Add(2)
	go func() {
		defer a.wg.Done()
		_ = a.sock.Serve()
	}()
	go func() {
		defer a.wg.Done()
		_ = s.Run(runCtx)
	}()
	return a, nil
}

// Close ends the session and the socket and waits for their goroutines.
func (a *Attacker) Close() {
	a.cancel()
	a.sess.Close()
	a.sock.Close()
	a.wg.Wait()
}

// Done is closed when the victim (or the attacker) has ended the session.
func (a *Attacker) Done() <-chan struct{} { return a.sess.Done() }

// SendUDP sends m in one datagram with the session's token and next SEQ.
func (a *Attacker) SendUDP(m wire.Message) error {
	_, err := a.sess.SendUDP(m)
	return err
}

// SendTCP queues m on the control connection.
func (a *Attacker) SendTCP(m wire.Message) error { return a.sess.SendTCP(m) }

// SendRawUDP sends a datagram of type t whose payload is the given bytes,
// undecoded: a valid header (the victim's token, the session's next SEQ),
// so only the victim's decoder stands between the payload and the node.
func (a *Attacker) SendRawUDP(t wire.MsgType, payload []byte) error {
	return a.SendUDP(&RawMessage{T: t, Payload: payload})
}

// RawMessage is a wire.Message with a hand-made payload.
type RawMessage struct {
	T       wire.MsgType
	Payload []byte
}

// Type returns the message type.
func (m *RawMessage) Type() wire.MsgType { return m.T }

// Append appends the payload as it is.
func (m *RawMessage) Append(b []byte) []byte { return append(b, m.Payload...) }

// OpenJob returns the OPEN_JOB the victim sent for id, if any.
func (a *Attacker) OpenJob(id wire.JobID) (*wire.OpenJob, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m, ok := a.openJobs[id]
	return m, ok
}

// Answered returns the number of GET_NODES and GET_TXS the attacker has
// answered from a served block.
func (a *Attacker) Answered() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.answered
}

// Answers returns the number of NODES and TXS datagrams the victim sent
// the attacker in answer to a request (REQ_ID not 0); pushes are not
// counted.
func (a *Attacker) Answers() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.answers
}

// Serve makes the attacker answer requests for b's job from b.
func (a *Attacker) Serve(b *ServedBlock) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.served[b.JobID()] = b
}

// OnMessage records the victim's OPEN_JOBs and answers, and answers
// requests for served blocks (session.Handler).
func (a *Attacker) OnMessage(_ *session.Session, m wire.Message, _ int) {
	a.mu.Lock()
	var b *ServedBlock
	switch m := m.(type) {
	case *wire.OpenJob:
		if _, ok := a.openJobs[m.JobID()]; !ok {
			a.openJobs[m.JobID()] = m
		}
	case *wire.GetNodes:
		b = a.served[m.JobID]
	case *wire.GetTxs:
		b = a.served[m.JobID]
	case *wire.Nodes:
		if m.ReqID != 0 {
			a.answers++
		}
	case *wire.Txs:
		if m.ReqID != 0 {
			a.answers++
		}
	}
	if b != nil {
		a.answered++
	}
	a.mu.Unlock()
	if b == nil {
		return
	}
	var out []wire.Message
	switch m := m.(type) {
	case *wire.GetNodes:
		out = b.nodesFor(m)
	case *wire.GetTxs:
		out = b.txsFor(m)
	}
	for _, r := range out {
		if _, err := a.sess.SendUDP(r); err != nil {
			return
		}
	}
}

// OnBan is never acted on: the attacker does not score the victim
// (session.Handler).
func (a *Attacker) OnBan(*session.Session, string) {}

// ServedBlock is a block an Attacker serves, possibly a false one: its
// header and transactions need not agree.
type ServedBlock struct {
	header btcwire.BlockHeader
	shape  merkle.Shape
	levels [][]chainhash.Hash
	bodies [][]byte
}

// NewServedBlock prepares header and txs for serving: the merkle tree of
// the txs' txids, and their serialized bodies. The tree is not checked
// against the header.
func NewServedBlock(header btcwire.BlockHeader, txs []*btcwire.MsgTx) (*ServedBlock, error) {
	shape, err := merkle.NewShape(uint32(len(txs)))
	if err != nil {
		return nil, err
	}
	leaves := make([]chainhash.Hash, len(txs))
	bodies := make([][]byte, len(txs))
	for i, tx := range txs {
		leaves[i] = tx.TxHash()
		var buf bytes.Buffer
		if err := tx.Serialize(&buf); err != nil {
			return nil, err
		}
		bodies[i] = buf.Bytes()
	}
	return &ServedBlock{header: header, shape: shape, levels: merkle.Levels(leaves), bodies: bodies}, nil
}

// JobID returns the job id of the block's header.
func (b *ServedBlock) JobID() wire.JobID { return wire.JobIDOf(b.header.BlockHash()) }

// Root returns the merkle root of the served transactions.
func (b *ServedBlock) Root() chainhash.Hash { return b.levels[0][0] }

// OpenJob returns an OPEN_JOB for the block: the header, the served
// transaction count and a root lap of the served tree, with the flag that
// says the sender holds every body.
func (b *ServedBlock) OpenJob() (*wire.OpenJob, error) {
	lap, err := wire.BuildRootLap(b.shape, b.hashAt)
	if err != nil {
		return nil, err
	}
	return &wire.OpenJob{Header: b.header, TxCount: b.shape.Leaves(), Flags: wire.OpenJobHasBodies, Lap: lap}, nil
}

func (b *ServedBlock) hashAt(p merkle.Pos) chainhash.Hash { return b.levels[p.Level][p.Index] }

// Leaves returns the txids of leaves [start, start+n) as a flat run, for
// pushing leaf hashes unsolicited.
func (b *ServedBlock) Leaves(start, n uint32) wire.Run {
	d := b.shape.Depth()
	end := min(start+n, b.shape.Leaves())
	return wire.FlatRun(d, start, b.levels[d][start:end])
}

// groupSize is how many hashes a NODES response carries: a full group of
// 32 siblings (1,024 bytes) fits the smallest datagram.
const groupSize = 32

// nodesFor answers GET_NODES with full hashes, in groups of up to 32
// positions in request order; positions outside the served tree are
// skipped.
func (b *ServedBlock) nodesFor(m *wire.GetNodes) []wire.Message {
	var nodes []merkle.Node
	for i := range m.Want.Runs {
		pos, err := m.Want.Runs[i].Positions()
		if err != nil {
			continue
		}
		for _, p := range pos {
			if b.shape.Valid(p) {
				nodes = append(nodes, merkle.Node{Pos: p, Hash: b.hashAt(p)})
			}
		}
	}
	var out []wire.Message
	for len(nodes) > 0 {
		k := min(len(nodes), groupSize)
		runs, err := wire.RunsFromNodes(nodes[:k])
		nodes = nodes[k:]
		if err != nil {
			continue
		}
		out = append(out, &wire.Nodes{JobID: m.JobID, ReqID: m.ReqID, Runs: wire.Workout{Runs: runs}})
	}
	return out
}

// txsBudget is the room for fragments in one TXS of the smallest datagram
// (1,200 bytes less the datagram header, JOB_ID, REQ_ID and COUNT).
const txsBudget = wire.DefaultDatagramSize - wire.DatagramHeaderSize - 8 - 4 - 3

// fragHeader bounds the four varints of one fragment.
const fragHeader = 4 * 5

// txsFor answers GET_TXS with the served bodies, whole or in fragments,
// packed into datagrams of the smallest size.
func (b *ServedBlock) txsFor(m *wire.GetTxs) []wire.Message {
	var out []wire.Message
	cur := &wire.Txs{JobID: m.JobID, ReqID: m.ReqID}
	room := txsBudget
	flush := func() {
		if len(cur.Fragments) > 0 {
			out = append(out, cur)
		}
		cur = &wire.Txs{JobID: m.JobID, ReqID: m.ReqID}
		room = txsBudget
	}
	for i := range m.Leaves.Runs {
		pos, err := m.Leaves.Runs[i].Positions()
		if err != nil {
			continue
		}
		for _, p := range pos {
			if p.Level != b.shape.Depth() || !b.shape.Valid(p) {
				continue
			}
			body := b.bodies[p.Index]
			for off := 0; off < len(body); {
				if room <= fragHeader {
					flush()
				}
				n := min(len(body)-off, room-fragHeader)
				cur.Fragments = append(cur.Fragments, wire.TxFragment{
					Leaf: p.Index, Total: uint32(len(body)), Offset: uint32(off), Data: body[off : off+n],
				})
				room -= fragHeader + n
				off += n
			}
		}
	}
	flush()
	return out
}

// ProbeHandshake dials addr from ip, sends v as the BTVERSION of a dialer
// and returns the first message the victim answers with (its BTVERSION, or
// a DISCONNECT), or the error that ended the connection first (e.g. EOF
// when the victim closes at once because ip is banned).
func ProbeHandshake(ctx context.Context, addr string, ip netip.Addr, v *wire.BTVersion) (wire.Message, error) {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: ip.AsSlice()}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	if err := wire.WriteFrame(conn, v); err != nil {
		return nil, err
	}
	fr := wire.NewFrameReader(bufio.NewReader(conn))
	t, payload, err := fr.ReadFrame()
	if err != nil {
		return nil, err
	}
	m, err := wire.DecodeMessage(t, bytes.Clone(payload))
	if err != nil {
		return nil, fmt.Errorf("lab: victim's first frame %v: %w", t, err)
	}
	return m, nil
}

// NewVersion returns a dialer's BTVERSION claiming network p, with a fresh
// token and nonce and udpPort as its UDP port.
func NewVersion(p *chaincfg.Params, udpPort uint16) *wire.BTVersion {
	var tok wire.Token
	n := session.RandomNonce()
	for i := range tok {
		tok[i] = byte(n >> (8 * (i % 8)))
	}
	tok[0] |= 1 // never all zero
	return &wire.BTVersion{
		Version: wire.ProtocolVersion, Services: wire.ServiceRelay,
		NetworkMagic: uint32(p.Net), GenesisHash: *p.GenesisHash, BestHash: *p.GenesisHash,
		Token: tok, UDPPort: udpPort, Nonce: session.RandomNonce(), UserAgent: "/lab-attacker/",
	}
}
