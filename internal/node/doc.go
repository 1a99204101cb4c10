// Package node assembles a Blocktorrent daemon: one TCP listener and one UDP
// socket on the same port, a session per peer, the job engine, the chain
// tip (the block store and chain download with a DataDir), peer discovery,
// the ban list, and the HTTP status and metrics endpoints.
//
// Data flows one way: socket → frame → session → job → verified tree →
// block → OnBlock (internal/bridge hands it to the Bitcoin node). Goroutines:
// the accept loop, one dial loop per configured peer, the discovery loop and
// its dials, one Run goroutine per session (plus its writer and, with a
// DataDir, its chain server), the transport's socket reader, the engine's
// goroutine, with a DataDir the store writer and the chain downloader, and
// the HTTP server. Node fields shared between them are guarded by mu.
package node
