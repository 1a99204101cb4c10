package wire

// Golden vectors for the encodings of docs/protocol.md §3 (varint, hash
// sequence, run, workout) and for laps (§3.4, §6), in
// testdata/vectors/{varint,hashseq,runs,workouts,laps}.json at the module
// root. Each file is a JSON list of records, one a line:
//
//	{"name", "type", "hex", "fields"}  an encoding and what it means
//	{"name", "type", "hex", "error"}   an input that must be rejected
//
// Hashes are hex in internal byte order, as on the wire. The normal test run
// decodes and re-encodes every record byte-exactly and checks that the
// generator below still produces the files; after a deliberate change
// regenerate them with
//
//	go test ./internal/wire -run TestVectors -update

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/blocktorrent/blocktorrent/internal/merkle"
)

// structVectorDir is where the vectors live, relative to this package.
const structVectorDir = "../../testdata/vectors"

// The -update flag may be shared with other vector tests of this package:
// it is registered here only if nobody registered it before.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "regenerate the golden files under testdata/vectors")
	}
}

// updateVectors reports whether -update was given.
func updateVectors() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// structVector is one record of a vector file.
type structVector struct {
	Name   string          `json:"name"`
	Type   string          `json:"type"`
	Hex    string          `json:"hex"`
	Fields json.RawMessage `json:"fields,omitempty"`
	Error  string          `json:"error,omitempty"`
}

type varintFields struct {
	Value uint64 `json:"value,string"` // decimal string: JSON numbers lose 64-bit precision
}

type exceptionFields struct {
	Index int   `json:"index"`
	Size  uint8 `json:"size"`
}

type seqFields struct {
	Count       int               `json:"count"`
	DefaultSize uint8             `json:"default_size,omitempty"` // absent when hashless
	Exceptions  []exceptionFields `json:"exceptions,omitempty"`
	Hashes      []string          `json:"hashes,omitempty"`
}

type runFields struct {
	Direction string    `json:"direction"` // flat, down, up
	Level     uint8     `json:"level"`
	Start     uint32    `json:"start"`
	Sequence  seqFields `json:"sequence"`
	// Positions are the (level, index) pairs the run walks; WalkError is set
	// instead when the walk leaves every tree (the run decodes, but no
	// receiver can accept it).
	Positions [][2]uint32 `json:"positions,omitempty"`
	WalkError string      `json:"walk_error,omitempty"`
}

type workoutFields struct {
	Runs []runFields `json:"runs"`
}

// lapFields describes a lap: the block's leaves (listed, or derived by
// leafRule from Seed), the tree's root, the anchor the lap recomputes and
// its hash, and the positions of the lap's nodes in order.
type lapFields struct {
	N          uint32      `json:"n"`                // the TX_COUNT the lap is checked against
	TreeN      uint32      `json:"tree_n,omitempty"` // leaves of the real tree when not n (a wrong TX_COUNT)
	Seed       string      `json:"seed,omitempty"`
	LeafRule   string      `json:"leaf_rule,omitempty"`
	Leaves     []string    `json:"leaves,omitempty"`
	Root       string      `json:"root"`
	RootLap    bool        `json:"root_lap"` // an OPEN_JOB lap: must hold the last leaf
	LapLevel   *uint8      `json:"lap_level,omitempty"`
	Anchor     [2]uint32   `json:"anchor"`
	AnchorHash string      `json:"anchor_hash"`
	Positions  [][2]uint32 `json:"positions,omitempty"`
}

const leafRuleText = "leaf i = SHA256(SHA256(ASCII seed || uint32 little-endian i)), internal byte order"

// seededLeaves derives n leaves from seed by leafRuleText.
func seededLeaves(seed string, n int) []chainhash.Hash {
	out := make([]chainhash.Hash, n)
	buf := append([]byte(seed), 0, 0, 0, 0)
	for i := range out {
		binary.LittleEndian.PutUint32(buf[len(seed):], uint32(i))
		first := sha256.Sum256(buf)
		out[i] = sha256.Sum256(first[:])
	}
	return out
}

// seededLevelsCache memoises seededLevels: the generator and the checker
// both need the trees of the large laps, several times each.
var seededLevelsCache = struct {
	sync.Mutex
	m map[string][][]chainhash.Hash
}{m: map[string][][]chainhash.Hash{}}

