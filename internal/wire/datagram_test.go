package wire

import (
	"bytes"
	"errors"
	"testing"
)

func TestDatagramLayout(t *testing.T) {
	h := DatagramHeader{Token: Token{1, 2, 3, 4, 5, 6, 7, 8}, Seq: 0x01020304}
	got := AppendDatagram([]byte{0xee}, h, &CloseJob{JobID: JobID{9}, Reason: CloseAbandoned})
	want := mhx("ee 4a 0102030405060708 04030201 0900000000000000 01")
	if !bytes.Equal(got, want) {
		t.Fatalf("datagram %x, want %x", got, want)
	}
	h2, p, err := ParseDatagram(got[1:])
	if err != nil || h2.Type != TypeCloseJobUDP || h2.Token != h.Token || h2.Seq != h.Seq || !bytes.Equal(p, want[14:]) {
		t.Fatalf("ParseDatagram = %+v %x %v", h2, p, err)
	}
	m, err := DecodeMessage(h2.Type, p)
	if err != nil || m.(*CloseJob).Reason != CloseAbandoned {
		t.Fatalf("%v %v", m, err)
	}
	// OPEN_JOB goes out as 0x42; a matching h.Type is accepted.
	d := AppendDatagram(nil, DatagramHeader{Type: TypeOpenJobUDP, Seq: 1}, msgGenesisOpenJob())
	if d[0] != byte(TypeOpenJobUDP) {
		t.Fatalf("OPEN_JOB datagram type %#x", d[0])
	}
	if h, _, err := ParseDatagram(mhx("40 0000000000000000 00000000")); err != nil || h.Type != TypePing {
		t.Fatalf("13-byte datagram: %+v %v", h, err)
	}
}

func TestParseDatagramRejects(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		kind error
	}{
		{"empty", nil, ErrShort},
		{"12 bytes", make([]byte, 12), ErrShort},
		{"TCP type", mcat([]byte{byte(TypeBTVersion)}, make([]byte, 20)), ErrUnknownType},
		{"OPEN_JOB TCP number", mcat([]byte{byte(TypeOpenJob)}, make([]byte, 20)), ErrUnknownType},
		{"unknown 0x49", mcat([]byte{0x49}, make([]byte, 20)), ErrUnknownType},
		{"unknown 0xff", mcat([]byte{0xff}, make([]byte, 12)), ErrUnknownType},
		{"1473 bytes", mcat([]byte{byte(TypePing)}, make([]byte, MaxDatagramSize)), ErrLimit},
	}
	for _, tc := range tests {
		if _, _, err := ParseDatagram(tc.b); !errors.Is(err, tc.kind) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.kind)
		}
	}
	if _, p, err := ParseDatagram(mcat([]byte{byte(TypePing)}, make([]byte, MaxDatagramSize-1))); err != nil || len(p) != MaxDatagramSize-DatagramHeaderSize {
		t.Errorf("1472 bytes: %d %v", len(p), err)
	}
}

func TestAppendDatagramPanics(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    DatagramHeader
		m    Message
	}{
		{"TCP-only message", DatagramHeader{}, &BTVerack{}},
		{"header type mismatch", DatagramHeader{Type: TypePong}, &Ping{}},
		{"TCP number in the header", DatagramHeader{Type: TypeOpenJob}, msgGenesisOpenJob()},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			AppendDatagram(nil, tc.h, tc.m)
		}()
	}
}

func TestReplayWindow(t *testing.T) {
	type step struct {
		seq  uint32
		want bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"zero is never valid", []step{{0, false}, {1, true}, {0, false}}},
		{"in order", []step{{1, true}, {2, true}, {3, true}, {4, true}}},
		{"duplicate", []step{{1, true}, {1, false}, {2, true}, {1, false}, {2, false}}},
		{"reordered within the window", []step{{5, true}, {3, true}, {4, true}, {1, true}, {2, true}, {3, false}, {5, false}}},
		{"gap filled later", []step{{1, true}, {1000, true}, {500, true}, {500, false}, {999, true}, {1000, false}}},
		{"window edge: 1,023 behind remembered", []step{{1, true}, {1024, true}, {1, false}, {2, true}, {2, false}}},
		{"1,024 behind: accepted, not remembered", []step{{10, true}, {1034, true}, {10, true}, {10, true}, {11, true}, {11, false}}},
		{"65,536 behind accepted, 65,537 dropped", []step{{100000, true}, {100000 - 65536, true}, {100000 - 65537, false}, {1, false}}},
		{"jump clears the window", []step{{1, true}, {2, true}, {5000, true}, {2, true}, {4000, true}, {4000, false}, {3977, true}, {3977, false}}},
		{"jump of 1,023 keeps the window", []step{{1, true}, {2, true}, {1025, true}, {1, true}, {2, false}, {3, true}, {3, false}}},
		{"jump of exactly 1,024", []step{{1, true}, {2, true}, {1026, true}, {2, true}, {3, true}, {3, false}, {1026, false}}},
		{"bits reused after sliding", []step{{1, true}, {1025, true}, {1025, false}, {2049, true}, {1026, true}, {1026, false}, {1025, true}}},
		{"near the top of SEQ", []step{{0xfffffff0, true}, {0xffffffff, true}, {0xfffffff0, false}, {0xfffffff1, true}, {0xffffffff, false}, {0xffffffff - 65536, true}, {0xffffffff - 65537, false}, {1, false}}},
	}
	for _, tc := range tests {
		var w ReplayWindow
		for i, s := range tc.steps {
			if got := w.Check(s.seq); got != s.want {
				t.Errorf("%s: step %d Check(%d) = %v, want %v (highest %d)", tc.name, i, s.seq, got, s.want, w.Highest())
				break
			}
		}
	}
}

// TestReplayWindowModel compares the window with a direct model of the rule
// on a pseudo-random stream of SEQ numbers.
func TestReplayWindowModel(t *testing.T) {
	var w ReplayWindow
	seen := map[uint32]bool{}
	var highest uint32
	x := uint32(12345)
	seq := uint32(1)
	for i := 0; i < 200000; i++ {
		x = x*1664525 + 1013904223
		s := seq
		switch x >> 29 {
		case 0, 1, 2, 3:
			seq++
			s = seq
		case 4:
			s = seq - min(seq, x>>22&2047) // recent, maybe a repeat
		case 5:
			s = seq - min(seq, x>>14&0x1ffff) // far behind
		case 6:
			seq += x >> 20 & 4095 // a gap
			s = seq
		case 7:
			s = seq + x>>27 // slightly ahead
		}
		var want bool
		switch {
		case s == 0:
		case s > highest:
			want = true
		case highest-s > ReplayMaxAge:
		case highest-s >= ReplayWindowSize:
			want = true
		default:
			want = !seen[s]
		}
		if got := w.Check(s); got != want {
			t.Fatalf("step %d: Check(%d) = %v, want %v (highest %d)", i, s, got, want, highest)
		}
		if want {
			seen[s] = true
			highest = max(highest, s)
		}
	}
}
