//go:build !purego

package merkle

import (
	"github.com/btcsuite/btcd/chainhash/v2"
	"golang.org/x/sys/cpu"
)

//go:generate go run sha256d_gen.go -out hash_amd64.s

// useSHANI reports whether the CPU can run the assembly in hash_amd64.s,
// which needs the SHA extensions, SSSE3 (PSHUFB, PALIGNR) and SSE4.1
// (PBLENDW). golang.org/x/sys/cpu does not report the SHA extensions on
// amd64, so that bit is read with CPUID directly.
var useSHANI = cpu.X86.HasSSSE3 && cpu.X86.HasSSE41 && hasSHA()

// hasSHA reports whether CPUID leaf 7 sets the SHA bit (EBX bit 29).
func hasSHA() bool {
	if maxLeaf, _, _, _ := cpuid(0, 0); maxLeaf < 7 {
		return false
	}
	_, ebx, _, _ := cpuid(7, 0)
	return ebx&(1<<29) != 0
}

// hashPair stores HashPair(left, right) in out. out may be left or right.
func hashPair(out, left, right *chainhash.Hash) {
	if useSHANI {
		sha256d64(out, left, right)
		return
	}
	hashPairGeneric(out, left, right)
}

// hashPairs2 hashes two independent pairs of nodes, out[0] = HashPair(in[0],
// in[1]) and out[1] = HashPair(in[2], in[3]), with the same overlap rules as
// hashPairs2Generic. With SHA-NI both are computed in one interleaved
// routine, almost twice as fast as one after the other.
func hashPairs2(out *[2]chainhash.Hash, in *[4]chainhash.Hash) {
	if useSHANI {
		sha256d64x2(out, in)
		return
	}
	hashPairs2Generic(out, in)
}

// sha256d64 stores in out the double SHA-256 of the 64 bytes left||right. It
// reads all its input before it writes out. It requires SHA-NI, SSSE3 and
// SSE4.1.
//
//go:noescape
func sha256d64(out, left, right *chainhash.Hash)

// sha256d64x2 computes the double SHA-256 of the 64 bytes in[0]||in[1] into
// out[0] and of in[2]||in[3] into out[1], interleaving the two. It reads all
// its input before it writes out. It requires SHA-NI, SSSE3 and SSE4.1.
//
//go:noescape
func sha256d64x2(out *[2]chainhash.Hash, in *[4]chainhash.Hash)

// cpuid executes the CPUID instruction with EAX = eaxArg and ECX = ecxArg.
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
