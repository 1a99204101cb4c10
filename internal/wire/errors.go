package wire

import (
	"errors"
	"fmt"
)

// Error kinds. Every decoding error wraps exactly one of them.
var (
	// ErrShort means the input ended before the structure did.
	ErrShort = errors.New("wire: input too short")
	// ErrLimit means a count or length above the protocol's limit.
	ErrLimit = errors.New("wire: limit exceeded")
	// ErrNonCanonical means a varint that is not minimally encoded.
	ErrNonCanonical = errors.New("wire: non-canonical varint")
	// ErrReserved means a reserved value (hash size, direction, flag).
	ErrReserved = errors.New("wire: reserved value")
	// ErrMalformed means an internally inconsistent structure.
	ErrMalformed = errors.New("wire: malformed")
	// ErrTrailing means bytes left over after a complete message.
	ErrTrailing = errors.New("wire: trailing bytes")
	// ErrUnknownType means a message type this version does not know.
	ErrUnknownType = errors.New("wire: unknown message type")
)

// errorf wraps kind with a formatted detail.
func errorf(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{kind}, args...)...)
}
