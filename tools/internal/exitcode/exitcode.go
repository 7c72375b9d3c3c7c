// Package exitcode holds the exit codes of the keiyaku command and the error
// that carries one.
package exitcode

import (
	"errors"
	"fmt"
)

// The exit codes of keiyaku.
const (
	// OK: nothing to report.
	OK = 0
	// Failure: a usage error, or an input that does not load.
	Failure = 1
	// Findings: the inputs load, but lint, breaking or generate --check
	// found something at or above the fail level.
	Findings = 100
)

// FindingsError reports that a command found N problems. It is data, not a
// failure: the command ran to its end.
type FindingsError struct {
	N    int
	What string
}

func (e *FindingsError) Error() string { return fmt.Sprintf("%d %s", e.N, e.What) }

// Of maps an error returned by a command to the process exit code.
func Of(err error) int {
	var fe *FindingsError
	switch {
	case err == nil:
		return OK
	case errors.As(err, &fe):
		return Findings
	}
	return Failure
}
