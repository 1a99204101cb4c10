package lab

import (
	"bytes"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/blocktorrent/blocktorrent/internal/wire"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// CorruptMode selects what a Corruptor falsifies in the datagrams a node
// sends.
type CorruptMode int

// The corruption modes.
const (
	// WrongHash flips a byte of one full 32-byte hash in each NODES
	// datagram: the group no longer recomputes its verified ancestor.
	WrongHash CorruptMode = iota + 1
	// WrongSibling swaps a left/right sibling pair (two different hashes
	// at an even and the next odd index of a flat run) in each NODES
	// datagram: every hash is genuine, but their order is not.
	WrongSibling
	// WrongBody flips a byte of the version field of one transaction (the
	// first fragment that starts a body) in each TXS datagram: the body
	// still decodes, but its txid is not the leaf's.
	WrongBody
	// WrongWitness flips a byte of the first witness item of every whole
	// witness-bearing transaction in each TXS datagram: the txid (and so
	// every merkle check) still holds, only the block's witness
	// commitment can expose the lie.
	WrongWitness
)

// String names the mode.
func (m CorruptMode) String() string {
	switch m {
	case WrongHash:
		return "wrong-hash"
	case WrongSibling:
		return "wrong-sibling"
	case WrongBody:
		return "wrong-body"
	case WrongWitness:
		return "wrong-witness"
	}
	return "none"
}

// Corruptor is a net.PacketConn that falsifies the job data a node sends
// (fault injection: an evil peer). It parses every outgoing datagram;
// NODES datagrams (WrongHash, WrongSibling) or TXS datagrams (WrongBody,
// WrongWitness) are decoded, corrupted and re-encoded with the same header (type, token and
// SEQ), so the receiver's transport accepts them and only its verification
// can catch the lie. Every other datagram passes through unchanged, and so
// do datagrams the mode finds nothing to corrupt in. Install it with
// node.Config.WrapPacketConn.
type Corruptor struct {
	net.PacketConn
	mode      CorruptMode
	corrupted atomic.Int64
}

// NewCorruptor wraps pc.
func NewCorruptor(pc net.PacketConn, mode CorruptMode) *Corruptor {
	return &Corruptor{PacketConn: pc, mode: mode}
}

// Corrupted returns the number of datagrams falsified so far.
func (c *Corruptor) Corrupted() int64 { return c.corrupted.Load() }

// WriteTo writes p, or a corrupted copy of it, to addr. It reports len(p)
// on success, whatever the size of what was written. p is not modified.
func (c *Corruptor) WriteTo(p []byte, addr net.Addr) (int, error) {
	if out := c.corrupt(p); out != nil {
		if _, err := c.PacketConn.WriteTo(out, addr); err != nil {
			return 0, err
		}
		c.corrupted.Add(1)
		return len(p), nil
	}
	return c.PacketConn.WriteTo(p, addr)
}

// corrupt returns the falsified datagram, or nil when p is left alone.
func (c *Corruptor) corrupt(p []byte) []byte {
	h, payload, err := wire.ParseDatagram(p)
	if err != nil {
		return nil
	}
	// Decoded messages alias their payload: work on a copy.
	payload = bytes.Clone(payload)
	var m wire.Message
	switch {
	case h.Type == wire.TypeNodes && (c.mode == WrongHash || c.mode == WrongSibling):
		nm, err := wire.DecodeNodes(payload)
		if err != nil || !c.corruptNodes(nm) {
			return nil
		}
		m = nm
	case h.Type == wire.TypeTxs && (c.mode == WrongBody || c.mode == WrongWitness):
		corrupt := corruptTxs
		if c.mode == WrongWitness {
			corrupt = corruptWitnesses
		}
		tm, err := wire.DecodeTxs(payload)
		if err != nil || !corrupt(tm) {
			return nil
		}
		m = tm
	default:
		return nil
	}
	return wire.AppendDatagram(make([]byte, 0, len(p)), h, m)
}

// corruptNodes falsifies one run of m and reports whether it did.
func (c *Corruptor) corruptNodes(m *wire.Nodes) bool {
	for i := range m.Runs.Runs {
		run := &m.Runs.Runs[i]
		s := &run.Seq
		// Only runs of full hashes: a receiver never scores a peer over a
		// short hash, which may simply collide in its mempool.
		if s.DefaultSize != wire.MaxHashSize || len(s.Exceptions) != 0 || s.Count < 1 ||
			len(s.Data) != s.Count*wire.MaxHashSize {
			continue
		}
		hs := s.Hashes()
		switch c.mode {
		case WrongHash:
			hs[len(hs)/2][0] ^= 0xff
			return true
		case WrongSibling:
			if run.Dir != wire.Flat {
				continue
			}
			for k := int(run.Start % 2); k+1 < len(hs); k += 2 {
				a, b := hs[k], hs[k+1]
				if bytes.Equal(a, b) {
					continue // swapping equal siblings changes nothing
				}
				var tmp [wire.MaxHashSize]byte
				copy(tmp[:], a)
				copy(a, b)
				copy(b, tmp[:])
				return true
			}
		}
	}
	return false
}

// corruptTxs flips a byte of the version of the first whole-or-starting
// body in m and reports whether there was one. The version is covered by
// the txid (witness data is not), and any version decodes.
func corruptTxs(m *wire.Txs) bool {
	for i := range m.Fragments {
		f := &m.Fragments[i]
		if f.Offset == 0 && len(f.Data) > 0 {
			f.Data[0] ^= 0x01
			return true
		}
	}
	return false
}

// corruptWitnesses flips a byte of the first witness item of every whole
// body in m that carries a witness, and reports whether there was one. The
// serialization keeps its size, so the fragment's TOTAL still holds.
func corruptWitnesses(m *wire.Txs) bool {
	done := false
	for i := range m.Fragments {
		f := &m.Fragments[i]
		if f.Offset != 0 || len(f.Data) != int(f.Total) {
			continue
		}
		var tx btcwire.MsgTx
		if tx.Deserialize(bytes.NewReader(f.Data)) != nil || !tx.HasWitness() {
			continue
		}
		for _, in := range tx.TxIn {
			if len(in.Witness) > 0 && len(in.Witness[0]) > 0 {
				in.Witness[0][len(in.Witness[0])/2] ^= 0x01
				break
			}
		}
		var buf bytes.Buffer
		if tx.Serialize(&buf) != nil || buf.Len() != len(f.Data) {
			continue
		}
		f.Data = buf.Bytes()
		done = true
	}
	return done
}

// Recorder is a net.PacketConn that keeps a copy of the last datagram the
// node sent to each address, and can inject datagrams from the node's own
// address (fault injection: replayed or forged datagrams). Install it with
// node.Config.WrapPacketConn.
type Recorder struct {
	net.PacketConn
	mu   sync.Mutex
	last map[netip.AddrPort][]byte
}

// NewRecorder wraps pc.
func NewRecorder(pc net.PacketConn) *Recorder {
	return &Recorder{PacketConn: pc, last: make(map[netip.AddrPort][]byte)}
}

// WriteTo records p as the last datagram to addr and writes it.
func (r *Recorder) WriteTo(p []byte, addr net.Addr) (int, error) {
	if ap, ok := addrPort(addr); ok {
		r.mu.Lock()
		r.last[ap] = append(r.last[ap][:0], p...)
		r.mu.Unlock()
	}
	return r.PacketConn.WriteTo(p, addr)
}

// Last returns a copy of the last datagram sent to to, if any.
func (r *Recorder) Last(to netip.AddrPort) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.last[to]
	return bytes.Clone(b), ok
}

// Inject writes p to to from the node's socket, without recording it.
func (r *Recorder) Inject(p []byte, to netip.AddrPort) error {
	_, err := r.PacketConn.WriteTo(p, net.UDPAddrFromAddrPort(to))
	return err
}

// addrPort returns a UDP address as an unmapped netip.AddrPort.
func addrPort(a net.Addr) (netip.AddrPort, bool) {
	ua, ok := a.(*net.UDPAddr)
	if !ok || ua == nil {
		return netip.AddrPort{}, false
	}
	ap := ua.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}
