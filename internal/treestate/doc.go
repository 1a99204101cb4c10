// Package treestate holds what one job knows about one block's merkle tree
// (docs/protocol.md §2, §6 and §7): which nodes are verified and their
// hashes, which transaction bodies are present, and which nodes and bodies
// have arrived but cannot be checked yet.
//
// A State starts from the header's merkle root and grows only by data that
// recomputes an already verified node (merkle.VerifyAgainst), so every hash
// it reports as verified is as trustworthy as the root, and its verified set
// is closed upwards: the parent of a verified node is verified. Nodes whose
// ancestor is not verified yet (their parent datagram is late) and bodies
// whose leaf is not verified yet are held in a pending buffer of bounded
// size and checked as soon as the data they need arrives.
//
// A Set records, without hashes, what a peer has or claims to have; the
// State's Missing and Wanted methods compare the two per level and return
// runs of positions (Range), which the package encodes as the flat hashless
// runs of JOB_STATE, GET_NODES and GET_TXS. Tiers and groups (§7.2) name the
// units in which the job engine requests and pushes nodes.
//
// A State and a Set are owned by one goroutine, the job's, and are not safe
// for concurrent use. Slices a State returns from Hashes alias its storage
// and must not be modified; the hashes they hold never change once verified.
package treestate
