package bridge

// AllowSelfConns lets b connect to a btcd peer.Peer of the same process:
// the peer package keeps one cache of sent version nonces per process and
// would take such a connection for one to itself.
func AllowSelfConns(b *Bridge) { b.allowSelfConns = true }
