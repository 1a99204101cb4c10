// Package session is one Blocktorrent peer connection: the TCP handshake
// (BTVERSION/BTVERACK, docs/protocol.md §5), the control stream, the UDP
// binding that accepts the peer's datagrams, and the measurements the job
// engine paces by (RTT from PING/PONG, path MTU from TEST_MTU, bottleneck
// rate from ESTIMATE_BANDWIDTH). It also keeps the peer's misbehaviour
// score, which decays by a point a minute (Local.ScoreDecay); reaching the
// ban threshold disconnects the peer and tells the owner so it can ban the
// address.
//
// Goroutines: Run owns the TCP reader; it starts one writer goroutine that
// owns the TCP writes. UDP datagrams arrive on the transport's reader
// goroutine through HandleDatagram. Every field that several of these
// touch is atomic or guarded by mu. Messages for the layers above (jobs,
// chain download, addresses) go to the Handler, called from the reader
// goroutines; the handler must not block.
package session