// seededLevels returns the levels of the tree of seededLeaves(seed, n).
func seededLevels(seed string, n int) [][]chainhash.Hash {
	key := seed + "/" + strconv.Itoa(n)
	seededLevelsCache.Lock()
	defer seededLevelsCache.Unlock()
	if l, ok := seededLevelsCache.m[key]; ok {
		return l
	}
	l := merkle.Levels(seededLeaves(seed, n))
	seededLevelsCache.m[key] = l
	return l
}

// listLeavesMax is the largest n whose leaves are listed in laps.json.
const listLeavesMax = 40

// errKindName names the kind of err as the vector files do.
func errKindName(err error) string {
	for _, k := range []struct {
		err  error
		name string
	}{
		{merkle.ErrMutated, "mutated"},
		{merkle.ErrMismatch, "mismatch"},
		{merkle.ErrBadPos, "badpos"},
		{merkle.ErrOverlap, "overlap"},
		{merkle.ErrIncomplete, "incomplete"},
		{merkle.ErrBadShape, "badshape"},
		{ErrShort, "short"},
		{ErrLimit, "limit"},
		{ErrNonCanonical, "noncanonical"},
		{ErrReserved, "reserved"},
		{ErrTrailing, "trailing"},
		{ErrMalformed, "malformed"},
		{ErrUnknownType, "unknowntype"},
	} {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	if err == nil {
		return ""
	}
	return "unknown"
}

// --- conversions between Go values and fields ---

func toSeqFields(s *HashSeq, hashless bool) seqFields {
	f := seqFields{Count: s.Count}
	if hashless {
		return f
	}
	f.DefaultSize = s.DefaultSize
	for _, e := range s.Exceptions {
		f.Exceptions = append(f.Exceptions, exceptionFields(e))
	}
	for _, h := range s.Hashes() {
		f.Hashes = append(f.Hashes, hex.EncodeToString(h))
	}
	return f
}

func fromSeqFields(f *seqFields, hashless bool) (HashSeq, error) {
	s := HashSeq{Count: f.Count}
	if hashless {
		return s, nil
	}
	s.DefaultSize = f.DefaultSize
	for _, e := range f.Exceptions {
		s.Exceptions = append(s.Exceptions, Exception(e))
	}
	if len(f.Hashes) != f.Count {
		return s, fmt.Errorf("%d hashes for count %d", len(f.Hashes), f.Count)
	}
	for i, h := range f.Hashes {
		b, err := hex.DecodeString(h)
		if err != nil {
			return s, err
		}
		if len(b) != int(s.Size(i)) {
			return s, fmt.Errorf("hash %d has %d bytes, size %d", i, len(b), s.Size(i))
		}
		s.Data = append(s.Data, b...)
	}
	return s, nil
}

func posPairs(pos []merkle.Pos) [][2]uint32 {
	out := make([][2]uint32, len(pos))
	for i, p := range pos {
		out[i] = [2]uint32{uint32(p.Level), p.Index}
	}
	return out
}

// toRunFields describes run; with walk set it adds the positions walked.
func toRunFields(run *Run, hashless, walk bool) runFields {
	f := runFields{Direction: run.Dir.String(), Level: run.Level, Start: run.Start, Sequence: toSeqFields(&run.Seq, hashless)}
	if !walk {
		return f
	}
	if pos, err := run.Positions(); err != nil {
		f.WalkError = errKindName(err)
	} else {
		f.Positions = posPairs(pos)
	}
	return f
}

func fromRunFields(f *runFields, hashless bool) (Run, error) {
	run := Run{Level: f.Level, Start: f.Start}
	switch f.Direction {
	case "flat":
		run.Dir = Flat
	case "down":
		run.Dir = Down
	case "up":
		run.Dir = Up
	default:
		return run, fmt.Errorf("direction %q", f.Direction)
	}
	var err error
	run.Seq, err = fromSeqFields(&f.Sequence, hashless)
	return run, err
}

func toWorkoutFields(w *Workout, hashless bool) workoutFields {
	f := workoutFields{Runs: []runFields{}}
	for i := range w.Runs {
		f.Runs = append(f.Runs, toRunFields(&w.Runs[i], hashless, false))
	}
	return f
}

func fromWorkoutFields(f *workoutFields, hashless bool) (Workout, error) {
	var w Workout
	for i := range f.Runs {
		run, err := fromRunFields(&f.Runs[i], hashless)
		if err != nil {
			return w, err
		}
		w.Runs = append(w.Runs, run)
	}
	return w, nil
}

// --- generation ---

func mustFields(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func seqType(hashless bool) string {
	if hashless {
		return "hashseq_hashless"
	}
	return "hashseq"
}

func runType(hashless bool) string {
	if hashless {
		return "run_hashless"
	}
	return "run"
}

func workoutType(hashless bool) string {
	if hashless {
		return "workout_hashless"
	}
	return "workout"
}

func genVarintVectors() []structVector {
	var out []structVector
	for _, tc := range varintCanonical {
		out = append(out, structVector{
			Name: "value-" + strconv.FormatUint(tc.v, 10), Type: "varint",
			Hex: hex.EncodeToString(AppendVarint(nil, tc.v)), Fields: mustFields(varintFields{tc.v}),
		})
	}
	for _, tc := range varintRejects {
		b, _ := hex.DecodeString(tc.hex)
		_, err := decodeOneVarint(b)
		out = append(out, structVector{Name: tc.name, Type: "varint", Hex: tc.hex, Error: errKindName(err)})
	}
	return out
}

func genHashSeqVectors() []structVector {
	var out []structVector
	add := func(name string, s HashSeq, hashless bool) {
		out = append(out, structVector{
			Name: name, Type: seqType(hashless),
			Hex: hex.EncodeToString(AppendHashSeq(nil, &s, hashless)), Fields: mustFields(toSeqFields(&s, hashless)),
		})
	}
	for _, tc := range hashSeqCases {
		add(tc.name, tc.seq, tc.hashless)
	}
	rng := rand.New(rand.NewPCG(0xb10c, 0x7099e47))
	for i := range 6 {
		s := randSeq(rng, false)
		if s.Count > 40 {
			s = patternSeq(40, s.DefaultSize)
		}
		add(fmt.Sprintf("random-%d", i), s, false)
	}
	// Short leaf hashes as NODES carries them: 3-byte hashes, one full.
	add("short-leaves", patternSeq(8, 3, Exception{5, 32}), false)
	for _, tc := range hashSeqRejects {
		b, _ := hex.DecodeString(tc.hex)
		_, err := decodeOneSeq(b, false)
		out = append(out, structVector{Name: tc.name, Type: "hashseq", Hex: tc.hex, Error: errKindName(err)})
	}
	for _, tc := range hashlessSeqRejects {
		b, _ := hex.DecodeString(tc.hex)
		_, err := decodeOneSeq(b, true)
		out = append(out, structVector{Name: tc.name, Type: "hashseq_hashless", Hex: tc.hex, Error: errKindName(err)})
	}
	return out
}

func genRunVectors() []structVector {
	var out []structVector
	add := func(name string, run Run, hashless bool) {
		out = append(out, structVector{
			Name: name, Type: runType(hashless),
			Hex: hex.EncodeToString(AppendRun(nil, &run, hashless)), Fields: mustFields(toRunFields(&run, hashless, true)),
		})
	}
	for _, tc := range runCases {
		add(tc.name, tc.run, tc.hashless)
	}
	for _, tc := range runWalks {
		add("walk-"+tc.name, Run{Dir: tc.dir, Level: tc.level, Start: tc.start, Seq: HashSeq{Count: tc.count}}, true)
	}
	// The §1 example with hashes.
	hashes := seededLeaves("runs", 7)
	add("down-spec-example-hashes", Run{Dir: Down, Level: 14, Start: 9999, Seq: fullSeq(hashes)}, false)
	for _, tc := range runRejects {
		b, _ := hex.DecodeString(tc.hex)
		_, err := decodeOneRun(b, tc.hashless)
		out = append(out, structVector{Name: tc.name, Type: runType(tc.hashless), Hex: tc.hex, Error: errKindName(err)})
	}
	return out
}

func genWorkoutVectors() []structVector {
	var out []structVector
	add := func(name string, w Workout, hashless bool) {
		out = append(out, structVector{
			Name: name, Type: workoutType(hashless),
			Hex: hex.EncodeToString(AppendWorkout(nil, &w, hashless)), Fields: mustFields(toWorkoutFields(&w, hashless)),
		})
	}
	add("empty", Workout{}, false)
	add("empty-hashless", Workout{}, true)
	spec := Workout{Runs: []Run{HashlessFlat(4, 0, 9), {Dir: Down, Level: 14, Start: 9999, Seq: HashSeq{Count: 7}}}}
	add("lap-10000-hashless", spec, true)
	add("job-state-bodies", Workout{Runs: []Run{HashlessFlat(14, 0, 512), HashlessFlat(14, 1024, 300), HashlessFlat(14, 9000, 1000)}}, true)
	add("max-nodes-one-run", Workout{Runs: []Run{HashlessFlat(17, 0, MaxWorkoutNodes)}}, true)
	add("max-nodes-two-runs", Workout{Runs: []Run{HashlessFlat(17, 0, MaxWorkoutNodes-1), {Dir: Up, Level: 17, Start: 65535, Seq: HashSeq{Count: 1}}}}, true)
	leaves := seededLeaves("workouts", 12)
	mixed := Workout{Runs: []Run{
		FlatRun(9, 32, leaves[:4]),
		{Dir: Up, Level: 14, Start: 9984, Seq: fullSeq(leaves[4:8])},
		{Dir: Flat, Level: 14, Start: 100, Seq: HashSeq{Count: 4, DefaultSize: 3, Exceptions: []Exception{{2, 32}},
			Data: slices.Concat(leaves[8][:3], leaves[9][:3], leaves[10][:], leaves[11][:3])}},
	}}
	add("mixed-hashful", mixed, false)
	add("mixed-as-hashless", mixed, true)
	for _, tc := range workoutRejects {
		b, _ := hex.DecodeString(tc.hex)
		_, err := DecodeWorkout(b, tc.hashless)
		out = append(out, structVector{Name: tc.name, Type: workoutType(tc.hashless), Hex: tc.hex, Error: errKindName(err)})
	}
	return out
}

// lapCase is a lap vector before encoding.
type lapCase struct {
	name    string
	n       int // TX_COUNT claimed
	treeN   int // leaves of the real tree when not n
	seed    string
	leaves  []chainhash.Hash // when not derived from seed
	anchor  merkle.Pos
	rootLap bool
	lap     Workout
	wantErr error // for rejects: the error the check must produce
}

// checkLap verifies a decoded lap as a receiver would and returns its error.
func checkLap(n uint32, rootLap bool, anchor merkle.Pos, anchorHash chainhash.Hash, w *Workout) error {
	shape, err := merkle.NewShape(n)
	if err != nil {
		return err
	}
	if rootLap {
		_, err := VerifyRootLap(shape, anchorHash, w)
		return err
	}
	nodes, err := w.MerkleNodes()
	if err != nil {
		return err
	}
	return merkle.VerifyCover(shape, anchor, anchorHash, nodes)
}

func lapCases() []lapCase {
	var cases []lapCase
	rootLap := func(n int) lapCase {
		seed := fmt.Sprintf("lap-%d", n)
		w, err := BuildRootLap(merkle.MustShape(uint32(n)), hashAtLevels(seededLevels(seed, n)))
		if err != nil {
			panic(err)
		}
		return lapCase{name: fmt.Sprintf("root-lap-%d", n), n: n, seed: seed, rootLap: true, lap: w}
	}
	for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 255, 256, 257, 1000, 4097, 10000, 65536, 131072} {
		cases = append(cases, rootLap(n))
	}
	// Laps around inner nodes of the 10,000-leaf tree, as NODES groups.
	{
		const n = 10000
		seed := "lap-10000"
		levels := seededLevels(seed, n)
		shape := merkle.MustShape(n)
		at := hashAtLevels(levels)
		group := func(name string, anchor merkle.Pos, pos []merkle.Pos) {
			nodes := make([]merkle.Node, len(pos))
			for i, p := range pos {
				nodes[i] = merkle.Node{Pos: p, Hash: at(p)}
			}
			runs, err := RunsFromNodes(nodes)
			if err != nil {
				panic(err)
			}
			cases = append(cases, lapCase{name: name, n: n, seed: seed, anchor: anchor, lap: Workout{Runs: runs}})
		}
		under := func(anchor merkle.Pos, level uint8) []merkle.Pos {
			var pos []merkle.Pos
			for i := anchor.Index << (level - anchor.Level); i < (anchor.Index+1)<<(level-anchor.Level) && i < shape.Count(level); i++ {
				pos = append(pos, merkle.Pos{Level: level, Index: i})
			}
			return pos
		}
		group("level-9-under-(4,3)", merkle.Pos{Level: 4, Index: 3}, under(merkle.Pos{Level: 4, Index: 3}, 9))
		group("leaves-under-(9,312)", merkle.Pos{Level: 9, Index: 312}, under(merkle.Pos{Level: 9, Index: 312}, 14))
		group("level-9-under-(4,9)", merkle.Pos{Level: 4, Index: 9}, under(merkle.Pos{Level: 4, Index: 9}, 9))
		lap10000 := rootLap(n).lap
		down := lap10000.Runs[1]
		cases = append(cases, lapCase{name: "descending-run-around-(4,9)", n: n, seed: seed, anchor: merkle.Pos{Level: 4, Index: 9}, lap: Workout{Runs: []Run{down}}})
		// A lap of one node: the anchor itself.
		group("anchor-alone-(6,7)", merkle.Pos{Level: 6, Index: 7}, []merkle.Pos{{Level: 6, Index: 7}})
		// Mixed levels: leaf 0 and the right half of its branch (one
		// ascending run) partition the whole tree.
		asc := Run{Dir: Up, Level: 14, Start: 0, Seq: HashSeq{Count: 15}}
		pos, err := asc.Positions()
		if err != nil {
			panic(err)
		}
		group("up-branch-around-root", merkle.Pos{}, pos)
	}

	// Rejects.
	reject := func(name string, base lapCase, mutate func(w *Workout), want error) {
		c := base
		c.name = name
		c.lap = cloneWorkout(&base.lap)
		mutate(&c.lap)
		c.wantErr = want
		cases = append(cases, c)
	}
	base := rootLap(300)
	l := LapLevel(merkle.MustShape(300))
	reject("reject-wrong-hash", base, func(w *Workout) { w.Runs[0].Seq.Data[33] ^= 0x80 }, merkle.ErrMismatch)
	reject("reject-wrong-last-leaf", base, func(w *Workout) { w.Runs[1].Seq.Data[31] ^= 1 }, merkle.ErrMismatch)
	reject("reject-missing-node", base, func(w *Workout) {
		s := &w.Runs[0].Seq
		s.Count--
		s.Data = s.Data[32:]
		w.Runs[0].Start++
	}, merkle.ErrIncomplete)
	reject("reject-missing-last-leaf", base, func(w *Workout) {
		s := &w.Runs[1].Seq
		s.Count--
		s.Data = s.Data[32:]
		w.Runs[1].Start--
	}, merkle.ErrIncomplete)
	reject("reject-duplicate-node", base, func(w *Workout) {
		w.Runs = append(w.Runs, Run{Dir: Flat, Level: l, Start: 2, Seq: HashSeq{Count: 1, DefaultSize: 32, Data: w.Runs[0].Seq.Data[64:96]}})
	}, merkle.ErrOverlap)
	reject("reject-outside-shape", base, func(w *Workout) { w.Runs[0].Start = 1 << l }, merkle.ErrBadPos)
	reject("reject-short-hash", base, func(w *Workout) {
		s := &w.Runs[1].Seq
		s.Exceptions = []Exception{{Index: 0, Size: 8}}
		s.Data = s.Data[24:]
	}, ErrMalformed)
	wrongCount := base
	wrongCount.treeN = 300
	wrongCount.n = 301
	reject("reject-tx-count-plus-one", wrongCount, func(*Workout) {}, merkle.ErrIncomplete)
	wrongCount.n = 299
	reject("reject-tx-count-minus-one", wrongCount, func(*Workout) {}, merkle.ErrBadPos)

	// CVE-2012-2459: leaves a,b,c,c have the root of a,b,c.
	abc := seededLeaves("mutated", 3)
	abcc := append(slices.Clone(abc), abc[2])
	w, err := BuildRootLap(merkle.MustShape(4), hashAtLevels(merkle.Levels(abcc)))
	if err != nil {
		panic(err)
	}
	cases = append(cases, lapCase{name: "reject-mutated", n: 4, leaves: abcc, rootLap: true, lap: w, wantErr: merkle.ErrMutated})
	// The same with six leaves mutated at the level above the leaves.
	abcdef := seededLeaves("mutated", 6)
	abcdefef := append(slices.Clone(abcdef), abcdef[4], abcdef[5])
	w, err = BuildRootLap(merkle.MustShape(8), hashAtLevels(merkle.Levels(abcdefef)))
	if err != nil {
		panic(err)
	}
	cases = append(cases, lapCase{name: "reject-mutated-inner", n: 8, leaves: abcdefef, rootLap: true, lap: w, wantErr: merkle.ErrMutated})
	return cases
}

func cloneWorkout(w *Workout) Workout {
	out := Workout{Runs: slices.Clone(w.Runs)}
	for i := range out.Runs {
		s := &out.Runs[i].Seq
		s.Exceptions = slices.Clone(s.Exceptions)
		s.Data = slices.Clone(s.Data)
	}
	return out
}

func genLapVectors() []structVector {
	var out []structVector
	for _, c := range lapCases() {
		treeN := c.n
		if c.treeN != 0 {
			treeN = c.treeN
		}
		var levels [][]chainhash.Hash
		if c.leaves == nil {
			levels = seededLevels(c.seed, treeN)
		} else {
			levels = merkle.Levels(c.leaves)
		}
		leaves := levels[len(levels)-1]
		root := levels[0][0]
		// The anchor hash is the true tree's; for the wrong-count rejects
		// the tree is the base one and n is what the peer claims.
		anchorHash := levels[c.anchor.Level][c.anchor.Index]
		f := lapFields{
			N: uint32(c.n), Root: hex.EncodeToString(root[:]), RootLap: c.rootLap,
			Anchor: [2]uint32{uint32(c.anchor.Level), c.anchor.Index}, AnchorHash: hex.EncodeToString(anchorHash[:]),
		}
		if c.leaves == nil {
			f.Seed, f.LeafRule = c.seed, leafRuleText
		}
		if treeN != c.n {
			f.TreeN = uint32(treeN)
		}
		if len(leaves) <= listLeavesMax {
			for _, h := range leaves {
				f.Leaves = append(f.Leaves, hex.EncodeToString(h[:]))
			}
		}
		rec := structVector{Name: c.name, Type: "lap", Hex: hex.EncodeToString(AppendWorkout(nil, &c.lap, false))}
		if c.wantErr == nil {
			if c.rootLap {
				l := LapLevel(merkle.MustShape(uint32(c.n)))
				f.LapLevel = &l
			}
			nodes, err := c.lap.MerkleNodes()
			if err != nil {
				panic(err)
			}
			for _, n := range nodes {
				f.Positions = append(f.Positions, [2]uint32{uint32(n.Pos.Level), n.Pos.Index})
			}
		} else {
			rec.Error = errKindName(checkLap(uint32(c.n), c.rootLap, c.anchor, anchorHash, &c.lap))
		}
		rec.Fields = mustFields(f)
		out = append(out, rec)
	}
	return out
}

// vectorFiles maps each file to its generator.
var vectorFiles = []struct {
	name string
	gen  func() []structVector
}{
	{"varint.json", genVarintVectors},
	{"hashseq.json", genHashSeqVectors},
	{"runs.json", genRunVectors},
	{"workouts.json", genWorkoutVectors},
	{"laps.json", genLapVectors},
}

// marshalVectors renders records one a line.
func marshalVectors(recs []structVector) []byte {
	var b bytes.Buffer
	b.WriteString("[\n")
	for i, r := range recs {
		line, err := json.Marshal(r)
		if err != nil {
			panic(err)
		}
		b.Write(line)
		if i < len(recs)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]\n")
	return b.Bytes()
}

// readVectors reads one vector file.
func readVectors(t testing.TB, name string) []structVector {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(structVectorDir, name))
	if err != nil {
		t.Fatalf("%v (regenerate with go test ./internal/wire -run TestVectors -update)", err)
	}
	var recs []structVector
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return recs
}

