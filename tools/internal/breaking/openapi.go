// Package breaking compares contracts with a baseline and reports the
// changes that break their users: OpenAPI through oasdiff's checker (about
// 500 direction-aware rules, embedded, not re-implemented), Avro with
// Schema Registry compatibility modes, AsyncAPI by what its receivers
// depend on. Findings use the one model of package report.
package breaking

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oasdiff/oasdiff/checker"
	"github.com/oasdiff/oasdiff/diff"
	"github.com/oasdiff/oasdiff/load"

	"github.com/keiyaku/keiyaku/tools/internal/report"
)

// OpenAPI compares two loaded OpenAPI documents with oasdiff and returns
// one finding per root cause: the same rule at the same place of the
// contract — the component and property the change is at, found from the
// change's position through read (nil: the position itself) — whatever
// the operations and paths oasdiff reaches it by. A grouped finding lists
// the operations, keeps every variant of the message, shows the shortest
// one, and for enum values added or removed lists the values. Every
// change at warning level and up is in a finding. base and rev name the
// files (used in findings).
func OpenAPI(baseFile string, base *openapi3.T, revFile string, rev *openapi3.T, read SourceReader) ([]report.Finding, error) {
	d, sources, err := diff.GetWithOperationsSourcesMap(diff.NewConfig(),
		&load.SpecInfo{Url: baseFile, Spec: base}, &load.SpecInfo{Url: revFile, Spec: rev})
	if err != nil {
		return nil, fmt.Errorf("diff %s against %s: %w", revFile, baseFile, err)
	}
	// WARN and up, as "oasdiff breaking": info-level changes are changelog
	// material, not breaks.
	changes := checker.CheckBackwardCompatibilityUntilLevel(checker.NewConfig(concurrent(checker.GetAllChecks())), d, sources, checker.WARN)
	return group(changes, revFile, read), nil
}

