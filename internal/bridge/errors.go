package bridge

import (
	"errors"
	"fmt"
)

// Error kinds returned by this package; test them with errors.Is.
var (
	// ErrConfig means a configuration the bridge cannot run with.
	ErrConfig = errors.New("bridge: bad configuration")
	// ErrNotConnected means no P2P connection to the Bitcoin node is up.
	ErrNotConnected = errors.New("bridge: not connected to the Bitcoin node")
	// ErrRPC means an RPC call to the Bitcoin node failed or was rejected.
	ErrRPC = errors.New("bridge: bitcoin RPC failed")
	// ErrClosed means the bridge was closed (or never started).
	ErrClosed = errors.New("bridge: closed")
)

// errorf wraps kind with a formatted detail.
func errorf(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{kind}, args...)...)
}
