package wire

import (
	"errors"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	btcwire "github.com/btcsuite/btcd/wire/v2"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
)

// msgGenesisOpenJob is the OPEN_JOB of the genesis block: one transaction, so
// the lap is the single leaf, which is the merkle root.
func msgGenesisOpenJob() *OpenJob {
	h := msgGenesisHeader()
	return &OpenJob{
		Header:  h,
		TxCount: 1,
		Flags:   OpenJobHasBodies,
		Lap:     Workout{Runs: []Run{FlatRun(0, 0, []chainhash.Hash{h.MerkleRoot})}},
	}
}

// msgExampleOpenJob is the OPEN_JOB of the spec's example (§1): a block of
// 10,000 deterministic txids; its header commits to their merkle root.
func msgExampleOpenJob(tb testing.TB) *OpenJob {
	leaves := msgHashes("example tx", 10000)
	levels := merkle.Levels(leaves)
	shape := merkle.MustShape(uint32(len(leaves)))
	lap, err := BuildRootLap(shape, func(p merkle.Pos) chainhash.Hash { return levels[p.Level][p.Index] })
	if err != nil {
		tb.Fatal(err)
	}
	h := msgGenesisHeader()
	h.PrevBlock = msgHash("example parent")
	h.MerkleRoot = levels[0][0]
	h.Timestamp = h.Timestamp.AddDate(16, 0, 0)
	h.Bits, h.Nonce = 0x17034219, 0x5eed
	return &OpenJob{Header: h, TxCount: uint32(len(leaves)), Lap: lap}
}

func openJobSamples() []msgSample {
	ex := msgExampleOpenJob(nil)
	late := msgGenesisOpenJob()
	late.Flags |= OpenJobLate
	return []msgSample{
		{name: "OPEN_JOB genesis", m: msgGenesisOpenJob()},
		{name: "OPEN_JOB genesis (UDP)", t: TypeOpenJobUDP, m: msgGenesisOpenJob()},
		{name: "OPEN_JOB 10,000 transactions", m: ex},
		{name: "OPEN_JOB 10,000 transactions (UDP)", t: TypeOpenJobUDP, m: ex},
		{name: "OPEN_JOB most transactions, empty lap", m: &OpenJob{Header: msgGenesisHeader(), TxCount: MaxTxCount}},
		{name: "OPEN_JOB genesis, late (catch-up offer)", m: late},
	}
}

// msgOpenJobWith returns the genesis OPEN_JOB with the bytes after the header
// replaced.
func msgOpenJobWith(rest ...[]byte) []byte {
	return mcat(AppendHeader(nil, &btcwire.BlockHeader{}), mcat(rest...))
}

func openJobRejects() []msgReject {
	g := msgGenesisOpenJob()
	lap := AppendWorkout(nil, &g.Lap, false)
	seq := lap[3:] // after RUN_COUNT, level byte and START
	return []msgReject{
		{"OPEN_JOB TX_COUNT 0", TypeOpenJob, msgOpenJobWith(mvi(0), []byte{0}, lap), ErrLimit, false},
		{"OPEN_JOB TX_COUNT 131,073", TypeOpenJob, msgOpenJobWith(mvi(MaxTxCount+1), []byte{0}, lap), ErrLimit, false},
		{"OPEN_JOB non-canonical TX_COUNT", TypeOpenJob, msgOpenJobWith(mhx("fd0100"), []byte{0}, lap), ErrNonCanonical, false},
		{"OPEN_JOB flags 0x04", TypeOpenJob, msgOpenJobWith(mvi(1), []byte{4}, lap), ErrReserved, false},
		{"OPEN_JOB lap direction 3", TypeOpenJob, msgOpenJobWith(mvi(1), []byte{0}, mvi(1), []byte{0xc0, 0}, seq), ErrReserved, false},
		{"OPEN_JOB lap START 2^24", TypeOpenJob, msgOpenJobWith(mvi(1), []byte{0}, mvi(1), []byte{0}, mvi(1<<24), seq), ErrLimit, false},
		{"OPEN_JOB lap hash size 0", TypeOpenJob, msgOpenJobWith(mvi(1), []byte{0}, mvi(1), []byte{0, 0}, mvi(1), []byte{0}, mvi(0)), ErrReserved, false},
		{"OPEN_JOB lap RUN_COUNT 4,097", TypeOpenJob, msgOpenJobWith(mvi(1), []byte{0}, mvi(MaxRuns+1)), ErrLimit, false},
		{"OPEN_JOB header only", TypeOpenJob, msgOpenJobWith(), ErrShort, false},
		{"OPEN_JOB (UDP) TX_COUNT 0", TypeOpenJobUDP, msgOpenJobWith(mvi(0), []byte{0}, lap), ErrLimit, false},
	}
}

func TestOpenJob(t *testing.T) { testMessageType(t, TypeOpenJob) }

// TestOpenJobExample checks the example OPEN_JOB against the spec's text:
// 9 level-4 nodes plus the descending run (14,9999) (14,9998) (13,4998)
// (12,2498) (11,1248) (6,38) (5,18), 16 hashes, and that the lap verifies.
func TestOpenJobExample(t *testing.T) {
	m := msgExampleOpenJob(t)
	if len(m.Lap.Runs) != 2 || m.Lap.Nodes() != 16 {
		t.Fatalf("lap of %d runs, %d nodes", len(m.Lap.Runs), m.Lap.Nodes())
	}
	flat, down := m.Lap.Runs[0], m.Lap.Runs[1]
	if flat.Dir != Flat || flat.Level != 4 || flat.Start != 0 || flat.Seq.Count != 9 {
		t.Fatalf("flat run %v %d %d %d", flat.Dir, flat.Level, flat.Start, flat.Seq.Count)
	}
	pos, err := down.Positions()
	if err != nil {
		t.Fatal(err)
	}
	want := []merkle.Pos{{Level: 14, Index: 9999}, {Level: 14, Index: 9998}, {Level: 13, Index: 4998}, {Level: 12, Index: 2498}, {Level: 11, Index: 1248}, {Level: 6, Index: 38}, {Level: 5, Index: 18}}
	if down.Dir != Down || len(pos) != len(want) {
		t.Fatalf("descending run %v %v", down.Dir, pos)
	}
	for i := range want {
		if pos[i] != want[i] {
			t.Fatalf("descending run %v, want %v", pos, want)
		}
	}
	p := msgPayload(m)
	if len(p)+DatagramHeaderSize > DefaultDatagramSize {
		t.Fatalf("example OPEN_JOB datagram of %d bytes", len(p)+DatagramHeaderSize)
	}
	got, err := DecodeOpenJob(p)
	if err != nil {
		t.Fatal(err)
	}
	shape := merkle.MustShape(got.TxCount)
	if _, err := VerifyRootLap(shape, got.Header.MerkleRoot, &got.Lap); err != nil {
		t.Fatalf("decoded lap does not verify: %v", err)
	}
	if got.JobID() != JobIDOf(got.Header.BlockHash()) {
		t.Fatal("JobID")
	}
	g := msgGenesisOpenJob()
	if _, err := VerifyRootLap(merkle.MustShape(1), g.Header.MerkleRoot, &g.Lap); err != nil {
		t.Fatalf("genesis lap: %v", err)
	}
	if _, err := DecodeOpenJob(p[:HeaderSize]); !errors.Is(err, ErrShort) {
		t.Fatal(err)
	}
}
