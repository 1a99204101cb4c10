// Package bridge joins a Blocktorrent node to the Bitcoin node beside it.
//
// # Role
//
// A Bridge keeps one outbound Bitcoin P2P connection (btcd's peer package)
// to the local Bitcoin node and moves data both ways:
//
//   - Bitcoin node → Blocktorrent. Every transaction the Bitcoin node
//     announces (inv tx) is fetched (getdata) and added to the node's
//     mempool, so blocks can later name it by a short hash. Every block it
//     announces (inv block, or headers) is fetched and submitted at once
//     (Node.Submit): a new Blocktorrent job. Blocks the bridge already knows
//     (fetched before, or handed over from Blocktorrent) are ignored.
//   - Blocktorrent → Bitcoin node. Every block that completes from the
//     network (node Config.OnBlock → Bridge.OnBlock) is kept in a small map
//     of recent blocks, announced with inv, served on getdata, and, when RPC
//     is configured, also sent with submitblock (which works even while the
//     Bitcoin node does not consider itself current and so ignores invs).
//
// Talking to btcd (v0.26) taught three things the code relies on. btcd
// raises a peer's ban score for every block it asks for and gets notfound,
// so a getdata for a block the bridge no longer holds (not in the recent
// map, nor in the job engine) is left unanswered rather than refused. btcd
// announces blocks it accepted by submitblock back to the bridge, and
// rejects as duplicates those it got both ways; both are harmless. And
// btcd rebuilds the getblocktemplate answer for new mempool transactions
// only once a minute (at once for a new tip), so template polling is a
// slow backstop behind P2P invs, not a substitute.
//
// Transactions a block confirmed are removed from the mempool RemoveDelay
// after the block was submitted or handed over, not at once: the job that
// relays the block still names leaves by short hashes and serves bodies
// from the mempool for a while.
//
// With RPC configured and PollTemplate set, the bridge also polls
// getblocktemplate and adds the template's transactions to the mempool.
//
// # Goroutines
//
// Start launches and Close stops and waits for:
//
//   - the connection loop: dials the Bitcoin node, runs one btcd peer.Peer
//     at a time, and redials with exponential backoff (MinBackoff to
//     MaxBackoff) when the connection fails or ends;
//   - the handover worker: takes blocks queued by OnBlock (which runs on
//     the job engine's goroutine and therefore never blocks), announces
//     them, calls submitblock, and runs the delayed mempool removals;
//   - the template poller, when enabled.
//
// The peer package runs its own goroutines per connection; its message
// listeners (OnInv, OnTx, OnBlock, OnHeaders, OnGetData) run on the peer's
// input goroutine and only touch the bridge's mutex-guarded state, the
// mempool (safe for concurrent use) and Node.Submit.
package bridge