// concurrent returns checks that give what checks give, computed on
// GOMAXPROCS goroutines: the first call runs every check with its
// arguments, and each call returns its own check's changes.
// CheckBackwardCompatibilityUntilLevel calls its checks one after the
// other with the same diff, sources and config, and keeps their changes in
// that order, so its result is the same; the checks only read the diff
// (oasdiff copies the parts its pipeline writes before they run). On the
// Stripe pair they are most of the work after loading: dozens of rules
// walk every modified response schema.
func concurrent(checks checker.BackwardCompatibilityChecks) checker.BackwardCompatibilityChecks {
	var (
		once    sync.Once
		results = make([]checker.Changes, len(checks))
		panicV  any
	)
	runAll := func(d *diff.Diff, sources *diff.OperationsSourcesMap, cfg *checker.Config) {
		var next atomic.Int64
		var wg sync.WaitGroup
		var mu sync.Mutex
		for range min(runtime.GOMAXPROCS(0), len(checks)) {
			wg.Go(func() {
				defer func() {
					if v := recover(); v != nil {
						mu.Lock()
						if panicV == nil {
							panicV = v
						}
						mu.Unlock()
					}
				}()
				for i := int(next.Add(1)) - 1; i < len(checks); i = int(next.Add(1)) - 1 {
					if checks[i] != nil {
						results[i] = checks[i](d, sources, cfg)
					}
				}
			})
		}
		wg.Wait()
	}
	out := make(checker.BackwardCompatibilityChecks, len(checks))
	for i, c := range checks {
		if c == nil {
			continue // skipped by the checker, as before
		}
		out[i] = func(d *diff.Diff, sources *diff.OperationsSourcesMap, cfg *checker.Config) checker.Changes {
			once.Do(func() { runAll(d, sources, cfg) })
			if panicV != nil {
				panic(panicV) // a check's panic, on the caller's goroutine as before
			}
			return results[i]
		}
	}
	return out
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
// same level at the same place in the contract (or, where no place is
// known, the same position; where no position either, the same text). A
// property removed from a component schema used by ten operations is one
// finding listing the ten operations; the values added to one enum are
// one finding listing the values.
func group(changes checker.Changes, revFile string, read SourceReader) []report.Finding {
	l := checker.NewDefaultLocalizer()
	type key struct {
		id, place, text, file string
		level                 checker.Level
		line, col             int
	}
	type acc struct {
		finding report.Finding
		texts   []string
		values  []string
		schema  string
	}
	ptrs := &pointers{read: read, want: map[pos]bool{}}
	at := make([]pos, len(changes))
	for i, c := range changes {
		at[i] = where(c, revFile)
		if at[i].line > 0 {
			ptrs.want[at[i]] = true
		}
	}
	ptrs.index()
	groups := map[key]*acc{}
	var order []key
	for i, c := range changes {
		w := at[i]
		text := c.GetUncolorizedText(l)
		k := key{id: c.GetId(), level: c.GetLevel()}
		switch ptr, ok := ptrs.got[w]; {
		case ok:
			k.place = place(ptr)
		case w.line > 0:
			k.file, k.line, k.col = w.file, w.line, w.col
		default:
			k.file, k.text = w.file, text
		}
		a, ok := groups[k]
		if !ok {
			a = &acc{finding: report.Finding{
				Rule: c.GetId(), Severity: severity(c.GetLevel()), Format: report.FormatOpenAPI,
				File: w.file, Line: w.line, Column: w.col, Side: side(c), Path: k.place,
			}}
			groups[k] = a
			order = append(order, k)
		}
		if w.line > 0 && (a.finding.Line == 0 || (w.file == a.finding.File && w.line < a.finding.Line)) {
			a.finding.File, a.finding.Line, a.finding.Column = w.file, w.line, w.col
		}
		if !slices.Contains(a.texts, text) {
			a.texts = append(a.texts, text)
		}
		if args := c.GetArgs(); strings.Contains(c.GetId(), "enum-value") && len(args) > 0 {
			if v := fmt.Sprint(args[0]); !slices.Contains(a.values, v) {
				a.values = append(a.values, v)
			}
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
		slices.SortFunc(a.texts, func(x, y string) int { return cmp.Or(cmp.Compare(len(x), len(y)), strings.Compare(x, y)) })
		text := shortenPaths(a.texts[0], k.place != "")
		var head, tail string
		if k.place != "" {
			head = k.place + ": "
		}
		if len(a.values) > 1 {
			slices.Sort(a.values)
			tail += fmt.Sprintf("; %d values: %s", len(a.values), strings.Join(a.values, ", "))
		}
		if len(a.texts) > 1 {
			f.Variants = a.texts
			tail += fmt.Sprintf(" (+%d variants", len(a.texts)-1)
			if a.schema != "" && k.place == "" {
				tail += " through schema " + a.schema
			}
			tail += ")"
		}
		tail += affected(f.Operations)
		// Keep the line readable: the place, values and operations stay,
		// oasdiff's text gives way (it is whole in variants).
		f.Message = head + text + tail
		if over := len(f.String()) - maxLine; over > 0 && len(text) > over+1 {
			f.Message = head + strings.TrimRight(text[:len(text)-over-1], " ") + "…" + tail
			f.Variants = a.texts
		}
		findings = append(findings, f)
	}
	report.Sort(findings)
	return findings
}

// maxLine is the longest line a grouped finding takes in text output,
// where the message allows.
const maxLine = 300

// maxPathShown is the longest property path a message shows whole.
const maxPathShown = 80

// shortenPaths shortens the `quoted` names of an oasdiff message: a
// component reference to its name, and a property path to its last step
// when the finding names its place (placed), else to its last three steps
// when it is long.
func shortenPaths(msg string, placed bool) string {
	parts := strings.Split(msg, "`")
	for i := 1; i < len(parts); i += 2 {
		q := strings.ReplaceAll(parts[i], "#/components/schemas/", "")
		steps := strings.Split(q, "/")
		switch {
		case placed && len(steps) > 1:
			q = steps[len(steps)-1]
		case len(q) > maxPathShown && len(steps) > 3:
			q = "…/" + strings.Join(steps[len(steps)-3:], "/")
		}
		parts[i] = q
	}
	return strings.Join(parts, "`")
}

// affected renders the operations a finding is about for its message:
// the one, or how many with the first as an example; JSON output lists
// them all.
func affected(ops []string) string {
	switch len(ops) {
	case 0:
		return ""
	case 1:
		return " in " + ops[0]
	}
	return fmt.Sprintf(" in %d operations, e.g. %s", len(ops), ops[0])
}

func operation(c checker.Change) string {
	if c.GetOperation() == "" {
		return ""
	}
	return c.GetOperation() + " " + c.GetPath()
}

// where locates a change: in the revision when it has a position there, in
// the baseline otherwise (a removal), else the revision file.
func where(c checker.Change, revFile string) pos {
	if s := c.GetRevisionSource(); s != nil && s.Line > 0 {
		return pos{file: cmp.Or(s.File, revFile), line: s.Line, col: s.Column}
	}
	if s := c.GetBaseSource(); s != nil && s.Line > 0 {
		return pos{base: true, file: cmp.Or(s.File, revFile), line: s.Line, col: s.Column}
	}
	return pos{file: revFile}
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
