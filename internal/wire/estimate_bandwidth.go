package wire

// Limits of ESTIMATE_BANDWIDTH.
const (
	MinTrainCount = 2
	MaxTrainCount = 256
)

// EstimateBandwidthSize is the size of an ESTIMATE_BANDWIDTH payload.
const EstimateBandwidthSize = 1 + 8 + 2 + 2 + 8

// EstimateBandwidth is ESTIMATE_BANDWIDTH (0x07). KIND 0 (KindProbe)
// announces a train of Count PINGs of Size bytes with nonces from Base; KIND
// 1 (KindResult) answers with Rate. RATE is always present; a KIND 0 sender
// writes 0 and a receiver ignores it. The decoder rejects a KIND above 1
// (ErrReserved), COUNT outside 2..256 and SIZE outside 64..1,472 (ErrLimit;
// SIZE is a whole UDP payload size, as in TEST_MTU).
type EstimateBandwidth struct {
	Kind  uint8
	Base  uint64 `json:",string"`
	Count uint16
	Size  uint16
	Rate  uint64 `json:",string"` // bits/s, 0 if unknown
}

// Type returns TypeEstimateBandwidth.
func (*EstimateBandwidth) Type() MsgType { return TypeEstimateBandwidth }

// Append appends the payload.
func (m *EstimateBandwidth) Append(b []byte) []byte {
	b = append(b, m.Kind)
	b = AppendUint64(b, m.Base)
	b = AppendUint16(b, m.Count)
	b = AppendUint16(b, m.Size)
	return AppendUint64(b, m.Rate)
}

// DecodeEstimateBandwidth decodes an ESTIMATE_BANDWIDTH payload.
func DecodeEstimateBandwidth(payload []byte) (*EstimateBandwidth, error) {
	r := NewReader(payload)
	m := &EstimateBandwidth{Kind: r.Uint8(), Base: r.Uint64(), Count: r.Uint16(), Size: r.Uint16(), Rate: r.Uint64()}
	if err := r.Done(); err != nil {
		return nil, err
	}
	switch {
	case m.Kind > KindResult:
		return nil, errorf(ErrReserved, "ESTIMATE_BANDWIDTH kind %d", m.Kind)
	case m.Count < MinTrainCount || m.Count > MaxTrainCount:
		return nil, errorf(ErrLimit, "train of %d PINGs outside %d..%d", m.Count, MinTrainCount, MaxTrainCount)
	case m.Size < MinProbeSize || m.Size > MaxProbeSize:
		return nil, errorf(ErrLimit, "PING size %d outside %d..%d", m.Size, MinProbeSize, MaxProbeSize)
	}
	return m, nil
}
