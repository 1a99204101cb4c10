package wire

import "testing"

func testMTUSamples() []msgSample {
	all := make([]uint16, MaxMTUSizes)
	for i := range all {
		all[i] = uint16(MinProbeSize + i*(MaxProbeSize-MinProbeSize)/(MaxMTUSizes-1))
	}
	return []msgSample{
		{name: "TEST_MTU probe", m: &TestMTU{Kind: KindProbe, Base: 0x1122334455667788, Sizes: []uint16{1200, 1280, 1400, 1472}}},
		{name: "TEST_MTU result", m: &TestMTU{Kind: KindResult, Base: 0x1122334455667788, Sizes: []uint16{1200, 1280}}},
		{name: "TEST_MTU result, nothing arrived", m: &TestMTU{Kind: KindResult, Base: 1}},
		{name: "TEST_MTU 16 sizes", m: &TestMTU{Kind: KindProbe, Base: 2, Sizes: all}},
	}
}

func testMTURejects() []msgReject {
	base := AppendUint64(nil, 5)
	sizes := func(s ...uint16) []byte {
		var b []byte
		for _, v := range s {
			b = AppendUint16(b, v)
		}
		return b
	}
	many := make([]uint16, 17)
	for i := range many {
		many[i] = 1200
	}
	return []msgReject{
		{"TEST_MTU kind 2", TypeTestMTU, mcat([]byte{2}, base, []byte{1}, sizes(1200)), ErrReserved, false},
		{"TEST_MTU N 17", TypeTestMTU, mcat([]byte{0}, base, []byte{17}, sizes(many...)), ErrLimit, false},
		{"TEST_MTU size 63", TypeTestMTU, mcat([]byte{0}, base, []byte{2}, sizes(1200, 63)), ErrLimit, false},
		{"TEST_MTU size 1473", TypeTestMTU, mcat([]byte{0}, base, []byte{1}, sizes(1473)), ErrLimit, false},
		{"TEST_MTU N 3 with two sizes", TypeTestMTU, mcat([]byte{0}, base, []byte{3}, sizes(1200, 1300)), ErrShort, false},
	}
}

func TestTestMTU(t *testing.T) { testMessageType(t, TypeTestMTU) }
