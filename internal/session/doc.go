// Package session is one Blocktorrent peer connection: the TCP handshake
// (BTVERSION/BTVERACK, docs/protocol.md §5), the control stream, the UDP
// binding that accepts the peer's datagrams, and the measurements the job
// engine paces by (RTT from PING/PONG, path MTU from TEST_MTU, bottleneck
// rate from ESTIMATE_BANDWIDTH). It also keeps the peer's misbehaviour
// score, which decays by a point a minute (Local.ScoreDecay); reaching the
// ban threshold with points for proven misbehaviour disconnects the peer
// and tells the owner so it can ban the address, while reaching it only
// with points for slowness (SoftReason) disconnects it without a ban.
//
// Goroutines: Run owns the TCP reader; it starts one writer goroutine that
// owns the queued TCP writes (Disconnect writes its DISCONNECT directly), a
// probe goroutine (pings, MTU and rate probes, the idle timeout) and one
// that disconnects when Run's context ends. UDP datagrams arrive on the
// transport's reader goroutine through the binding's handler. Every field
// that several of these touch is atomic or guarded by mu. Messages for the
// layers above (jobs, chain download, addresses) go to the Handler, called
// from the reader goroutines; the handler must not block.
package session
