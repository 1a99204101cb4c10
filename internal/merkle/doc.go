// Package merkle models the merkle tree of a Bitcoin block as Blocktorrent
// sees it: a Shape fixes how many nodes each level has for a given number of
// transactions (Bitcoin's odd rule pairs the last node of an odd-sized level
// with itself), a Pos names one node by level and index (level 0 is the root),
// and the hashing functions compute and check roots, branches and laps with
// double SHA-256.
//
// Root and RootParallel compute a block's merkle root and detect the
// CVE-2012-2459 mutation as Bitcoin Core does; Levels keeps every level for a
// sender that serves nodes. Branch and VerifyBranch build and check the proof
// of one leaf. ComputeCover and VerifyCover check a lap, a set of nodes at
// mixed levels whose subtrees partition the leaves under an anchor node, and
// VerifyAgainst lets a receiver grow its set of verified nodes from whatever
// nodes arrive, accepting a node only once it hashes up to a verified one.
//
// The package is the bottom of the dependency graph: it imports nothing of
// the project and is safe for concurrent use (all types are values or are
// read-only after construction).
package merkle
