package avrocompat

import (
	"errors"
	"fmt"
	"strings"
)

// Mode is a Schema Registry compatibility mode. Its value is the
// registry's spelling, e.g. "FULL_TRANSITIVE".
type Mode string

// The compatibility modes of Confluent Schema Registry. The package doc
// explains what each one guarantees.
const (
	// Backward: the new schema can read data written with the latest
	// earlier version.
	Backward Mode = "BACKWARD"
	// BackwardTransitive: the new schema can read data written with every
	// earlier version.
	BackwardTransitive Mode = "BACKWARD_TRANSITIVE"
	// Forward: the latest earlier version can read data written with the
	// new schema.
	Forward Mode = "FORWARD"
	// ForwardTransitive: every earlier version can read data written with
	// the new schema.
	ForwardTransitive Mode = "FORWARD_TRANSITIVE"
	// Full: Backward and Forward.
	Full Mode = "FULL"
	// FullTransitive: BackwardTransitive and ForwardTransitive.
	FullTransitive Mode = "FULL_TRANSITIVE"
	// None: no check.
	None Mode = "NONE"
)

// modes lists every mode in the order error messages name them.
var modes = []Mode{Backward, BackwardTransitive, Forward, ForwardTransitive, Full, FullTransitive, None}

// ErrUnknownMode is wrapped by the error ParseMode and Check return for a
// string that names no mode.
var ErrUnknownMode = errors.New("unknown compatibility mode")

// Modes returns every mode, in the order BACKWARD, BACKWARD_TRANSITIVE,
// FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE, NONE. The caller owns
// the returned slice.
func Modes() []Mode {
	return append([]Mode(nil), modes...)
}

// ParseMode returns the mode s names, ignoring case and surrounding space
// ("full_transitive" is FullTransitive). For any other string it returns
// an error that wraps [ErrUnknownMode] and lists the valid modes.
func ParseMode(s string) (Mode, error) {
	up := Mode(strings.ToUpper(strings.TrimSpace(s)))
	for _, m := range modes {
		if up == m {
			return m, nil
		}
	}
	names := make([]string, len(modes))
	for i, m := range modes {
		names[i] = string(m)
	}
	return "", fmt.Errorf("parse mode %q: %w: want one of %s", s, ErrUnknownMode, strings.Join(names, ", "))
}

// backward reports whether m requires the new schema to read old data.
func (m Mode) backward() bool {
	return m == Backward || m == BackwardTransitive || m == Full || m == FullTransitive
}

// forward reports whether m requires old schemas to read new data.
func (m Mode) forward() bool {
	return m == Forward || m == ForwardTransitive || m == Full || m == FullTransitive
}

// Transitive reports whether m checks the new schema against every earlier
// version rather than only the latest one.
func (m Mode) Transitive() bool {
	return m == BackwardTransitive || m == ForwardTransitive || m == FullTransitive
}
