package node_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/blockgen"
	"github.com/blocktorrent/blocktorrent/internal/merkle"
	"github.com/blocktorrent/blocktorrent/internal/node"
	"github.com/blocktorrent/blocktorrent/internal/session"
	"github.com/blocktorrent/blocktorrent/internal/transport"
	"github.com/blocktorrent/blocktorrent/internal/wire"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
)

// Fuzzing of a live node. FuzzNodeDatagram and FuzzNodeFrame start one real
// node per fuzz process (lazily, on the first input) and a real peer session
// to it: a TCP connection from a loopback IP of their own, handshaken with
// session.Open, and a UDP socket on the same IP whose port the handshake
// announces. Each input becomes one datagram (valid header: the victim's
// token and a fresh SEQ) or one TCP control frame (valid TYPE and LENGTH)
// carrying the rest of the input as payload. After each input the test
// waits until the node has handled it (a PING answered by a PONG, or
// GET_BTADDR answered by BTADDR, then a round trip through the job engine),
// and every statusEvery inputs it checks that Status answers. The node
// penalises, disconnects and bans the fuzzing peer as it should; the peer
// reconnects, from a fresh IP once banned (victims listen on 127.77.90.1 and
// .2, peers come from 127.78.0.0/16 and 127.79.0.0/16). A panic anywhere in the node
// kills the fuzz process (a crash); a node that stops answering fails the
// input.

const (
	// fuzzWait bounds each wait for the node (reply, handshake, Status).
	fuzzWait = 5 * time.Second
	// statusEvery is how often (in inputs) the full Status is checked.
	statusEvery = 32
	// fuzzBanDuration is the victims' ban duration.
	fuzzBanDuration = time.Minute
	// fuzzVectors is where the wire vectors live, relative to this package.
	fuzzVectors = "../../testdata/vectors"
)

// datagramTypes are the UDP message types; an input's first byte picks one.
var datagramTypes = []wire.MsgType{
	wire.TypePing, wire.TypePong, wire.TypeOpenJobUDP, wire.TypeJobState, wire.TypeJobStateAck,
	wire.TypeGetNodes, wire.TypeNodes, wire.TypeGetTxs, wire.TypeTxs, wire.TypeCloseJobUDP,
}

// frameTypes are the TCP frame types an input's first byte picks from:
// every TCP message type, an unknown type (skipped by the node) and a UDP
// type (a protocol violation on TCP).
var frameTypes = []wire.MsgType{
	wire.TypeBTVersion, wire.TypeBTVerack, wire.TypeBTAddr, wire.TypeDisconnect, wire.TypeSetParams,
	wire.TypeTestMTU, wire.TypeEstimateBandwidth, wire.TypeOpenJob, wire.TypeCloseJob, wire.TypeGetBTAddr,
	wire.TypeGetBlockHashes, wire.TypeBlockHashes, wire.TypeGetBlocks, wire.TypeBlocks,
	wire.TypeGetHeaders, wire.TypeHeaders, wire.TypeTx, wire.MsgType(0x3f), wire.TypeNodes,
}

func typeIndex(types []wire.MsgType, t wire.MsgType) (byte, bool) {
	for i, u := range types {
		if u == t {
			return byte(i), true
		}
	}
	return 0, false
}

// fuzzVictim is a live node under fuzzing and the current peer connection
// to it.
type fuzzVictim struct {
	nd     *node.Node
	ctx    context.Context
	cancel context.CancelFunc
	addr   string // the node's TCP and UDP address
	// Peer IPs are 127.ipNet.x.y, y 1..254, in turn; a banned IP is not
	// used again until the addresses wrap around (after 65,024 bans).
	ipNet      byte
	ipNext     int
	ip         netip.Addr // the current peer IP
	peer       *fuzzPeer
	inputs     int
	reconnects int
	nonce      uint64
}

