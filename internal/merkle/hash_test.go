package merkle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
)

// refSha256d is the reference for every HashPair path: SHA-256(SHA-256(in))
// with crypto/sha256's one-shot function.
func refSha256d(in []byte) chainhash.Hash {
	first := sha256.Sum256(in)
	return sha256.Sum256(first[:])
}

// pairOf splits 64 bytes into the two nodes HashPair takes.
func pairOf(in []byte) (l, r chainhash.Hash) {
	copy(l[:], in[:chainhash.HashSize])
	copy(r[:], in[chainhash.HashSize:2*chainhash.HashSize])
	return l, r
}

// sha256dInputs returns the edge cases and n pseudo-random 64-byte inputs.
func sha256dInputs(n int) [][]byte {
	ins := [][]byte{
		make([]byte, 64),
		bytes.Repeat([]byte{0xff}, 64),
		bytes.Repeat([]byte{0x80}, 64),
		bytes.Repeat([]byte{0x01}, 64),
	}
	seq := make([]byte, 64)
	for i := range seq {
		seq[i] = byte(i)
	}
	ins = append(ins, seq)
	// One bit set, at every position.
	for bit := range 64 * 8 {
		in := make([]byte, 64)
		in[bit/8] = 0x80 >> (bit % 8)
		ins = append(ins, in)
	}
	rng := rand.New(rand.NewPCG(64, 64))
	for range n {
		in := make([]byte, 64)
		for j := range in {
			in[j] = byte(rng.Uint32())
		}
		ins = append(ins, in)
	}
	return ins
}

// TestSha256dKnown checks both paths against digests computed elsewhere
// (Python's hashlib). The first is the well-known parent of two zero hashes.
func TestSha256dKnown(t *testing.T) {
	seq := make([]byte, 64)
	for i := range seq {
		seq[i] = byte(i)
	}
	for _, c := range []struct {
		in   []byte
		want string
	}{
		{make([]byte, 64), "e2f61c3f71d1defd3fa999dfa36953755c690689799962b48bebd836974e8cf9"},
		{bytes.Repeat([]byte{0xff}, 64), "deedbcecde05c2b4e238519c936535b753cb1b5fe2d1a049d169389c795ae490"},
		{seq, "01c9f464780a1b6af4eb400fe2f2896cfb2169f5a65701439e4c2c4e213903ef"},
	} {
		l, r := pairOf(c.in)
		var generic chainhash.Hash
		hashPairGeneric(&generic, &l, &r)
		fast := HashPair(&l, &r)
		for name, got := range map[string]chainhash.Hash{"generic": generic, "fast": fast} {
			if hex.EncodeToString(got[:]) != c.want {
				t.Errorf("%s sha256d(%x) = %x, want %s", name, c.in, got, c.want)
			}
		}
	}
}

// TestSha256d64 compares the fast path (the SHA-NI assembly on amd64 CPUs
// that have it) and the crypto/sha256 fallback with the reference.
func TestSha256d64(t *testing.T) {
	t.Logf("SHA-NI fast path in use: %v", useSHANI)
	for _, in := range sha256dInputs(20000) {
		want := refSha256d(in)
		l, r := pairOf(in)
		if got := HashPair(&l, &r); got != want {
			t.Fatalf("HashPair(%x) = %x, want %x", in, got, want)
		}
		var got chainhash.Hash
		hashPairGeneric(&got, &l, &r)
		if got != want {
			t.Fatalf("hashPairGeneric(%x) = %x, want %x", in, got, want)
		}
		// The output may be either input.
		ll, rr := l, r
		hashPair(&ll, &ll, &rr)
		hashPair(&rr, &l, &rr)
		if ll != want || rr != want {
			t.Fatalf("hashPair in place (%x) = %x, %x, want %x", in, ll, rr, want)
		}
		// The odd rule: a node hashed with itself.
		self := refSha256d(append(l[:], l[:]...))
		if got := HashPair(&l, &l); got != self {
			t.Fatalf("HashPair(l, l) = %x, want %x", got, self)
		}
	}
}

