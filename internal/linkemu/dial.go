package linkemu

import (
	"context"
	"fmt"
	"net"
)

// checkStreamNetwork accepts the networks whose connections are streams.
func checkStreamNetwork(network string) error {
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
		return nil
	}
	return fmt.Errorf("%w: %q", ErrBadNetwork, network)
}

// Dialer dials stream connections whose outbound direction (dialer to
// listener) is shaped by Profile. The listener side shapes the other
// direction; see Listen.
type Dialer struct {
	// Net is the dialer used for the real connection.
	Net net.Dialer
	// Profile shapes the outbound direction of every connection.
	Profile Profile
	// Options set the sender window and segment size.
	Options []StreamOption
}

// DialContext dials address and wraps the connection. It checks the network,
// profile and options before dialing; their errors wrap ErrBadNetwork,
// ErrBadProfile and ErrBadArgument. The returned net.Conn is a *Conn.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if err := checkStreamNetwork(network); err != nil {
		return nil, err
	}
	if err := d.Profile.Validate(); err != nil {
		return nil, err
	}
	if _, err := newStreamConfig(d.Options); err != nil {
		return nil, err
	}
	c, err := d.Net.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	conn, err := newConn(c, d.Profile, d.Options)
	if err != nil { // unreachable after the checks above, kept for safety
		_ = c.Close()
		return nil, err
	}
	return conn, nil
}

// Dial is DialContext with a background context.
func (d *Dialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

// Dial connects to address on a stream network and shapes the outbound
// direction of the connection by p. The returned net.Conn is a *Conn.
func Dial(network, address string, p Profile, opts ...StreamOption) (net.Conn, error) {
	d := Dialer{Profile: p, Options: opts}
	return d.Dial(network, address)
}

// Listener is a net.Listener whose accepted connections have their
// outbound direction (listener to dialer) shaped by a per-peer profile.
type Listener struct {
	ln         net.Listener
	profileFor func(remote net.Addr) Profile
	opts       []StreamOption
}

var _ net.Listener = (*Listener)(nil)

// Listen listens on a stream network and wraps every accepted connection
// with profileFor(remote address) as its outbound profile. The returned
// net.Listener is a *Listener.
func Listen(network, address string, profileFor func(remote net.Addr) Profile, opts ...StreamOption) (net.Listener, error) {
	if err := checkStreamNetwork(network); err != nil {
		return nil, err
	}
	if profileFor == nil {
		return nil, fmt.Errorf("%w: nil profileFor", ErrBadArgument)
	}
	if _, err := newStreamConfig(opts); err != nil {
		return nil, err
	}
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	return &Listener{ln: ln, profileFor: profileFor, opts: opts}, nil
}

// WrapListener wraps an existing stream listener like Listen does. It
// panics if profileFor is nil.
func WrapListener(ln net.Listener, profileFor func(remote net.Addr) Profile, opts ...StreamOption) *Listener {
	if profileFor == nil {
		panic(fmt.Errorf("%w: nil profileFor", ErrBadArgument))
	}
	return &Listener{ln: ln, profileFor: profileFor, opts: opts}
}

// Accept waits for the next connection and wraps it. If the peer's profile
// or the options are invalid it closes the connection and returns an error
// wrapping ErrBadProfile or ErrBadArgument. The returned net.Conn is a
// *Conn.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.ln.Accept()
	if err != nil {
		return nil, err
	}
	conn, err := newConn(c, l.profileFor(c.RemoteAddr()), l.opts)
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("accept from %s: %w", c.RemoteAddr(), err)
	}
	return conn, nil
}

// Close closes the underlying listener. Accepted connections stay open.
func (l *Listener) Close() error { return l.ln.Close() }

// Addr returns the underlying listener's address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }
