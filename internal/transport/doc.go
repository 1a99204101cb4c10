// Package transport owns a node's UDP socket: it reads datagrams, accepts
// only those from the address of a handshaken session that carry the token
// this node handed out and a fresh sequence number (docs/protocol.md §4.2),
// and hands them to the session's handler; it frames and sends outgoing
// datagrams with the peer's token and the next sequence number.
//
// Datagrams from anyone else are dropped without a reply, so an off-path
// sender cannot make the node send a single byte (amplification 0).
//
// Datagrams that pass those checks are then rate limited (Limits): a token
// bucket per binding and one for the whole socket, in datagrams and bytes
// per second. A peer over its own limit is cut there, before it spends the
// global budget, so a flood from one peer does not starve the others.
// Dropped datagrams are counted in Stats (RateLimited, GlobalLimited) and
// on the Binding.
//
// One goroutine (Serve) reads the socket and calls handlers; Bind, Unbind
// and Send may be called from any goroutine.
package transport
