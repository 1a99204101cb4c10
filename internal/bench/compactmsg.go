package bench

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// The BIP152 messages, in BIP152's own encoding (transactions with witness
// serialization, as in compact blocks version 2), as btcwire.Message
// values so btcwire.WriteMessage frames them with the usual 24-byte header
// (magic, command, length, checksum). btcwire.ReadMessage does not know
// their commands, so readFrame reads them.

const (
	cmdCmpctBlock  = "cmpctblock"
	cmdGetBlockTxn = "getblocktxn"
	cmdBlockTxn    = "blocktxn"
	shortIDBytes   = 6
	maxListLen     = btcwire.MaxMessagePayload / shortIDBytes
	frameHeaderLen = 24
)

var errMalformed = errors.New("bench: malformed compact block message")

// prefilledTx is a transaction sent in full inside a cmpctblock; Index is
// its absolute position in the block (the encoding is differential).
type prefilledTx struct {
	Index int
	Tx    *btcwire.MsgTx
}

// msgCmpctBlock is BIP152's cmpctblock (HeaderAndShortIDs).
type msgCmpctBlock struct {
	Header    btcwire.BlockHeader
	Nonce     uint64
	ShortIDs  []uint64
	Prefilled []prefilledTx
}

// newCmpctBlock makes the cmpctblock of blk with the given nonce, ids[i]
// being the hash that names transaction i (txid for version 1, wtxid for
// version 2), prefilling the coinbase.
func newCmpctBlock(blk *btcwire.MsgBlock, nonce uint64, ids []chainhash.Hash) *msgCmpctBlock {
	m := &msgCmpctBlock{Header: blk.Header, Nonce: nonce}
	key := ShortIDKey(&blk.Header, nonce)
	m.Prefilled = []prefilledTx{{Index: 0, Tx: blk.Transactions[0]}}
	m.ShortIDs = make([]uint64, 0, len(ids)-1)
	for i := 1; i < len(ids); i++ {
		m.ShortIDs = append(m.ShortIDs, ShortID(&key, &ids[i]))
	}
	return m
}

func (m *msgCmpctBlock) Command() string                   { return cmdCmpctBlock }
func (m *msgCmpctBlock) MaxPayloadLength(uint32) uint32    { return btcwire.MaxMessagePayload }
func (m *msgGetBlockTxn) Command() string                  { return cmdGetBlockTxn }
func (m *msgGetBlockTxn) MaxPayloadLength(uint32) uint32   { return btcwire.MaxMessagePayload }
func (m *msgBlockTxn) Command() string                     { return cmdBlockTxn }
func (m *msgBlockTxn) MaxPayloadLength(uint32) uint32      { return btcwire.MaxMessagePayload }
func writeVarInt(w io.Writer, pver uint32, v uint64) error { return btcwire.WriteVarInt(w, pver, v) }

func (m *msgCmpctBlock) BtcEncode(w io.Writer, pver uint32, _ btcwire.MessageEncoding) error {
	if err := m.Header.Serialize(w); err != nil {
		return err
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], m.Nonce)
	if _, err := w.Write(b[:]); err != nil {
		return err
	}
	if err := writeVarInt(w, pver, uint64(len(m.ShortIDs))); err != nil {
		return err
	}
	ids := make([]byte, 0, shortIDBytes*len(m.ShortIDs))
	for _, id := range m.ShortIDs {
		binary.LittleEndian.PutUint64(b[:], id)
		ids = append(ids, b[:shortIDBytes]...)
	}
	if _, err := w.Write(ids); err != nil {
		return err
	}
	if err := writeVarInt(w, pver, uint64(len(m.Prefilled))); err != nil {
		return err
	}
	prev := -1
	for _, p := range m.Prefilled {
		if p.Index <= prev {
			return fmt.Errorf("%w: prefilled indexes not increasing", errMalformed)
		}
		if err := writeVarInt(w, pver, uint64(p.Index-prev-1)); err != nil {
			return err
		}
		prev = p.Index
		if err := p.Tx.BtcEncode(w, pver, btcwire.WitnessEncoding); err != nil {
			return err
		}
	}
	return nil
}

func (m *msgCmpctBlock) BtcDecode(r io.Reader, pver uint32, _ btcwire.MessageEncoding) error {
	if err := m.Header.Deserialize(r); err != nil {
		return err
	}
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return err
	}
	m.Nonce = binary.LittleEndian.Uint64(b[:])
	n, err := btcwire.ReadVarInt(r, pver)
	if err != nil {
		return err
	}
	if n > maxListLen {
		return fmt.Errorf("%w: %d short ids", errMalformed, n)
	}
	raw := make([]byte, shortIDBytes*int(n))
	if _, err := io.ReadFull(r, raw); err != nil {
		return err
	}
	m.ShortIDs = make([]uint64, n)
	for i := range m.ShortIDs {
		var v [8]byte
		copy(v[:], raw[shortIDBytes*i:shortIDBytes*(i+1)])
		m.ShortIDs[i] = binary.LittleEndian.Uint64(v[:])
	}
	np, err := btcwire.ReadVarInt(r, pver)
	if err != nil {
		return err
	}
	if np > maxListLen {
		return fmt.Errorf("%w: %d prefilled", errMalformed, np)
	}
	m.Prefilled = nil
	idx := -1
	for range np {
		d, err := btcwire.ReadVarInt(r, pver)
		if err != nil {
			return err
		}
		if d > maxListLen {
			return fmt.Errorf("%w: prefilled index", errMalformed)
		}
		idx += int(d) + 1
		tx := new(btcwire.MsgTx)
		if err := tx.BtcDecode(r, pver, btcwire.WitnessEncoding); err != nil {
			return err
		}
		m.Prefilled = append(m.Prefilled, prefilledTx{Index: idx, Tx: tx})
	}
	if idx >= len(m.ShortIDs)+len(m.Prefilled) {
		return fmt.Errorf("%w: prefilled index %d beyond the block", errMalformed, idx)
	}
	return nil
}

