package bridge

import (
	"errors"
	"fmt"
)

// Error kinds returned by this package; test them with errors.Is.
var (
	// ErrConfig means a configuration the bridge cannot run with.
	ErrConfig = errors.New("bridge: bad configuration")
	// ErrRPC means an RPC call to the Bitcoin node failed or was rejected.
	ErrRPC = errors.New("bridge: bitcoin RPC failed")
	// ErrClosed means the bridge was closed (or never started).
	ErrClosed = errors.New("bridge: closed")
)

// errorf wraps kind with a formatted detail.
func errorf(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{kind}, args...)...)
}
