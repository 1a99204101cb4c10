package job

import "errors"

// Error kinds returned by the engine.
var (
	// ErrDuplicate means a job for the block is already open.
	ErrDuplicate = errors.New("job: duplicate job")
	// ErrInvalidBlock means a locally submitted block that does not hang
	// together (no transactions, merkle root mismatch).
	ErrInvalidBlock = errors.New("job: invalid block")
	// ErrBadLap means an OPEN_JOB lap that does not follow the rules.
	ErrBadLap = errors.New("job: bad lap")
)
