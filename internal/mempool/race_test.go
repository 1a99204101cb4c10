//go:build race

package mempool

// raceEnabled reports whether the race detector is on; the measurements
// skip themselves then, since their timings and run time would mislead.
const raceEnabled = true