// startVictim starts a node listening on listen, with a data dir (so the
// chain messages reach the store and the chain download).
func startVictim(dir, listen string, ipNet byte) (*fuzzVictim, error) {
	cfg := node.DefaultConfig()
	cfg.Listen = listen
	cfg.DataDir = dir
	cfg.Log = slog.New(slog.DiscardHandler)
	// Bans work as in production but expire sooner, so that the peer
	// addresses can be used again after they wrap around in a long run,
	// and the ban list (which Status sorts) stays small.
	cfg.BanDuration = fuzzBanDuration
	nd, err := node.New(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := nd.Start(ctx); err != nil {
		cancel()
		return nil, err
	}
	return &fuzzVictim{nd: nd, ctx: ctx, cancel: cancel, addr: nd.Addr(), ipNet: ipNet}, nil
}

func (v *fuzzVictim) close() {
	if v.peer != nil {
		v.peer.close()
		v.peer = nil
	}
	v.cancel()
	v.nd.Close()
}

// lazyVictim starts a victim on first use, once per fuzz process.
type lazyVictim struct {
	once sync.Once
	v    *fuzzVictim
	err  error
}

func (l *lazyVictim) get(t *testing.T, dir, listen string, ipNet byte) *fuzzVictim {
	t.Helper()
	l.once.Do(func() { l.v, l.err = startVictim(dir, listen, ipNet) })
	if l.err != nil {
		t.Fatalf("starting the victim node: %v", l.err)
	}
	return l.v
}

// closer returns a cleanup that logs what the victim went through and
// stops it.
func (l *lazyVictim) closer(f *testing.F) func() {
	return func() {
		v := l.v
		if v == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), fuzzWait)
		defer cancel()
		if st, err := v.nd.Status(ctx); err == nil {
			f.Logf("victim %s: %d inputs, %d connections, %d bans, %d jobs, %d peers, height %d, udp %+v",
				v.addr, v.inputs, v.reconnects, len(st.Bans), len(st.Jobs), len(st.Peers), st.Height, st.UDP)
			for _, j := range st.Jobs[:min(len(st.Jobs), 4)] {
				f.Logf("job %s: %s, %d/%d leaves, %d bodies", j.Block, j.State, j.LeavesVerified, j.Txs, j.Bodies)
			}
		}
		v.close()
	}
}

// fuzzPeer is one handshaken connection to the victim. No session runs on
// this side: the test writes frames and datagrams itself and a reader
// goroutine watches the control stream (BTADDR replies, DISCONNECT, EOF)
// and another the UDP socket (PONGs).
type fuzzPeer struct {
	conn    net.Conn
	pc      net.PacketConn
	sess    *session.Session
	token   wire.Token // the token the victim expects in datagrams
	to      net.Addr   // the victim's UDP address
	seq     uint32
	banned  atomic.Bool
	dead    chan struct{} // closed when the control stream ends
	replies atomic.Int64  // HEADERS frames received
	replyCh chan struct{} // a HEADERS arrived
	pongs   chan uint64   // nonces of PONGs received
	wg      sync.WaitGroup
	// asked counts GET_HEADERS frames sent that decode (the replies
	// expected).
	asked int64
}

func (p *fuzzPeer) close() {
	p.sess.Close()
	p.pc.Close()
	p.wg.Wait()
}

func (p *fuzzPeer) isDead() bool {
	select {
	case <-p.dead:
		return true
	default:
		return false
	}
}

// nopHandler is the Handler of the peer's session, which never runs.
type nopHandler struct{}

func (nopHandler) OnMessage(*session.Session, wire.Message, int) {}
func (nopHandler) OnBan(*session.Session, string)                {}

// nextIP returns the next peer IP (wrapping around after the last).
func (v *fuzzVictim) nextIP() netip.Addr {
	k := v.ipNext % (256 * 254)
	v.ipNext++
	return netip.AddrFrom4([4]byte{127, v.ipNet, byte(k / 254), byte(1 + k%254)})
}

// connect returns a live peer connection, reconnecting when the last one
// ended (from a fresh IP when the victim banned the last one).
func (v *fuzzVictim) connect(t *testing.T) *fuzzPeer {
	t.Helper()
	if v.peer != nil && !v.peer.isDead() {
		return v.peer
	}
	fresh := !v.ip.IsValid()
	if v.peer != nil {
		fresh = fresh || v.peer.banned.Load()
		v.peer.close()
		v.peer = nil
	}
	var lastErr error
	for range 20 {
		if fresh {
			v.ip = v.nextIP()
		}
		p, err := v.dial(v.ip)
		if err == nil {
			v.peer = p
			v.reconnects++
			return p
		}
		lastErr = err
		fresh = true // banned (the node closes at once) or the address is busy
	}
	// The node refusing every fresh address is not a crash, but it is not
	// a working node either: Status tells whether it is alive.
	v.checkStatus(t)
	t.Fatalf("cannot connect to the victim %s from 20 addresses: %v", v.addr, lastErr)
	return nil
}

