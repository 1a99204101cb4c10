// Package chainsync downloads the block chain from Blocktorrent peers that
// announce more total work than this node (docs/protocol.md §9).
//
// The package lives in internal/sync but is named chainsync so that it does
// not shadow the standard library's sync.
//
// # Headers first, backwards
//
// For every peer whose BTVERSION shows more work than the store's tip, the
// Syncer asks GET_HEADERS for the peer's BEST_HASH and walks backwards, 2,000
// headers at a time, until a reply reaches a hash it knows (stored, or already
// verified from another peer). Every header is checked before it enters the
// work pool: the first hashes to the requested hash, each PrevBlock links to
// the next header, each meets its proof of work within the network's limit,
// and no hash repeats. A broken link or a bad proof of work costs the peer 100
// points (invalid-run, bad-pow) and drops it; two short replies in a row
// (dripping) or a chain whose work does not add up to the announced TD drop
// it.
//
// A peer's tip is known only from its BTVERSION. When a block arrives by
// relay whose parent is unknown (the peers moved on since they connected),
// Orphan starts the same backward header download from that block at one
// peer that serves blocks, without the TD check (there is no claim to check).
// One such hint is followed at a time; the others wait in a short queue
// (newest first), and a hint a peer does not know yet is tried at the other
// peers, in a few rounds, so the last block of a burst is not lost.
//
// # One work pool
//
// The verified headers of the best chain form one pool shared by all peers,
// as in the seed's design. Blocks are requested from a window (Window blocks,
// 1,024 by default) ahead of the last block written. Each peer gets GET_BLOCKS
// batches sized by its measured rate times TargetRTT (starting at 16, at most
// doubling or halving per reply, within 1..128) and capped by a fair share of
// the window's free blocks, with at most two requests outstanding. A block in
// flight is asked of no other peer. Blocks a reply leaves out go back to the pool. A request that
// times out (the timeout adapts to the peer's service time) returns its blocks
// to the pool; four timeouts in a row cost 10 points (stall) and drop the
// peer. A peer that holds the window back (it has the oldest missing block in
// flight while every other peer is idle) for StallTimeout is a staller: its
// blocks move to the others and it gets nothing new until it has answered.
// A late reply to a request that timed out is still accepted.
//
// # Bodies
//
// Replies carry no request id: BLOCKS answer a peer's GET_BLOCKS in order
// (TCP), so each reply is matched to the oldest request still owed.
//
// Blocks are decoded and their merkle roots checked (with the CVE-2012-2459
// mutation check) on the session's reader goroutine, so several peers' blocks
// are checked in parallel. A block that was not requested, or whose body does
// not match its header, drops the peer. Checked blocks are written in height
// order with store.PutBatch by one writer goroutine.
package chainsync
