// Package report holds the one finding model of Keiyaku's gate (lint and
// breaking, for OpenAPI, AsyncAPI and Avro) and writes findings as text,
// JSON, GitHub Actions annotations or JUnit XML.
//
// Findings are data, not errors: a command that finds something at or
// above its fail level exits 100; a failure to load an input exits 1.
package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Severity ranks a finding.
type Severity string

// The severities, from most to least serious.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
	Info    Severity = "info"
)

// ParseSeverity reads "error", "warning" or "info".
func ParseSeverity(s string) (Severity, error) {
	switch sv := Severity(strings.ToLower(s)); sv {
	case Error, Warning, Info:
		return sv, nil
	}
	return "", fmt.Errorf("unknown severity %q; use error, warning or info", s)
}

// rank orders severities: higher is more serious.
func (s Severity) rank() int {
	switch s {
	case Error:
		return 3
	case Warning:
		return 2
	case Info:
		return 1
	}
	return 0
}

// AtLeast reports whether s is as serious as min or more.
func (s Severity) AtLeast(min Severity) bool { return s.rank() >= min.rank() }

// The formats a finding is about.
const (
	FormatOpenAPI  = "openapi"
	FormatAsyncAPI = "asyncapi"
	FormatAvro     = "avro"
	FormatConfig   = "config"
)

// Finding is one problem at one place.
type Finding struct {
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Format   string   `json:"format"`
	File     string   `json:"file,omitempty"`
	Line     int      `json:"line,omitempty"`
	Column   int      `json:"column,omitempty"`
	Message  string   `json:"message"`
	// Side says which side a breaking change breaks: request or response
	// (OpenAPI), reader or writer (Avro).
	Side string `json:"side,omitempty"`
	// Operations lists the operations one root cause affects (OpenAPI).
	Operations []string `json:"operations,omitempty"`
	// Variants lists every distinct message grouped into this finding
	// when there are several (the text output shows the first).
	Variants []string `json:"variants,omitempty"`
	// Path is a JSON path into an Avro schema.
	Path string `json:"path,omitempty"`
	// Versions names the schema versions involved (Avro).
	Versions []string `json:"versions,omitempty"`
}

// String formats the finding as one line: "file:line:col: severity RULE: message".
func (f Finding) String() string {
	var b strings.Builder
	if f.File != "" {
		b.WriteString(f.File)
		if f.Line > 0 {
			fmt.Fprintf(&b, ":%d", f.Line)
			if f.Column > 0 {
				fmt.Fprintf(&b, ":%d", f.Column)
			}
		}
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "%s %s: %s", f.Severity, f.Rule, f.Message)
	return b.String()
}

// Sort orders findings by file, line, column, rule and message, the order
// every output uses.
func Sort(findings []Finding) {
	slices.SortFunc(findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Message, b.Message))
	})
}

// Count returns how many findings are at or above min.
func Count(findings []Finding, min Severity) int {
	n := 0
	for _, f := range findings {
		if f.Severity.AtLeast(min) {
			n++
		}
	}
	return n
}
