// Package bench is the benchmark lab behind `blocktorrent bench`: it relays
// one realistic block through small networks of real nodes on loopback, with
// every link shaped by the user-space link emulator, and compares
// Blocktorrent with the two ways Bitcoin relays blocks today, run in the same
// process over the same emulated links:
//
//   - tcp-block: store-and-forward relay with Bitcoin's own P2P messages
//     (inv → getdata → block, btcd's wire/v2 encoding over TCP). A node
//     announces the block only once it has received and deserialized all of
//     it.
//   - compact: BIP152 high-bandwidth compact blocks (cmpctblock with 6-byte
//     SipHash-2-4 short ids and a prefilled coinbase, getblocktxn/blocktxn
//     for what the receiver's mempool lacks), relayed onward as soon as the
//     block is reconstructed and its merkle root checks.
//   - blocktorrent: the real node (internal/node) started by internal/lab.
//
// Every scenario also gets its physical limit: for each node the best path
// from a source, counting the one-way delays plus the block's transmission
// time over the path's bottleneck (cut-through at its ideal).
//
// Everything runs in real time on real sockets, so results carry the noise
// of the machine; tests assert behaviour (every protocol delivers the exact
// block to every node), never timings.
package bench
