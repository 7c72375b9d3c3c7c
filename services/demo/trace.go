package main

import (
	"cmp"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// Attribute keys of the OpenTelemetry semantic conventions the timeline
// reads.
const (
	keyServiceName = attribute.Key("service.name")
	keyURLFull     = attribute.Key("url.full")
	keyMethod      = attribute.Key("http.request.method")
	keyStatusCode  = attribute.Key("http.response.status_code")
)

// spanRow is one line of a trace timeline.
type spanRow struct {
	depth   int
	last    []bool // for each ancestor level, whether it was the last child
	span    sdktrace.ReadOnlySpan
	service string
}

// traceSpans returns the ended spans of trace id recorded by rec.
func traceSpans(rec *tracetest.SpanRecorder, id trace.TraceID) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.SpanContext().TraceID() == id {
			out = append(out, s)
		}
	}
	return out
}

// serviceOf returns the service.name of the span's resource.
func serviceOf(s sdktrace.ReadOnlySpan) string {
	if v, ok := s.Resource().Set().Value(keyServiceName); ok {
		return v.AsString()
	}
	return "?"
}

// timeline orders the spans of one trace as a tree: each span under its
// parent, siblings by start time. A span whose parent was not recorded is
// a root.
func timeline(spans []sdktrace.ReadOnlySpan) []spanRow {
	byID := map[trace.SpanID]bool{}
	for _, s := range spans {
		byID[s.SpanContext().SpanID()] = true
	}
	children := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	var roots []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if p := s.Parent().SpanID(); s.Parent().IsValid() && byID[p] {
			children[p] = append(children[p], s)
		} else {
			roots = append(roots, s)
		}
	}
	byStart := func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) }
	slices.SortFunc(roots, byStart)
	var rows []spanRow
	var walk func(s sdktrace.ReadOnlySpan, depth int, last []bool)
	walk = func(s sdktrace.ReadOnlySpan, depth int, last []bool) {
		rows = append(rows, spanRow{depth: depth, last: last, span: s, service: serviceOf(s)})
		kids := children[s.SpanContext().SpanID()]
		slices.SortFunc(kids, byStart)
		for i, k := range kids {
			walk(k, depth+1, append(slices.Clone(last), i == len(kids)-1))
		}
	}
	for i, r := range roots {
		walk(r, 0, []bool{i == len(roots)-1})
	}
	return rows
}

// tree draws the branches in front of a row's name.
func (r spanRow) tree() string {
	if r.depth == 0 {
		return ""
	}
	var b strings.Builder
	for _, last := range r.last[1 : len(r.last)-1] {
		if last {
			b.WriteString("   ")
		} else {
			b.WriteString("│  ")
		}
	}
	if r.last[len(r.last)-1] {
		b.WriteString("└─ ")
	} else {
		b.WriteString("├─ ")
	}
	return b.String()
}

// label names a span for a reader: a client HTTP span by the service it
// calls and the path, others by their name; a failed span says so.
func label(s sdktrace.ReadOnlySpan, services map[string]string) string {
	attrs := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		attrs[kv.Key] = kv.Value
	}
	name := s.Name()
	if s.SpanKind() == trace.SpanKindClient {
		if u, ok := attrs[keyURLFull]; ok {
			if pu, err := url.Parse(u.AsString()); err == nil {
				target := pu.Host
				if svc, ok := services[pu.Host]; ok {
					target = svc
				}
				name = fmt.Sprintf("%s %s → %s", attrs[keyMethod].AsString(), shortIDs(pu.Path), target)
			}
		}
	}
	if st, ok := attrs[keyStatusCode]; ok {
		name += fmt.Sprintf(" %d", st.AsInt64())
	}
	if s.Status().Code == codes.Error {
		name += " ✗"
		if d := s.Status().Description; d != "" {
			name += " (" + shorten(d, 50) + ")"
		}
	}
	return name
}

// uuidRE matches a UUID in canonical form.
var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// shortIDs shortens the UUIDs in a path to their first block.
func shortIDs(path string) string {
	return uuidRE.ReplaceAllStringFunc(path, short)
}

// ms formats d in milliseconds with one decimal.
func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// shorten cuts s to at most n runes.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// earliest returns the earliest start time of spans.
func earliest(spans []sdktrace.ReadOnlySpan) time.Time {
	return slices.MinFunc(spans, func(a, b sdktrace.ReadOnlySpan) int {
		return cmp.Compare(a.StartTime().UnixNano(), b.StartTime().UnixNano())
	}).StartTime()
}