// TestSha256d64x2 checks that hashPairs2 (sha256d64x2 with SHA-NI) equals
// two separate hashes, also when it writes over its own input as a level
// computed in place does.
func TestSha256d64x2(t *testing.T) {
	ins := sha256dInputs(10000)
	for k := 0; k+1 < len(ins); k++ {
		var in [4]chainhash.Hash
		in[0], in[1] = pairOf(ins[k])
		in[2], in[3] = pairOf(ins[k+1])
		want := [2]chainhash.Hash{refSha256d(ins[k]), refSha256d(ins[k+1])}
		var out [2]chainhash.Hash
		hashPairs2(&out, &in)
		if out != want {
			t.Fatalf("hashPairs2(%x) = %x, want %x", in, out, want)
		}
		var gen [2]chainhash.Hash
		hashPairs2Generic(&gen, &in)
		if gen != want {
			t.Fatalf("hashPairs2Generic(%x) = %x, want %x", in, gen, want)
		}
		// In place: parents i and i+1 over children 2i..2i+3, for
		// i = 0 (full overlap of the first two) and i = 1.
		for _, i := range []int{0, 1} {
			buf := make([]chainhash.Hash, 2*i+4)
			copy(buf[2*i:], in[:])
			hashPairs2((*[2]chainhash.Hash)(buf[i:i+2]), (*[4]chainhash.Hash)(buf[2*i:2*i+4]))
			if buf[i] != want[0] || buf[i+1] != want[1] {
				t.Fatalf("hashPairs2 in place at %d = %x, want %x", i, buf[i:i+2], want)
			}
		}
	}
}

// TestRootFallback computes trees with the fast path switched off, which is
// what every CPU without SHA-NI runs, and compares them with the fast path.
// The cross-checks against btcd and mainnet blocks run on whichever path the
// test machine has; this keeps the other one honest too.
func TestRootFallback(t *testing.T) {
	sizes := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 31, 33, 1000, 2047, 2049, 4097, 10001}
	type result struct {
		root, par chainhash.Hash
		mut, pmut bool
		levels    [][]chainhash.Hash
	}
	compute := func(leaves []chainhash.Hash) result {
		var r result
		r.root, r.mut = Root(leaves)
		r.par, r.pmut = rootParallel(leaves, 3, 2)
		r.levels = Levels(leaves)
		return r
	}
	for _, n := range sizes {
		leaves := randomHashes(n, uint64(n))
		if n > 4 {
			leaves[n-1] = leaves[n-2] // a mutated tree too
		}
		fast := compute(leaves)
		saved := useSHANI
		useSHANI = false
		slow := compute(leaves)
		useSHANI = saved
		if fast.root != slow.root || fast.mut != slow.mut || fast.par != slow.par || fast.pmut != slow.pmut {
			t.Fatalf("n=%d: fast %x %v %x %v, fallback %x %v %x %v", n,
				fast.root, fast.mut, fast.par, fast.pmut, slow.root, slow.mut, slow.par, slow.pmut)
		}
		if want, wantMut := refRoot(leaves); slow.root != want || slow.mut != wantMut {
			t.Fatalf("n=%d: fallback root %x %v, reference %x %v", n, slow.root, slow.mut, want, wantMut)
		}
		for l := range fast.levels {
			for i := range fast.levels[l] {
				if fast.levels[l][i] != slow.levels[l][i] {
					t.Fatalf("n=%d: Levels[%d][%d] differ between fast path and fallback", n, l, i)
				}
			}
		}
	}
}

// FuzzSha256d64 compares the fast path with the reference on arbitrary
// inputs: the first 64 bytes of data (zero-padded) for hashPair, and the
// first 128 for hashPairs2.
func FuzzSha256d64(f *testing.F) {
	f.Add(make([]byte, 128))
	f.Add(bytes.Repeat([]byte{0xff}, 128))
	f.Add([]byte("abc"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var buf [128]byte
		copy(buf[:], data)
		var in [4]chainhash.Hash
		in[0], in[1] = pairOf(buf[:64])
		in[2], in[3] = pairOf(buf[64:])
		want := [2]chainhash.Hash{refSha256d(buf[:64]), refSha256d(buf[64:])}
		if got := HashPair(&in[0], &in[1]); got != want[0] {
			t.Fatalf("HashPair(%x) = %x, want %x", buf[:64], got, want[0])
		}
		var out [2]chainhash.Hash
		hashPairs2(&out, &in)
		if out != want {
			t.Fatalf("hashPairs2(%x) = %x, want %x", buf, out, want)
		}
	})
}