// --- checking ---

func TestVectors(t *testing.T) {
	if updateVectors() {
		if err := os.MkdirAll(structVectorDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range vectorFiles {
			if err := os.WriteFile(filepath.Join(structVectorDir, f.name), marshalVectors(f.gen()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	total := 0
	for _, f := range vectorFiles {
		t.Run(f.name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(structVectorDir, f.name))
			if err != nil {
				t.Fatalf("%v (regenerate with -update)", err)
			}
			total += len(raw)
			// The generator must still produce the file: otherwise an
			// encoder or a test table changed and the file is stale.
			if gen := marshalVectors(f.gen()); !bytes.Equal(gen, raw) {
				t.Errorf("%s differs from what the generator produces; if the change is intended run go test ./internal/wire -run TestVectors -update", f.name)
			}
			recs := readVectors(t, f.name)
			if len(recs) == 0 {
				t.Fatalf("%s is empty", f.name)
			}
			names := map[string]bool{}
			for _, rec := range recs {
				key := rec.Type + "/" + rec.Name
				if names[key] {
					t.Errorf("duplicate vector %s", key)
				}
				names[key] = true
				if err := checkVector(&rec); err != nil {
					t.Errorf("%s %s: %v", rec.Type, rec.Name, err)
				}
			}
		})
	}
	if total > 200<<10 {
		t.Errorf("vector files total %d bytes, more than 200 KiB", total)
	}
}

// checkVector checks one record: a reject must fail with its error kind; an
// encoding must decode to its fields and re-encode, from the decoded value
// and from the fields, to exactly its bytes.
func checkVector(rec *structVector) error {
	b, err := hex.DecodeString(rec.Hex)
	if err != nil {
		return err
	}
	if (rec.Error == "") == (rec.Fields == nil) && rec.Type != "lap" {
		return errors.New("a record needs exactly one of fields and error")
	}
	wantErr := func(err error) error {
		if err == nil {
			return fmt.Errorf("decoded, want error %q", rec.Error)
		}
		if k := errKindName(err); k != rec.Error {
			return fmt.Errorf("error %v (%s), want %q", err, k, rec.Error)
		}
		return nil
	}
	same := func(what string, enc []byte) error {
		if !bytes.Equal(enc, b) {
			return fmt.Errorf("%s encodes as %x, want %s", what, enc, rec.Hex)
		}
		return nil
	}
	sameFields := func(got any) error {
		g, _ := json.Marshal(got)
		var want, have any
		_ = json.Unmarshal(rec.Fields, &want)
		_ = json.Unmarshal(g, &have)
		wb, _ := json.Marshal(want)
		hb, _ := json.Marshal(have)
		if !bytes.Equal(wb, hb) {
			return fmt.Errorf("decoded fields %s, want %s", hb, wb)
		}
		return nil
	}
	switch rec.Type {
	case "varint":
		v, err := decodeOneVarint(b)
		if rec.Error != "" {
			return wantErr(err)
		}
		if err != nil {
			return err
		}
		var f varintFields
		if err := json.Unmarshal(rec.Fields, &f); err != nil {
			return err
		}
		if v != f.Value {
			return fmt.Errorf("decoded %d, want %d", v, f.Value)
		}
		return same("value", AppendVarint(nil, f.Value))

	case "hashseq", "hashseq_hashless":
		hashless := rec.Type == "hashseq_hashless"
		s, err := decodeOneSeq(b, hashless)
		if rec.Error != "" {
			return wantErr(err)
		}
		if err != nil {
			return err
		}
		if err := sameFields(toSeqFields(&s, hashless)); err != nil {
			return err
		}
		var f seqFields
		if err := json.Unmarshal(rec.Fields, &f); err != nil {
			return err
		}
		fs, err := fromSeqFields(&f, hashless)
		if err != nil {
			return err
		}
		if err := same("fields", AppendHashSeq(nil, &fs, hashless)); err != nil {
			return err
		}
		return same("decoded sequence", AppendHashSeq(nil, &s, hashless))

	case "run", "run_hashless":
		hashless := rec.Type == "run_hashless"
		run, err := decodeOneRun(b, hashless)
		if rec.Error != "" {
			return wantErr(err)
		}
		if err != nil {
			return err
		}
		// toRunFields includes the walk (positions or walk_error).
		if err := sameFields(toRunFields(&run, hashless, true)); err != nil {
			return err
		}
		var f runFields
		if err := json.Unmarshal(rec.Fields, &f); err != nil {
			return err
		}
		fr, err := fromRunFields(&f, hashless)
		if err != nil {
			return err
		}
		if err := same("fields", AppendRun(nil, &fr, hashless)); err != nil {
			return err
		}
		return same("decoded run", AppendRun(nil, &run, hashless))

	case "workout", "workout_hashless":
		hashless := rec.Type == "workout_hashless"
		w, err := DecodeWorkout(b, hashless)
		if rec.Error != "" {
			return wantErr(err)
		}
		if err != nil {
			return err
		}
		if err := sameFields(toWorkoutFields(&w, hashless)); err != nil {
			return err
		}
		var f workoutFields
		if err := json.Unmarshal(rec.Fields, &f); err != nil {
			return err
		}
		fw, err := fromWorkoutFields(&f, hashless)
		if err != nil {
			return err
		}
		if err := same("fields", AppendWorkout(nil, &fw, hashless)); err != nil {
			return err
		}
		return same("decoded workout", AppendWorkout(nil, &w, hashless))

	case "lap":
		return checkLapVector(rec, b)
	}
	return fmt.Errorf("unknown type %q", rec.Type)
}

// checkLapVector checks a lap record: the lap decodes and re-encodes, its
// leaves give its root, and it recomputes its anchor's hash (or fails with
// its error kind). Root laps must also be what BuildRootLap builds.
func checkLapVector(rec *structVector, b []byte) error {
	var f lapFields
	if err := json.Unmarshal(rec.Fields, &f); err != nil {
		return err
	}
	w, err := DecodeWorkout(b, false)
	if err != nil {
		return fmt.Errorf("lap does not decode: %w", err)
	}
	if !bytes.Equal(AppendWorkout(nil, &w, false), b) {
		return errors.New("lap re-encodes differently")
	}
	anchor := merkle.Pos{Level: uint8(f.Anchor[0]), Index: f.Anchor[1]}
	var anchorHash, root chainhash.Hash
	if err := decodeHashHex(f.AnchorHash, &anchorHash); err != nil {
		return err
	}
	if err := decodeHashHex(f.Root, &root); err != nil {
		return err
	}
	var leaves []chainhash.Hash
	var levels [][]chainhash.Hash
	switch {
	case f.Seed != "":
		if f.LeafRule != leafRuleText {
			return fmt.Errorf("leaf rule %q", f.LeafRule)
		}
		treeN := f.N
		if f.TreeN != 0 {
			treeN = f.TreeN
		}
		if len(f.Leaves) != 0 && len(f.Leaves) != int(treeN) {
			return fmt.Errorf("%d leaves listed for a tree of %d", len(f.Leaves), treeN)
		}
		levels = seededLevels(f.Seed, int(treeN))
		leaves = levels[len(levels)-1]
		for i, h := range f.Leaves {
			if h != hex.EncodeToString(leaves[i][:]) {
				return fmt.Errorf("leaf %d does not follow the leaf rule", i)
			}
		}
	default:
		for _, h := range f.Leaves {
			var x chainhash.Hash
			if err := decodeHashHex(h, &x); err != nil {
				return err
			}
			leaves = append(leaves, x)
		}
	}
	if len(leaves) == 0 {
		return errors.New("no leaves")
	}
	if levels == nil {
		levels = merkle.Levels(leaves)
	}
	if levels[0][0] != root {
		return errors.New("root is not the leaves' root")
	}
	if int(anchor.Level) >= len(levels) || int(anchor.Index) >= len(levels[anchor.Level]) || levels[anchor.Level][anchor.Index] != anchorHash {
		return errors.New("anchor hash is not the tree's")
	}

	err = checkLap(f.N, f.RootLap, anchor, anchorHash, &w)
	if rec.Error != "" {
		if err == nil {
			return fmt.Errorf("lap verifies, want %q", rec.Error)
		}
		if k := errKindName(err); k != rec.Error {
			return fmt.Errorf("error %v (%s), want %q", err, k, rec.Error)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("lap does not verify: %w", err)
	}
	nodes, err := w.MerkleNodes()
	if err != nil {
		return err
	}
	var pos []merkle.Pos
	for _, n := range nodes {
		pos = append(pos, n.Pos)
		if n.Hash != levels[n.Pos.Level][n.Pos.Index] {
			return fmt.Errorf("node %v is not the tree's", n.Pos)
		}
	}
	if !slices.Equal(posPairs(pos), f.Positions) {
		return fmt.Errorf("positions %v, want %v", posPairs(pos), f.Positions)
	}
	if f.RootLap {
		shape := merkle.MustShape(f.N)
		if f.LapLevel == nil || *f.LapLevel != LapLevel(shape) {
			return fmt.Errorf("lap level %v, want %d", f.LapLevel, LapLevel(shape))
		}
		built, err := BuildRootLap(shape, hashAtLevels(levels))
		if err != nil {
			return err
		}
		if !bytes.Equal(AppendWorkout(nil, &built, false), b) {
			return errors.New("BuildRootLap builds a different lap")
		}
	}
	return nil
}

func decodeHashHex(s string, h *chainhash.Hash) error {
	b, err := hex.DecodeString(s)
	if err != nil {
		return err
	}
	if len(b) != len(h) {
		return fmt.Errorf("hash of %d bytes", len(b))
	}
	copy(h[:], b)
	return nil
}

// TestVectorErrorKinds checks that every reject in the files names a kind
// this package knows, so that a second implementation can map them.
func TestVectorErrorKinds(t *testing.T) {
	known := map[string]bool{"short": true, "limit": true, "noncanonical": true, "reserved": true, "malformed": true,
		"trailing": true, "mutated": true, "mismatch": true, "badpos": true, "overlap": true, "incomplete": true}
	seen := map[string]bool{}
	for _, f := range vectorFiles {
		for _, rec := range readVectors(t, f.name) {
			if rec.Error != "" {
				seen[rec.Error] = true
				if !known[rec.Error] {
					t.Errorf("%s %s: error kind %q", f.name, rec.Name, rec.Error)
				}
			}
		}
	}
	for k := range known {
		if !seen[k] {
			t.Errorf("no vector rejects with %q", k)
		}
	}
}
