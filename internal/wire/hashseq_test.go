package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/quick"
)

// decodeOneSeq decodes b as exactly one hash sequence.
func decodeOneSeq(b []byte, hashless bool) (HashSeq, error) {
	r := NewReader(b)
	s := ReadHashSeq(r, hashless)
	if err := r.Done(); err != nil {
		return HashSeq{}, err
	}
	return s, nil
}

// seqEqual compares two sequences field by field (nil and empty slices are
// equal).
func seqEqual(a, b *HashSeq) bool {
	return a.Count == b.Count && a.DefaultSize == b.DefaultSize &&
		slices.Equal(a.Exceptions, b.Exceptions) && bytes.Equal(a.Data, b.Data)
}

// patternSeq builds a sequence of count hashes of size def, except the
// indices in ex, whose bytes are a recognisable pattern (byte j of hash i is
// i*16+j).
func patternSeq(count int, def uint8, ex ...Exception) HashSeq {
	s := HashSeq{Count: count, DefaultSize: def, Exceptions: ex}
	for i := range count {
		size := s.Size(i)
		for j := range int(size) {
			s.Data = append(s.Data, byte(i*16+j))
		}
	}
	return s
}

// randSeq draws a random well-formed sequence. Counts are mostly small, with
// an occasional large one so that multi-byte varints appear.
func randSeq(rng *rand.Rand, hashless bool) HashSeq {
	count := rng.IntN(20)
	switch rng.IntN(10) {
	case 0:
		count = 0
	case 1:
		count = 200 + rng.IntN(400)
	case 2:
		if hashless {
			count = rng.IntN(MaxSeqCount + 1)
		}
	}
	if hashless {
		return HashSeq{Count: count}
	}
	s := HashSeq{Count: count, DefaultSize: uint8(1 + rng.IntN(MaxHashSize))}
	if rng.IntN(3) == 0 {
		s.DefaultSize = 32
	}
	for i := range count {
		if rng.IntN(8) == 0 {
			size := uint8(1 + rng.IntN(MaxHashSize-1))
			if size >= s.DefaultSize {
				size++
			}
			s.Exceptions = append(s.Exceptions, Exception{Index: i, Size: size})
		}
	}
	s.Data = make([]byte, s.dataLen())
	for i := range s.Data {
		s.Data[i] = byte(rng.Uint32())
	}
	return s
}

// hashSeqCases are well-formed sequences with the start of their encoding
// (everything before HASHES).
var hashSeqCases = []struct {
	name     string
	seq      HashSeq
	hashless bool
	hex      string // prefix of the encoding (before HASHES)
}{
	{"empty", HashSeq{Count: 0, DefaultSize: 32}, false, "002000"},
	{"hashless-0", HashSeq{Count: 0}, true, "00"},
	{"hashless-3", HashSeq{Count: 3}, true, "03"},
	{"hashless-253", HashSeq{Count: 253}, true, "fdfd00"},
	{"hashless-max", HashSeq{Count: MaxSeqCount}, true, "fe00000100"},
	{"two-full", patternSeq(2, 32), false, "022000"},
	{"one-byte-hashes", patternSeq(5, 1), false, "050100"},
	// The cursor starts at -1: exceptions at 0 and 1 are both at
	// distance 1.
	{"first-two-exceptions", patternSeq(3, 32, Exception{0, 4}, Exception{1, 4}), false, "0320020104" + "0104"},
	{"last-exception", patternSeq(3, 3, Exception{2, 32}), false, "030301" + "0320"},
	{"spread-exceptions", patternSeq(10, 6, Exception{0, 32}, Exception{4, 1}, Exception{9, 7}), false, "0a0603" + "0120" + "0401" + "0507"},
	{"all-exceptions", patternSeq(2, 8, Exception{0, 32}, Exception{1, 32}), false, "0208020120" + "0120"},
}

