// Package transport owns a node's UDP socket: it reads datagrams, accepts
// only those from the address of a handshaken session that carry the token
// this node handed out and a fresh sequence number (docs/protocol.md §4.2),
// and hands them to the session's handler; it frames and sends outgoing
// datagrams with the peer's token and the next sequence number.
//
// Datagrams from anyone else are dropped without a reply, so an off-path
// sender cannot make the node send a single byte (amplification 0).
//
// One goroutine (Serve) reads the socket and calls handlers; Bind, Unbind
// and Send may be called from any goroutine.
package transport