// dial handshakes a new peer connection from ip.
func (v *fuzzVictim) dial(ip netip.Addr) (*fuzzPeer, error) {
	pc, err := net.ListenPacket("udp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: fuzzWait, LocalAddr: &net.TCPAddr{IP: ip.AsSlice()}}
	ctx, cancel := context.WithTimeout(v.ctx, fuzzWait)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", v.addr)
	if err != nil {
		pc.Close()
		return nil, err
	}
	params := &chaincfg.RegressionNetParams
	local := &session.Local{
		NetworkMagic: uint32(params.Net), Genesis: *params.GenesisHash,
		Services: wire.ServiceRelay, Features: wire.FeatureUnsolicited | wire.FeatureShortHashes,
		UDPPort: uint16(pc.LocalAddr().(*net.UDPAddr).Port), Nonce: session.RandomNonce(),
		UserAgent: "/fuzz/", Params: wire.DefaultSetParams(),
	}
	// The socket is never served: it exists for the binding; the reader
	// below reads the UDP socket itself.
	sock := transport.New(pc)
	s, err := session.Open(ctx, conn, sock, local, true, nopHandler{}, slog.New(slog.DiscardHandler))
	if err != nil {
		pc.Close()
		return nil, err
	}
	to, err := net.ResolveUDPAddr("udp", v.addr)
	if err != nil {
		s.Close()
		pc.Close()
		return nil, err
	}
	p := &fuzzPeer{
		conn: conn, pc: pc, sess: s, token: s.Version().Token, to: to,
		dead: make(chan struct{}), replyCh: make(chan struct{}, 1), pongs: make(chan uint64, 16),
	}
	// The dialer reads the listener's last handshake frame before it sends
	// its own, so nothing of the stream is left in the session's buffer:
	// a fresh reader on conn starts at a frame boundary.
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		defer close(p.dead)
		fr := wire.NewFrameReader(bufio.NewReader(conn))
		for {
			t, payload, err := fr.ReadFrame()
			if err != nil {
				return
			}
			switch t {
			case wire.TypeDisconnect:
				if m, err := wire.DecodeDisconnect(payload); err == nil && m.Reason == wire.ReasonBanned {
					p.banned.Store(true)
				}
				return
			case wire.TypeHeaders:
				p.replies.Add(1)
				select {
				case p.replyCh <- struct{}{}:
				default:
				}
			}
		}
	}()
	go func() {
		defer p.wg.Done()
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			h, payload, err := wire.ParseDatagram(buf[:n])
			if err != nil || h.Type != wire.TypePong {
				continue
			}
			if m, err := wire.DecodePong(payload); err == nil {
				select {
				case p.pongs <- m.Nonce:
				default:
				}
			}
		}
	}()
	return p, nil
}

// sendDatagram writes one datagram to the victim with the next SEQ.
func (p *fuzzPeer) sendDatagram(t wire.MsgType, payload []byte) error {
	p.seq++
	b := make([]byte, 0, wire.DatagramHeaderSize+len(payload))
	b = append(b, byte(t))
	b = append(b, p.token[:]...)
	b = wire.AppendUint32(b, p.seq)
	b = append(b, payload...)
	_, err := p.pc.WriteTo(b, p.to)
	return err
}

// sendFrame writes one TCP frame (TYPE, LENGTH, payload) to the victim.
func (p *fuzzPeer) sendFrame(t wire.MsgType, payload []byte) error {
	b := make([]byte, wire.FrameHeaderSize, wire.FrameHeaderSize+len(payload))
	b[0] = byte(t)
	binary.LittleEndian.PutUint32(b[1:], uint32(len(payload)))
	b = append(b, payload...)
	_ = p.conn.SetWriteDeadline(time.Now().Add(fuzzWait))
	_, err := p.conn.Write(b)
	return err
}

// checkStatus fails the input unless the node's Status answers in time.
func (v *fuzzVictim) checkStatus(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(v.ctx, fuzzWait)
	defer cancel()
	st, err := v.nd.Status(ctx)
	if err != nil {
		t.Fatalf("the node's Status does not answer after %d inputs: %v", v.inputs, err)
	}
	if st.Addr != v.addr {
		t.Fatalf("Status reports address %s, want %s", st.Addr, v.addr)
	}
}

// engineRoundTrip waits until the job engine has handled what was
// delivered to it before the call (its inbox is one queue).
func (v *fuzzVictim) engineRoundTrip(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(v.ctx, fuzzWait)
	defer cancel()
	if _, err := v.nd.Engine().Block(ctx, chainhash.Hash{}); err != nil {
		v.checkStatus(t)
		t.Fatalf("the job engine does not answer after %d inputs: %v", v.inputs, err)
	}
}

