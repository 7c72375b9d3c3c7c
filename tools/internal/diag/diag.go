// Package diag holds the positioned error every Keiyaku loader returns: a
// message tied to file:line:col, with a hint on how to fix it.
package diag

import (
	"fmt"
	"strings"
)

// Error is a problem at a position of an input file. Line and Column are
// 1-based; zero means unknown. Hint, when set, says how to fix it.
type Error struct {
	File         string
	Line, Column int
	Msg          string
	Hint         string
}

// Error formats the error as "file:line:col: msg (hint)", omitting what is
// unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Hint != "" {
		b.WriteString("; ")
		b.WriteString(e.Hint)
	}
	return b.String()
}
