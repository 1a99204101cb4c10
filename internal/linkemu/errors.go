package linkemu

import (
	"errors"
	"fmt"
	"net"
)

// Error kinds returned by this package. Callers test them with errors.Is;
// the returned errors wrap them with the detail of what was wrong.
var (
	// ErrBadProfile means a Profile with a field outside its range: a
	// negative duration, rate or queue size, or a loss probability outside
	// [0, 1].
	ErrBadProfile = errors.New("linkemu: bad profile")
	// ErrBadArgument means an argument other than a Profile that cannot be
	// used: a nil callback, a nil destination address or a stream option
	// outside its range.
	ErrBadArgument = errors.New("linkemu: bad argument")
	// ErrBadNetwork means a network name that the stream helpers (Dial,
	// Listen) do not support; they accept "tcp", "tcp4", "tcp6" and "unix".
	ErrBadNetwork = errors.New("linkemu: unsupported network")
	// ErrClosed means an operation on a Link, PacketConn or Conn that has
	// been closed. It also matches net.ErrClosed, so code that stops its
	// loops on net.ErrClosed keeps working over an emulated link.
	ErrClosed = fmt.Errorf("linkemu: %w", net.ErrClosed)
)

// opError wraps err the way the net package does, so that callers that
// inspect *net.OpError (or call Timeout on a net.Error) see the usual shape.
// It returns err unchanged when it already is a *net.OpError.
func opError(op string, local, remote net.Addr, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return err
	}
	e := &net.OpError{Op: op, Source: local, Addr: remote, Err: err}
	if local != nil {
		e.Net = local.Network()
	}
	return e
}