func TestHashSeqEncoding(t *testing.T) {
	for _, tc := range hashSeqCases {
		t.Run(tc.name, func(t *testing.T) {
			b := AppendHashSeq(nil, &tc.seq, tc.hashless)
			got := hex.EncodeToString(b)
			if !strings.HasPrefix(got, tc.hex) {
				t.Fatalf("encoding %s does not start with %s", got, tc.hex)
			}
			if !tc.hashless && !bytes.Equal(b[len(tc.hex)/2:], tc.seq.Data) {
				t.Fatalf("HASHES = %x, want %x", b[len(tc.hex)/2:], tc.seq.Data)
			}
			if tc.hashless && len(b) != len(tc.hex)/2 {
				t.Fatalf("hashless encoding %s has more than COUNT", got)
			}
			dec, err := decodeOneSeq(b, tc.hashless)
			if err != nil {
				t.Fatalf("decode %s: %v", got, err)
			}
			if !seqEqual(&dec, &tc.seq) {
				t.Fatalf("decoded %+v, want %+v", dec, tc.seq)
			}
			if tc.hashless {
				if dec.Hashes() != nil {
					t.Fatalf("hashless sequence has hashes")
				}
				return
			}
			hs := dec.Hashes()
			if len(hs) != tc.seq.Count {
				t.Fatalf("%d hashes, want %d", len(hs), tc.seq.Count)
			}
			for i, h := range hs {
				if len(h) != int(tc.seq.Size(i)) {
					t.Fatalf("hash %d has %d bytes, want %d", i, len(h), tc.seq.Size(i))
				}
				for j := range h {
					if h[j] != byte(i*16+j) {
						t.Fatalf("hash %d byte %d = %#x", i, j, h[j])
					}
				}
			}
		})
	}
}

// hashSeqRejects are encodings the hashful decoder must refuse.
var hashSeqRejects = []struct {
	name string
	hex  string
	kind error
}{
	{"empty-input", "", ErrShort},
	{"no-default-size", "01", ErrShort},
	{"no-exception-count", "0120", ErrShort},
	{"default-size-0", "01000000", ErrReserved},
	{"default-size-33", "0121" + "00" + strings.Repeat("00", 33), ErrReserved},
	{"default-size-255", "01ff00", ErrReserved},
	{"exception-size-0", "022001" + "0100" + strings.Repeat("00", 32), ErrReserved},
	{"exception-size-33", "022001" + "0121" + strings.Repeat("00", 65), ErrReserved},
	{"exception-equals-default", "022001" + "0120" + strings.Repeat("00", 64), ErrMalformed},
	{"exception-distance-0", "022001" + "0004" + strings.Repeat("00", 36), ErrMalformed},
	// COUNT 3: the cursor starts at -1, so distance 4 names index 3.
	{"exception-past-count", "030401" + "0420" + strings.Repeat("00", 40), ErrMalformed},
	{"second-exception-past-count", "030402" + "0220" + "0220" + strings.Repeat("00", 68), ErrMalformed},
	{"exception-distance-huge", "030401" + "ffffffffffffffffff20" + strings.Repeat("00", 40), ErrMalformed},
	{"exception-count-above-count", "0220" + "03" + "0104" + "0104" + "0104" + strings.Repeat("00", 12), ErrLimit},
	{"count-above-limit", "fe01000100" + "01" + "00", ErrLimit},
	{"huge-count-few-bytes", "fe00000100", ErrShort},
	{"count-above-bytes", "0501" + "00" + "00000000", ErrShort},
	{"hashes-truncated", "0220" + "00" + strings.Repeat("00", 63), ErrShort},
	{"short-hash-truncated", "030101" + "0220" + "0000" + strings.Repeat("00", 31), ErrShort},
	{"trailing", "0101" + "00" + "aa" + "bb", ErrTrailing},
	{"count-noncanonical", "fd0100" + "01" + "00" + "aa", ErrNonCanonical},
	{"exception-count-noncanonical", "0101" + "fd0000" + "aa", ErrNonCanonical},
	{"distance-noncanonical", "0101" + "01" + "fd0100" + "02" + "aaaa", ErrNonCanonical},
}

// hashlessSeqRejects are encodings the hashless decoder must refuse.
var hashlessSeqRejects = []struct {
	name string
	hex  string
	kind error
}{
	{"empty-input", "", ErrShort},
	{"count-above-limit", "fe01000100", ErrLimit},
	{"count-max-uint64", "ffffffffffffffffff", ErrLimit},
	{"count-noncanonical", "fd0000", ErrNonCanonical},
	{"truncated-count", "fe0000", ErrShort},
	{"trailing", "0320", ErrTrailing},
}

func TestHashSeqRejects(t *testing.T) {
	for _, tc := range hashSeqRejects {
		b, err := hex.DecodeString(tc.hex)
		if err != nil {
			t.Fatalf("%s: bad hex", tc.name)
		}
		s, err := decodeOneSeq(b, false)
		if !errors.Is(err, tc.kind) {
			t.Errorf("%s: decode %s = %+v, %v; want %v", tc.name, tc.hex, s, err, tc.kind)
		}
	}
	for _, tc := range hashlessSeqRejects {
		b, _ := hex.DecodeString(tc.hex)
		s, err := decodeOneSeq(b, true)
		if !errors.Is(err, tc.kind) {
			t.Errorf("hashless %s: decode %s = %+v, %v; want %v", tc.name, tc.hex, s, err, tc.kind)
		}
	}
}