// msgGetBlockTxn is BIP152's getblocktxn (BlockTransactionsRequest).
type msgGetBlockTxn struct {
	Block   chainhash.Hash
	Indexes []int // absolute, increasing
}

func (m *msgGetBlockTxn) BtcEncode(w io.Writer, pver uint32, _ btcwire.MessageEncoding) error {
	if _, err := w.Write(m.Block[:]); err != nil {
		return err
	}
	if err := writeVarInt(w, pver, uint64(len(m.Indexes))); err != nil {
		return err
	}
	prev := -1
	for _, i := range m.Indexes {
		if i <= prev {
			return fmt.Errorf("%w: indexes not increasing", errMalformed)
		}
		if err := writeVarInt(w, pver, uint64(i-prev-1)); err != nil {
			return err
		}
		prev = i
	}
	return nil
}

func (m *msgGetBlockTxn) BtcDecode(r io.Reader, pver uint32, _ btcwire.MessageEncoding) error {
	if _, err := io.ReadFull(r, m.Block[:]); err != nil {
		return err
	}
	n, err := btcwire.ReadVarInt(r, pver)
	if err != nil {
		return err
	}
	if n > maxListLen {
		return fmt.Errorf("%w: %d indexes", errMalformed, n)
	}
	m.Indexes = make([]int, 0, n)
	idx := -1
	for range n {
		d, err := btcwire.ReadVarInt(r, pver)
		if err != nil {
			return err
		}
		if d > maxListLen || idx+int(d)+1 > maxListLen {
			return fmt.Errorf("%w: index", errMalformed)
		}
		idx += int(d) + 1
		m.Indexes = append(m.Indexes, idx)
	}
	return nil
}

// msgBlockTxn is BIP152's blocktxn (BlockTransactions).
type msgBlockTxn struct {
	Block chainhash.Hash
	Txs   []*btcwire.MsgTx
}

func (m *msgBlockTxn) BtcEncode(w io.Writer, pver uint32, _ btcwire.MessageEncoding) error {
	if _, err := w.Write(m.Block[:]); err != nil {
		return err
	}
	if err := writeVarInt(w, pver, uint64(len(m.Txs))); err != nil {
		return err
	}
	for _, tx := range m.Txs {
		if err := tx.BtcEncode(w, pver, btcwire.WitnessEncoding); err != nil {
			return err
		}
	}
	return nil
}

func (m *msgBlockTxn) BtcDecode(r io.Reader, pver uint32, _ btcwire.MessageEncoding) error {
	if _, err := io.ReadFull(r, m.Block[:]); err != nil {
		return err
	}
	n, err := btcwire.ReadVarInt(r, pver)
	if err != nil {
		return err
	}
	if n > maxListLen {
		return fmt.Errorf("%w: %d transactions", errMalformed, n)
	}
	m.Txs = make([]*btcwire.MsgTx, 0, min(n, 1<<16))
	for range n {
		tx := new(btcwire.MsgTx)
		if err := tx.BtcDecode(r, pver, btcwire.WitnessEncoding); err != nil {
			return err
		}
		m.Txs = append(m.Txs, tx)
	}
	return nil
}

// encodeMessage frames msg as btcwire.WriteMessage does, into one buffer,
// so that one Write hands the whole message to the connection.
func encodeMessage(msg btcwire.Message, magic btcwire.BitcoinNet) ([]byte, error) {
	var b bytes.Buffer
	if err := btcwire.WriteMessage(&b, msg, btcwire.ProtocolVersion, magic); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// readFrame reads one message framed like Bitcoin's P2P messages and
// decodes the BIP152 ones.
func readFrame(r *bufio.Reader, magic btcwire.BitcoinNet) (btcwire.Message, error) {
	var hdr [frameHeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	if got := btcwire.BitcoinNet(binary.LittleEndian.Uint32(hdr[0:4])); got != magic {
		return nil, fmt.Errorf("%w: network magic %v", errMalformed, got)
	}
	cmd := string(bytes.TrimRight(hdr[4:16], "\x00"))
	n := binary.LittleEndian.Uint32(hdr[16:20])
	if n > btcwire.MaxMessagePayload {
		return nil, fmt.Errorf("%w: payload of %d bytes", errMalformed, n)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, err
	}
	if sum := chainhash.DoubleHashB(payload); !bytes.Equal(sum[:4], hdr[20:24]) {
		return nil, fmt.Errorf("%w: bad checksum", errMalformed)
	}
	var msg btcwire.Message
	switch cmd {
	case cmdCmpctBlock:
		msg = new(msgCmpctBlock)
	case cmdGetBlockTxn:
		msg = new(msgGetBlockTxn)
	case cmdBlockTxn:
		msg = new(msgBlockTxn)
	default:
		return nil, fmt.Errorf("%w: unexpected command %q", errMalformed, cmd)
	}
	br := bytes.NewReader(payload)
	if err := msg.BtcDecode(br, btcwire.ProtocolVersion, btcwire.WitnessEncoding); err != nil {
		return nil, err
	}
	if br.Len() != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes in %s", errMalformed, br.Len(), cmd)
	}
	return msg, nil
}
