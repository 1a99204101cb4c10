// Package pow checks a block header's proof of work against its own
// difficulty bits and a network's proof-of-work limit, and computes the work
// a header represents. It is what a node checks before it spends anything on
// an announced block (docs/protocol.md §6 OPEN_JOB, §9 HEADERS). It holds no
// state and is safe for concurrent use.
package pow
