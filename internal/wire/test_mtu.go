package wire

// KIND values of TEST_MTU and ESTIMATE_BANDWIDTH.
const (
	KindProbe  = 0 // TEST_MTU: PINGs follow; ESTIMATE_BANDWIDTH: train announced
	KindResult = 1
)

// Limits of TEST_MTU.
const (
	MaxMTUSizes    = 16
	MinProbeSize   = 64   // smallest SIZE (whole UDP payload) of a probe
	MaxProbeSize   = 1472 // largest SIZE, MaxDatagramSize
	testMTUMaxSize = 1 + 8 + 1 + 2*MaxMTUSizes
)

// TestMTU is TEST_MTU (0x06). KIND 0 announces one PING per size, with
// NONCE = Base + i; KIND 1 lists the sizes that arrived. The decoder rejects
// a KIND above 1 (ErrReserved), N > 16 (ErrLimit) and a SIZE outside
// 64..1,472 (ErrLimit).
type TestMTU struct {
	Kind  uint8
	Base  uint64   `json:",string"`
	Sizes []uint16 // whole UDP payload sizes; nil when N is 0
}

// Type returns TypeTestMTU.
func (*TestMTU) Type() MsgType { return TypeTestMTU }

// Append appends the payload.
func (m *TestMTU) Append(b []byte) []byte {
	b = append(b, m.Kind)
	b = AppendUint64(b, m.Base)
	b = append(b, byte(len(m.Sizes)))
	for _, s := range m.Sizes {
		b = AppendUint16(b, s)
	}
	return b
}

// DecodeTestMTU decodes a TEST_MTU payload.
func DecodeTestMTU(payload []byte) (*TestMTU, error) {
	r := NewReader(payload)
	m := &TestMTU{Kind: r.Uint8(), Base: r.Uint64()}
	n := int(r.Uint8())
	if r.Err() == nil {
		switch {
		case m.Kind > KindResult:
			r.Fail(errorf(ErrReserved, "TEST_MTU kind %d", m.Kind))
		case n > MaxMTUSizes:
			r.Fail(errorf(ErrLimit, "TEST_MTU of %d sizes above %d", n, MaxMTUSizes))
		case n > 0:
			m.Sizes = make([]uint16, n)
		}
	}
	for i := range m.Sizes {
		m.Sizes[i] = r.Uint16()
		if r.Err() != nil {
			break
		}
		if m.Sizes[i] < MinProbeSize || m.Sizes[i] > MaxProbeSize {
			r.Fail(errorf(ErrLimit, "probe size %d outside %d..%d", m.Sizes[i], MinProbeSize, MaxProbeSize))
		}
	}
	if err := r.Done(); err != nil {
		return nil, err
	}
	return m, nil
}
