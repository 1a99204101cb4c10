// Package node assembles a Blocktorrent daemon: one TCP listener and one UDP
// socket on the same port, a session per peer, the job engine, the chain
// tip, the ban list, and the HTTP status and metrics endpoints.
//
// Data flows one way: socket → frame → session → job → verified tree →
// block → OnBlock (and, later, the Bitcoin node). Goroutines: the accept
// loop, one dial loop per configured peer, one Run goroutine per session
// (plus its writer), the transport's socket reader, the engine's goroutine
// and the HTTP server. Node fields shared between them are guarded by mu.
package node