// afterInput runs the per-input liveness checks.
func (v *fuzzVictim) afterInput(t *testing.T) {
	t.Helper()
	v.engineRoundTrip(t)
	v.inputs++
	if v.inputs%statusEvery == 0 {
		v.checkStatus(t)
	}
}

// datagramInput sends one fuzz datagram and waits until the node handled
// it: a PING asking for a PONG follows it on the same socket, which the
// node's single UDP reader handles after it.
func (v *fuzzVictim) datagramInput(t *testing.T, typ wire.MsgType, payload []byte) {
	t.Helper()
	p := v.connect(t)
	if err := p.sendDatagram(typ, payload); err != nil {
		t.Fatalf("send: %v", err)
	}
	v.nonce++
	nonce := v.nonce
	if err := p.sendDatagram(wire.TypePing, wire.NewPing(nonce, wire.PingReply, wire.DatagramHeaderSize+wire.PongSize).Append(nil)); err != nil {
		t.Fatalf("send: %v", err)
	}
	timer := time.NewTimer(fuzzWait)
	defer timer.Stop()
wait:
	for {
		select {
		case n := <-p.pongs:
			if n == nonce {
				break wait
			}
		case <-p.dead:
			break wait // penalised and disconnected: the next input reconnects
		case <-timer.C:
			// A datagram may be lost on a loaded machine; a node that is
			// alive answers Status. Start over with a fresh connection.
			v.checkStatus(t)
			p.sess.Close()
			break wait
		}
	}
	v.afterInput(t)
}

// frameInput sends one fuzz frame and waits until the node handled it: a
// GET_HEADERS for an unknown block follows it on the stream, and the node
// answers it (an empty HEADERS) after it has handled the frame before.
// (GET_BTADDR served as the barrier until a second one within 30 s became
// a protocol violation.)
func (v *fuzzVictim) frameInput(t *testing.T, typ wire.MsgType, payload []byte) {
	t.Helper()
	p := v.connect(t)
	if err := p.sendFrame(typ, payload); err != nil {
		// The node closed the connection already (an earlier input).
		p.sess.Close()
		v.afterInput(t)
		return
	}
	if typ == wire.TypeGetHeaders {
		if _, err := wire.DecodeGetHeaders(payload); err == nil {
			p.asked++
		}
	}
	barrier := (&wire.GetHeaders{Max: 1}).Append(nil)
	if err := p.sendFrame(wire.TypeGetHeaders, barrier); err == nil {
		p.asked++
	}
	timer := time.NewTimer(fuzzWait)
	defer timer.Stop()
	for p.replies.Load() < p.asked {
		select {
		case <-p.replyCh:
		case <-p.dead:
			v.afterInput(t)
			return
		case <-timer.C:
			v.checkStatus(t)
			p.sess.Close()
			v.afterInput(t)
			return
		}
	}
	v.afterInput(t)
}

// vectorSeeds returns the vectors of a wire vector file as fuzz inputs: the
// index of the type in types, then the payload.
func vectorSeeds(f *testing.F, file string, types []wire.MsgType) [][]byte {
	f.Helper()
	raw, err := os.ReadFile(filepath.Join(fuzzVectors, file))
	if err != nil {
		f.Fatal(err)
	}
	var vs []struct {
		Type int    `json:"type"`
		Hex  string `json:"hex"`
	}
	if err := json.Unmarshal(raw, &vs); err != nil {
		f.Fatal(err)
	}
	var out [][]byte
	for _, v := range vs {
		k, ok := typeIndex(types, wire.MsgType(v.Type))
		if !ok {
			continue
		}
		b, err := hex.DecodeString(v.Hex)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, append([]byte{k}, b...))
	}
	return out
}

