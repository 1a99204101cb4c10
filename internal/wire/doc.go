// Package wire encodes and decodes every structure and message of the
// Blocktorrent protocol (docs/protocol.md): Bitcoin CompactSize varints, hash
// sequences, runs, workouts and laps, the TCP frame and the UDP datagram
// header, and one file per message type named after the message
// (BTVERSION is btversion.go, JOB_STATE is job_state.go).
//
// Decoders never trust a count: every count is checked against its limit
// and against the bytes that remain before anything is allocated, and every
// failure wraps one of the error kinds in errors.go so callers can tell a
// malformed message (score the peer) from a short read. The package holds no
// state and is safe for concurrent use; it imports only the merkle package
// of this module (for positions and run walks).
package wire
