// Package job is the Blocktorrent job engine: it moves blocks through the
// network as merkle-verified pieces (docs/protocol.md §6–§7).
//
// One Engine runs one goroutine (Run) that owns every job, every per-peer
// view of a job, and every send decision. Session and transport goroutines
// hand it decoded messages with Deliver; nothing else touches job state, so
// the package needs no locks beyond the event channel. Sends are lazy: when
// a peer's pacer has room, the engine picks the most useful datagram for
// that peer from the current state (a response, a control message, or a
// verified group the peer is not known to have), so what a peer announces in
// JOB_STATE a moment ago is never pushed to it again, and a chunk verified a
// millisecond ago is the next thing forwarded (cut-through relay).
//
// The engine sits above the session layer: it sees peers only through the
// Peer interface and imports the wire, merkle, treestate, pow and mempool
// packages.
package job
