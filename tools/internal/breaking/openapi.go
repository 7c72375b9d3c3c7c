// Package breaking compares contracts with a baseline and reports the
// changes that break their users: OpenAPI through oasdiff's checker (about
// 500 direction-aware rules, embedded, not re-implemented), Avro with
// Schema Registry compatibility modes, AsyncAPI by what its receivers
// depend on. Findings use the one model of package report.
package breaking

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oasdiff/oasdiff/checker"
	"github.com/oasdiff/oasdiff/diff"
	"github.com/oasdiff/oasdiff/load"

	"github.com/keiyaku/keiyaku/tools/internal/report"
)

// maxListedOperations bounds the operations a grouped finding names in its
// message; JSON output lists them all.
const maxListedOperations = 3

// OpenAPI compares two loaded OpenAPI documents with oasdiff and returns
// one finding per root cause: changes oasdiff reports once per affected
// operation (a component schema used by many operations) are grouped, with
// the operations listed. Every change at every level is kept; grouping
// only merges identical changes at the same place. base and rev name the
// files (used in findings).
func OpenAPI(baseFile string, base *openapi3.T, revFile string, rev *openapi3.T) ([]report.Finding, error) {
	d, sources, err := diff.GetWithOperationsSourcesMap(diff.NewConfig(),
		&load.SpecInfo{Url: baseFile, Spec: base}, &load.SpecInfo{Url: revFile, Spec: rev})
	if err != nil {
		return nil, fmt.Errorf("diff %s against %s: %w", revFile, baseFile, err)
	}
	// WARN and up, as "oasdiff breaking": info-level changes are changelog
	// material, not breaks.
	changes := checker.CheckBackwardCompatibilityUntilLevel(checker.NewConfig(checker.GetAllChecks()), d, sources, checker.WARN)
	return group(changes, revFile), nil
}

// severity maps oasdiff's levels to Keiyaku's severities.
func severity(l checker.Level) report.Severity {
	switch l {
	case checker.ERR:
		return report.Error
	case checker.WARN:
		return report.Warning
	}
	return report.Info
}

// group merges the changes that share a root cause: the same rule at the
// same level at the same place in the contract (or, where oasdiff gives no
// place, with the same text). A property removed from a component schema
// used by ten operations is one finding listing the ten operations; every
// change still counts in exactly one finding.
func group(changes checker.Changes, revFile string) []report.Finding {
	l := checker.NewDefaultLocalizer()
	type key struct {
		id, text, file string
		level          checker.Level
		line, col      int
	}
	type acc struct {
		finding report.Finding
		texts   []string
		schema  string
	}
	groups := map[key]*acc{}
	var order []key
	for _, c := range changes {
		file, line, col := where(c, revFile)
		text := c.GetUncolorizedText(l)
		k := key{id: c.GetId(), file: file, level: c.GetLevel(), line: line, col: col}
		if line == 0 {
			k.text = text
		}
		a, ok := groups[k]
		if !ok {
			a = &acc{finding: report.Finding{
				Rule: c.GetId(), Severity: severity(c.GetLevel()), Format: report.FormatOpenAPI,
				File: file, Line: line, Column: col, Side: side(c),
			}}
			groups[k] = a
			order = append(order, k)
		}
		if !slices.Contains(a.texts, text) {
			a.texts = append(a.texts, text)
		}
		if sh, ok := c.(interface{ GetSharedSchema() *checker.SharedSchema }); ok {
			if s := sh.GetSharedSchema(); s != nil && s.Name != "" {
				a.schema = s.Name
			}
		}
		if op := operation(c); op != "" && !slices.Contains(a.finding.Operations, op) {
			a.finding.Operations = append(a.finding.Operations, op)
		}
	}
	findings := make([]report.Finding, 0, len(order))
	for _, k := range order {
		a := groups[k]
		f := a.finding
		slices.Sort(f.Operations)
		slices.Sort(a.texts)
		f.Message = a.texts[0]
		if len(a.texts) > 1 {
			f.Variants = a.texts
			f.Message += fmt.Sprintf(" (and %d variants of it", len(a.texts)-1)
			if a.schema != "" {
				f.Message += " through schema " + a.schema
			}
			f.Message += ")"
		}
		f.Message += affected(f.Operations)
		findings = append(findings, f)
	}
	report.Sort(findings)
	return findings
}

// affected renders the operations a finding is about for its message.
func affected(ops []string) string {
	switch len(ops) {
	case 0:
		return ""
	case 1:
		return " in " + ops[0]
	}
	shown := ops[:min(len(ops), maxListedOperations)]
	s := fmt.Sprintf(" in %d operations: %s", len(ops), strings.Join(shown, ", "))
	if more := len(ops) - len(shown); more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}

func operation(c checker.Change) string {
	if c.GetOperation() == "" {
		return ""
	}
	return c.GetOperation() + " " + c.GetPath()
}

// where locates a change: in the revision when it has a position there, in
// the baseline otherwise (a removal), else the revision file.
func where(c checker.Change, revFile string) (string, int, int) {
	for _, s := range []*checker.Source{c.GetRevisionSource(), c.GetBaseSource()} {
		if s != nil && s.Line > 0 {
			return cmp.Or(s.File, revFile), s.Line, s.Column
		}
	}
	return revFile, 0, 0
}

// side says whether a change breaks callers through what they send
// (request) or what they receive (response), from oasdiff's rule ids.
func side(c checker.Change) string {
	id := c.GetId()
	switch {
	case strings.HasPrefix(id, "request-"), strings.Contains(id, "-request-"):
		return "request"
	case strings.HasPrefix(id, "response-"), strings.Contains(id, "-response-"):
		return "response"
	}
	return ""
}
