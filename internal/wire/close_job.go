package wire

import "fmt"

// CloseReason is CLOSE_JOB's REASON.
type CloseReason uint8

// The CLOSE_JOB reasons.
const (
	CloseComplete     CloseReason = 0
	CloseAbandoned    CloseReason = 1
	CloseInvalidBlock CloseReason = 2 // merkle-valid, rejected by the Bitcoin node
	CloseSuperseded   CloseReason = 3
)

var closeReasons = [...]string{"complete", "abandoned", "invalid-block", "superseded"}

// String names the reason.
func (c CloseReason) String() string {
	if int(c) < len(closeReasons) {
		return closeReasons[c]
	}
	return fmt.Sprintf("CloseReason(%d)", uint8(c))
}

// CloseJobSize is the size of a CLOSE_JOB payload.
const CloseJobSize = 9

// CloseJob is CLOSE_JOB, sent on TCP (0x09) and UDP (0x4a) with the same
// payload. Type reports the TCP number; AppendDatagram writes the UDP one.
// The decoder rejects a REASON above 3 (ErrReserved).
type CloseJob struct {
	JobID  JobID
	Reason CloseReason
}

// Type returns TypeCloseJob (the TCP number).
func (*CloseJob) Type() MsgType { return TypeCloseJob }

// Append appends the payload.
func (m *CloseJob) Append(b []byte) []byte {
	b = append(b, m.JobID[:]...)
	return append(b, byte(m.Reason))
}

// DecodeCloseJob decodes a CLOSE_JOB payload (either channel).
func DecodeCloseJob(payload []byte) (*CloseJob, error) {
	r := NewReader(payload)
	m := &CloseJob{JobID: readJobID(r), Reason: CloseReason(r.Uint8())}
	if err := r.Done(); err != nil {
		return nil, err
	}
	if m.Reason > CloseSuperseded {
		return nil, errorf(ErrReserved, "CLOSE_JOB reason %d", m.Reason)
	}
	return m, nil
}

// readJobID reads an 8-byte JOB_ID.
func readJobID(r *Reader) (id JobID) {
	copy(id[:], r.Bytes(len(id)))
	return id
}
