// Package lab starts networks of real Blocktorrent nodes in one process for
// tests, the demo and the benchmark lab. Each node gets its own loopback IP
// (127.77.x.y) so that every link between two nodes can be shaped by the
// user-space link emulator in both directions: a node dials from its own
// IP, and each side looks the other up by IP to pick the link's profile.
// Nodes use real TCP and UDP sockets; only loopback addresses are used.
//
// A Net is used from one goroutine (the test's); the nodes run their own.
package lab