// TestHashSeqHugeCountNoAlloc checks that hostile counts fail before
// anything proportional to the count is allocated.
func TestHashSeqHugeCountNoAlloc(t *testing.T) {
	inputs := []string{
		"fe00000100",                            // 65536 hashes, no bytes
		"fe0000010020",                          // 65536 hashes, default size, nothing else
		"fe00000100" + "2000",                   // ... and no exceptions, no hashes
		"0a20" + "0a" + "0104" + "000000000000", // 10 exceptions, bytes for 4
		"fdff00" + "20" + "fdff00" + strings.Repeat("01", 256), // 255 exceptions, bytes for 128
	}
	for _, h := range inputs {
		b, _ := hex.DecodeString(h)
		var err error
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		const runs = 200
		for range runs {
			_, err = decodeOneSeq(b, false)
		}
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Fatalf("%s decoded", h)
		}
		if !errors.Is(err, ErrShort) && !errors.Is(err, ErrLimit) {
			t.Errorf("%s: %v, want short or limit", h, err)
		}
		if perRun := (after.TotalAlloc - before.TotalAlloc) / runs; perRun > 1024 {
			t.Errorf("%s: %d bytes allocated per decode", h, perRun)
		}
	}
	// The same through AllocsPerRun: a failed decode allocates only its
	// error value.
	b, _ := hex.DecodeString("fe00000100")
	allocs := testing.AllocsPerRun(100, func() {
		r := NewReader(b)
		ReadHashSeq(r, false)
		if r.Err() == nil {
			panic("decoded")
		}
	})
	if allocs > 8 {
		t.Errorf("%v allocations for a failed decode", allocs)
	}
}

// TestHashSeqRoundTrip is the property decode(encode(s)) == s for random
// sequences, hashful and hashless.
func TestHashSeqRoundTrip(t *testing.T) {
	for _, hashless := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(7, 11))
		for range 3000 {
			s := randSeq(rng, hashless)
			b := AppendHashSeq(nil, &s, hashless)
			got, err := decodeOneSeq(b, hashless)
			if err != nil {
				t.Fatalf("hashless=%v: decode(encode(%+v)) failed: %v", hashless, s, err)
			}
			if !seqEqual(&got, &s) {
				t.Fatalf("hashless=%v: round trip %+v -> %+v", hashless, s, got)
			}
			if again := AppendHashSeq(nil, &got, hashless); !bytes.Equal(again, b) {
				t.Fatalf("re-encoding differs: %x vs %x", again, b)
			}
		}
	}
}

// TestHashSeqQuick runs the round trip with testing/quick over raw sizes:
// any list of hash sizes in 1..32 with any default becomes a sequence.
func TestHashSeqQuick(t *testing.T) {
	f := func(rawSizes []uint8, rawDefault uint8, fill byte) bool {
		def := rawDefault%MaxHashSize + 1
		s := HashSeq{Count: len(rawSizes), DefaultSize: def}
		for i, r := range rawSizes {
			size := r%MaxHashSize + 1
			if size != def {
				s.Exceptions = append(s.Exceptions, Exception{Index: i, Size: size})
			}
		}
		s.Data = bytes.Repeat([]byte{fill}, s.dataLen())
		b := AppendHashSeq(nil, &s, false)
		got, err := decodeOneSeq(b, false)
		return err == nil && seqEqual(&got, &s)
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 2000, Rand: nil}); err != nil {
		t.Fatal(err)
	}
}

// TestHashSeqAliases checks that decoded Data aliases the input (no copy).
func TestHashSeqAliases(t *testing.T) {
	s := patternSeq(2, 32)
	b := AppendHashSeq(nil, &s, false)
	got, err := decodeOneSeq(b, false)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0xff
	if got.Data[len(got.Data)-1] != b[len(b)-1] {
		t.Fatal("Data does not alias the input")
	}
}

func TestFullHashes(t *testing.T) {
	hs := [][32]byte{{1}, {2}, {3}}
	s := FullHashes(hs)
	if s.Count != 3 || s.DefaultSize != 32 || len(s.Exceptions) != 0 || len(s.Data) != 96 {
		t.Fatalf("FullHashes = %+v", s)
	}
	for i, h := range s.Hashes() {
		if !bytes.Equal(h, hs[i][:]) {
			t.Fatalf("hash %d = %x", i, h)
		}
	}
	empty := FullHashes(nil)
	b := AppendHashSeq(nil, &empty, false)
	if hex.EncodeToString(b) != "002000" {
		t.Fatalf("empty FullHashes encodes as %x", b)
	}
}
