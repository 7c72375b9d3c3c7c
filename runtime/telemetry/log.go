package telemetry

import (
	"context"
	"io"
	"log/slog"
	"slices"

	"go.opentelemetry.io/otel/trace"
)

// Keys of the attributes that [NewLogHandler] adds.
const (
	TraceIDKey = "trace_id"
	SpanIDKey  = "span_id"
)

// NewLogHandler returns a handler that passes every record to inner, adding
// the attributes trace_id and span_id (lowercase hex, as in traceparent)
// when the context given to Handle carries a valid span context, whether
// local or remote, sampled or not. Log with the Context methods
// ([slog.Logger.InfoContext] and so on) for them to appear.
//
// trace_id and span_id stay at the top level of the record even under
// [slog.Handler.WithGroup], so a log search for a trace id finds every line.
// Records without a span context go to inner untouched, so they cost what
// inner costs. The handler is safe for concurrent use if inner is.
func NewLogHandler(inner slog.Handler) slog.Handler {
	return &logHandler{root: inner, grouped: inner}
}

// NewLogger returns a logger writing one JSON object per line to w, records
// below level dropped, with trace_id and span_id added by [NewLogHandler].
// Writes to w are serialised.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(NewLogHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})))
}

// logHandler keeps two views of the same handler chain: grouped is inner
// with every WithAttrs and WithGroup applied, for records without a span;
// root is inner with only the WithAttrs made before the first group, and
// groups holds what came after, so that a record with a span can be rebuilt
// with trace_id and span_id at the top level and its own attributes nested
// in the groups.
type logHandler struct {
	root    slog.Handler
	grouped slog.Handler
	groups  []logGroup // outermost first; nil when no group is open
}

// logGroup is an open group and the attributes added inside it.
type logGroup struct {
	name  string
	attrs []slog.Attr
}

func (h *logHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.grouped.Enabled(ctx, level)
}

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return h.grouped.Handle(ctx, r)
	}
	ids := [2]slog.Attr{
		slog.String(TraceIDKey, sc.TraceID().String()),
		slog.String(SpanIDKey, sc.SpanID().String()),
	}
	if len(h.groups) == 0 {
		r = r.Clone() // AddAttrs on a copy that shares storage with the caller's record is unsafe
		r.AddAttrs(ids[:]...)
		return h.root.Handle(ctx, r)
	}
	// Nest the record's attributes in the open groups, innermost last.
	inner := make([]slog.Attr, 0, len(h.groups[len(h.groups)-1].attrs)+r.NumAttrs())
	inner = append(inner, h.groups[len(h.groups)-1].attrs...)
	r.Attrs(func(a slog.Attr) bool {
		inner = append(inner, a)
		return true
	})
	for i := len(h.groups) - 1; i >= 0; i-- {
		g := slog.Attr{Key: h.groups[i].name, Value: slog.GroupValue(inner...)}
		if i == 0 {
			inner = []slog.Attr{g}
			break
		}
		inner = append(slices.Clip(h.groups[i-1].attrs), g)
	}
	nr := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	nr.AddAttrs(ids[0], ids[1])
	nr.AddAttrs(inner...)
	return h.root.Handle(ctx, nr)
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	n := &logHandler{grouped: h.grouped.WithAttrs(attrs)}
	if len(h.groups) == 0 {
		n.root = h.root.WithAttrs(attrs)
		return n
	}
	n.root = h.root
	n.groups = slices.Clone(h.groups)
	last := &n.groups[len(n.groups)-1]
	last.attrs = append(slices.Clip(last.attrs), attrs...)
	return n
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h // a group without a name is no group (slog.Handler's rules)
	}
	return &logHandler{
		root:    h.root,
		grouped: h.grouped.WithGroup(name),
		groups:  append(slices.Clip(h.groups), logGroup{name: name}),
	}
}
