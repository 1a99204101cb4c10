// Package demo runs the README's main job: a small network of real
// Blocktorrent nodes on loopback behind emulated WAN links, a realistic block
// made on one node, live progress while it spreads, and a table of when each
// node had the whole block against what store-and-forward relay of the same
// block over the same links would take. It runs on the caller's goroutine;
// the nodes run their own.
package demo
