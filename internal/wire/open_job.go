package wire

import (
	btcwire "github.com/btcsuite/btcd/wire/v2"
)

// MaxTxCount is the largest number of transactions of a job's block
// (TX_COUNT 1..131,072).
const MaxTxCount = 131072

// OPEN_JOB FLAGS bits.
const (
	// OpenJobHasBodies: the sender holds every transaction body.
	OpenJobHasBodies = 1 << 0
	// OpenJobLate: a catch-up offer, to a peer that connected after the
	// job opened at the sender: old news, which the receiver must not
	// offer to peers of its own that connect later (docs/protocol.md §6).
	OpenJobLate  = 1 << 1
	openJobFlags = OpenJobHasBodies | OpenJobLate
)

// OpenJob is OPEN_JOB, sent on TCP (0x08) and UDP (0x42) with the same
// payload (docs/protocol.md §6). Type reports the TCP number; AppendDatagram
// writes the UDP one.
//
// The decoder checks the encoding: TX_COUNT in 1..131,072 (ErrLimit), no
// undefined FLAGS bit (ErrReserved) and a well-formed workout. Proof of work,
// the lap's positions, its cover and its root are for the job engine
// (merkle package).
type OpenJob struct {
	Header  btcwire.BlockHeader
	TxCount uint32
	Flags   uint8
	Lap     Workout // a root lap containing the last leaf
}

// Type returns TypeOpenJob (the TCP number).
func (*OpenJob) Type() MsgType { return TypeOpenJob }

// JobID returns the job's ID, derived from the header's hash.
func (m *OpenJob) JobID() JobID { return JobIDOf(m.Header.BlockHash()) }

// Append appends the payload.
func (m *OpenJob) Append(b []byte) []byte {
	b = AppendHeader(b, &m.Header)
	b = AppendVarint(b, uint64(m.TxCount))
	b = append(b, m.Flags)
	return AppendWorkout(b, &m.Lap, false)
}

// DecodeOpenJob decodes an OPEN_JOB payload (either channel). The lap's
// hashes alias payload.
func DecodeOpenJob(payload []byte) (*OpenJob, error) {
	r := NewReader(payload)
	m := &OpenJob{Header: ReadHeader(r)}
	n := r.Varint()
	if r.Err() == nil && (n < 1 || n > MaxTxCount) {
		r.Fail(errorf(ErrLimit, "TX_COUNT %d outside 1..%d", n, MaxTxCount))
	}
	m.TxCount = uint32(n)
	m.Flags = r.Uint8()
	if r.Err() == nil && m.Flags&^openJobFlags != 0 {
		r.Fail(errorf(ErrReserved, "OPEN_JOB flags %#02x", m.Flags))
	}
	if r.Err() == nil {
		m.Lap = ReadWorkout(r, false)
	}
	if err := r.Done(); err != nil {
		return nil, err
	}
	return m, nil
}
