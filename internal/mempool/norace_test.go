//go:build !race

package mempool

// raceEnabled reports whether the race detector is on.
const raceEnabled = false
