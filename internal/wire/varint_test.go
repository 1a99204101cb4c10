package wire

import (
	"encoding/hex"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// decodeOneVarint decodes b as exactly one varint.
func decodeOneVarint(b []byte) (uint64, error) {
	r := NewReader(b)
	v := r.Varint()
	if err := r.Done(); err != nil {
		return 0, err
	}
	return v, nil
}

// varintCanonical lists canonical encodings around every prefix boundary.
var varintCanonical = []struct {
	v   uint64
	hex string
}{
	{0, "00"},
	{1, "01"},
	{0xfc, "fc"},
	{0xfd, "fdfd00"},
	{0xfe, "fdfe00"},
	{0xff, "fdff00"},
	{0x100, "fd0001"},
	{0xffff, "fdffff"},
	{0x10000, "fe00000100"},
	{0x12345678, "fe78563412"},
	{0xffffffff, "feffffffff"},
	{0x100000000, "ff0000000001000000"},
	{0x0123456789abcdef, "ffefcdab8967452301"},
	{math.MaxUint64, "ffffffffffffffffff"},
}

// varintRejects lists encodings a decoder must refuse, with the error kind.
var varintRejects = []struct {
	name string
	hex  string
	kind error
}{
	{"empty", "", ErrShort},
	{"fd-no-payload", "fd", ErrShort},
	{"fd-one-byte", "fd01", ErrShort},
	{"fe-three-bytes", "fe000001", ErrShort},
	{"ff-seven-bytes", "ff00000000010000", ErrShort},
	{"fd-zero", "fd0000", ErrNonCanonical},
	{"fd-one", "fd0100", ErrNonCanonical},
	{"fd-fc", "fdfc00", ErrNonCanonical},
	{"fe-zero", "fe00000000", ErrNonCanonical},
	{"fe-fd", "fefd000000", ErrNonCanonical},
	{"fe-ffff", "feffff0000", ErrNonCanonical},
	{"ff-zero", "ff0000000000000000", ErrNonCanonical},
	{"ff-10000", "ff0000010000000000", ErrNonCanonical},
	{"ff-ffffffff", "ffffffffff00000000", ErrNonCanonical},
	{"trailing", "0100", ErrTrailing},
	{"trailing-after-fd", "fdfd0000", ErrTrailing},
}

func TestVarintCanonical(t *testing.T) {
	for _, tc := range varintCanonical {
		want, _ := hex.DecodeString(tc.hex)
		got := AppendVarint(nil, tc.v)
		if hex.EncodeToString(got) != tc.hex {
			t.Errorf("AppendVarint(%#x) = %x, want %s", tc.v, got, tc.hex)
		}
		if n := VarintLen(tc.v); n != len(want) {
			t.Errorf("VarintLen(%#x) = %d, want %d", tc.v, n, len(want))
		}
		v, err := decodeOneVarint(want)
		if err != nil || v != tc.v {
			t.Errorf("decode %s = %#x, %v; want %#x", tc.hex, v, err, tc.v)
		}
		// Appending keeps the prefix.
		pre := AppendVarint([]byte{0xaa}, tc.v)
		if pre[0] != 0xaa || hex.EncodeToString(pre[1:]) != tc.hex {
			t.Errorf("AppendVarint with prefix = %x", pre)
		}
	}
}

func TestVarintRejects(t *testing.T) {
	for _, tc := range varintRejects {
		b, _ := hex.DecodeString(tc.hex)
		v, err := decodeOneVarint(b)
		if !errors.Is(err, tc.kind) {
			t.Errorf("%s: decode %s = %#x, %v; want %v", tc.name, tc.hex, v, err, tc.kind)
		}
	}
}

// TestVarintStickyError checks that after a failed varint the Reader keeps
// the first error and returns zero values.
func TestVarintStickyError(t *testing.T) {
	r := NewReader([]byte{0xfd, 0x01, 0x00, 0x05})
	if v := r.Varint(); v != 0 {
		t.Fatalf("non-canonical varint returned %d", v)
	}
	if !errors.Is(r.Err(), ErrNonCanonical) {
		t.Fatalf("err = %v", r.Err())
	}
	if v := r.Varint(); v != 0 || !errors.Is(r.Err(), ErrNonCanonical) {
		t.Fatalf("after failure: %d, %v", v, r.Err())
	}
}

// TestVarintRoundTrip encodes random values of every width and decodes them.
func TestVarintRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		v := rng.Uint64() >> (rng.UintN(64))
		if i%7 == 0 {
			v = uint64(i)
		}
		b := AppendVarint(nil, v)
		if len(b) != VarintLen(v) {
			t.Fatalf("len(%x) != VarintLen(%d)", b, v)
		}
		got, err := decodeOneVarint(b)
		if err != nil || got != v {
			t.Fatalf("round trip %d: %x -> %d, %v", v, b, got, err)
		}
	}
}

// TestCountLimits checks Reader.Count against its limit and the bytes left.
func TestCountLimits(t *testing.T) {
	cases := []struct {
		hex     string
		limit   uint64
		minSize int
		want    int
		kind    error
	}{
		{"03aabbcc", 10, 1, 3, nil},
		{"04aabbcc", 10, 1, 0, ErrShort},
		{"0b", 10, 0, 0, ErrLimit},
		{"0a", 10, 0, 10, nil},
		{"02aabbcc", 10, 2, 0, ErrShort},
		{"01aabbcc", 10, 2, 1, nil},
		{"ffffffffffffffffff", math.MaxUint64, 0, 0, ErrLimit},
		{"fd0100", 10, 0, 0, ErrNonCanonical},
	}
	for _, tc := range cases {
		b, _ := hex.DecodeString(tc.hex)
		r := NewReader(b)
		got := r.Count(tc.limit, tc.minSize, "test")
		if tc.kind == nil {
			if r.Err() != nil || got != tc.want {
				t.Errorf("Count(%s, %d, %d) = %d, %v; want %d", tc.hex, tc.limit, tc.minSize, got, r.Err(), tc.want)
			}
			continue
		}
		if got != 0 || !errors.Is(r.Err(), tc.kind) {
			t.Errorf("Count(%s, %d, %d) = %d, %v; want %v", tc.hex, tc.limit, tc.minSize, got, r.Err(), tc.kind)
		}
	}
}