// seedBlock returns messages about a small real regtest block: OPEN_JOB
// with its root lap, then data and requests for it, so the seeds open a
// job and feed it.
func seedBlock(f *testing.F) []wire.Message {
	f.Helper()
	blk, err := blockgen.Block(blockgen.Config{Txs: 20, Seed: 90, Prev: *chaincfg.RegressionNetParams.GenesisHash, Height: 1})
	if err != nil {
		f.Fatal(err)
	}
	leaves := make([]chainhash.Hash, len(blk.Transactions))
	for i, tx := range blk.Transactions {
		leaves[i] = tx.TxHash()
	}
	levels := merkle.Levels(leaves)
	shape := merkle.MustShape(uint32(len(leaves)))
	lap, err := wire.BuildRootLap(shape, func(p merkle.Pos) chainhash.Hash { return levels[p.Level][p.Index] })
	if err != nil {
		f.Fatal(err)
	}
	id := wire.JobIDOf(blk.BlockHash())
	depth := shape.Depth()
	msgs := []wire.Message{
		&wire.OpenJob{Header: blk.Header, TxCount: uint32(len(leaves)), Flags: wire.OpenJobHasBodies, Lap: lap},
		&wire.JobState{JobID: id, StateSeq: 1, Nodes: wire.Workout{Runs: []wire.Run{wire.HashlessFlat(depth, 0, 8)}}},
		&wire.Nodes{JobID: id, Runs: wire.Workout{Runs: []wire.Run{wire.FlatRun(depth, 0, leaves[:8])}}},
		&wire.GetNodes{JobID: id, ReqID: 7, Want: wire.Workout{Runs: []wire.Run{wire.HashlessFlat(depth, 0, int(shape.Count(depth)))}}},
		&wire.GetTxs{JobID: id, ReqID: 8, Leaves: wire.Workout{Runs: []wire.Run{wire.HashlessFlat(depth, 0, 4)}}},
	}
	// Every leaf, then every body (cut into fragments of up to 1,000
	// bytes): the seeds complete the block.
	msgs = append(msgs, &wire.Nodes{JobID: id, Runs: wire.Workout{Runs: []wire.Run{wire.FlatRun(depth, 0, leaves)}}})
	for i, tx := range blk.Transactions {
		var buf bytes.Buffer
		if err := tx.Serialize(&buf); err != nil {
			f.Fatal(err)
		}
		body := buf.Bytes()
		for off := 0; off < len(body); off += 1000 {
			end := min(off+1000, len(body))
			msgs = append(msgs, &wire.Txs{JobID: id, Fragments: []wire.TxFragment{
				{Leaf: uint32(i), Total: uint32(len(body)), Offset: uint32(off), Data: body[off:end]},
			}})
		}
	}
	msgs = append(msgs,
		wire.NewPing(1, wire.PingReply, 200),
		&wire.CloseJob{JobID: id},
	)
	return msgs
}

// FuzzNodeDatagram sends each input as one datagram of a handshaken peer
// to a live node: TYPE from the first byte (datagramTypes), the victim's
// token, a fresh SEQ, the rest as payload (cut to the largest datagram).
// The node must stay up and answer.
func FuzzNodeDatagram(f *testing.F) {
	for _, s := range vectorSeeds(f, "messages_udp.json", datagramTypes) {
		f.Add(s)
	}
	for _, m := range seedBlock(f) {
		t, ok := m.Type().UDPType()
		if !ok {
			continue
		}
		k, _ := typeIndex(datagramTypes, t)
		f.Add(append([]byte{k}, m.Append(nil)...))
	}
	var lazy lazyVictim
	dir := f.TempDir()
	f.Cleanup(lazy.closer(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		v := lazy.get(t, dir, "127.77.90.1:0", 78)
		typ := datagramTypes[int(data[0])%len(datagramTypes)]
		payload := data[1:]
		if max := wire.MaxDatagramSize - wire.DatagramHeaderSize; len(payload) > max {
			payload = payload[:max]
		}
		v.datagramInput(t, typ, payload)
	})
}

// FuzzNodeFrame sends each input as one TCP control frame of a handshaken
// peer to a live node: TYPE from the first byte (frameTypes), LENGTH, the
// rest as payload. The node disconnects on malformed frames; the peer
// reconnects. The node must stay up and answer.
func FuzzNodeFrame(f *testing.F) {
	for _, s := range vectorSeeds(f, "messages_tcp.json", frameTypes) {
		f.Add(s)
	}
	for _, m := range seedBlock(f) {
		if k, ok := typeIndex(frameTypes, m.Type()); ok {
			f.Add(append([]byte{k}, m.Append(nil)...))
		}
	}
	gh, _ := typeIndex(frameTypes, wire.TypeGetHeaders)
	f.Add(append([]byte{gh}, (&wire.GetHeaders{Hash: *chaincfg.RegressionNetParams.GenesisHash, Max: 2000}).Append(nil)...))
	var lazy lazyVictim
	dir := f.TempDir()
	f.Cleanup(lazy.closer(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		v := lazy.get(t, dir, "127.77.90.2:0", 79)
		typ := frameTypes[int(data[0])%len(frameTypes)]
		v.frameInput(t, typ, data[1:])
	})
}
