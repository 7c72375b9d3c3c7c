package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"testing/slogtest"

	"go.opentelemetry.io/otel/trace"

	"github.com/keiyaku/keiyaku/runtime/telemetry"
)

var (
	testTraceID = trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	testSpanID  = trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
)

// spanContext returns ctx carrying a span context with the test ids.
func spanContext(ctx context.Context, remote bool, flags trace.TraceFlags) context.Context {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: testTraceID, SpanID: testSpanID, TraceFlags: flags, Remote: remote,
	})
	return trace.ContextWithSpanContext(ctx, sc)
}

// decodeLines parses one JSON object per line, dropping time.
func decodeLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for line := range strings.Lines(out) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		delete(m, slog.TimeKey)
		lines = append(lines, m)
	}
	return lines
}

// TestLogHandler pins where trace_id and span_id appear: at the top level of
// every record whose context carries a valid span context (local or remote,
// sampled or not; from a real tracer or not), nowhere otherwise, and with
// the record's own attributes left where WithAttrs and WithGroup put them.
func TestLogHandler(t *testing.T) {
	t.Parallel()
	tel, _ := newProviders(t, "")
	_, realSpan := tel.TracerProvider.Tracer("test").Start(context.Background(), "op")
	realSpan.End()
	real := trace.ContextWithSpan(context.Background(), realSpan)
	realIDs := map[string]any{
		"trace_id": realSpan.SpanContext().TraceID().String(),
		"span_id":  realSpan.SpanContext().SpanID().String(),
	}
	testIDs := map[string]any{"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"}
	ids := func(m map[string]any, extra map[string]any) map[string]any {
		out := map[string]any{"level": "INFO", "msg": "m"}
		for k, v := range m {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	invalid := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: testTraceID}))

	for _, tc := range []struct {
		name string
		ctx  context.Context
		log  func(l *slog.Logger, ctx context.Context)
		want map[string]any
	}{
		{"no span", context.Background(),
			func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "m", "a", 1) },
			ids(nil, map[string]any{"a": 1.0})},
		{"logged without a context", nil,
			func(l *slog.Logger, _ context.Context) { l.Info("m") },
			ids(nil, nil)},
		{"invalid span context", invalid,
			func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "m") },
			ids(nil, nil)},
		{"span from the tracer", real,
			func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "m", "a", 1) },
			ids(realIDs, map[string]any{"a": 1.0})},
		{"remote unsampled span context", spanContext(context.Background(), true, 0),
			func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "m") },
			ids(testIDs, nil)},
		{"span with more than five attributes", spanContext(context.Background(), false, 1),
			func(l *slog.Logger, ctx context.Context) {
				l.InfoContext(ctx, "m", "a", 1, "b", 2, "c", 3, "d", 4, "e", 5, "f", 6)
			},
			ids(testIDs, map[string]any{"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0, "e": 5.0, "f": 6.0})},
		{"attrs then group, no span", context.Background(),
			func(l *slog.Logger, ctx context.Context) {
				l.With("a", 1).WithGroup("g").With("b", 2).InfoContext(ctx, "m", "c", 3)
			},
			ids(nil, map[string]any{"a": 1.0, "g": map[string]any{"b": 2.0, "c": 3.0}})},
		{"attrs then group, span", spanContext(context.Background(), false, 1),
			func(l *slog.Logger, ctx context.Context) {
				l.With("a", 1).WithGroup("g").With("b", 2).InfoContext(ctx, "m", "c", 3)
			},
			ids(testIDs, map[string]any{"a": 1.0, "g": map[string]any{"b": 2.0, "c": 3.0}})},
		{"nested groups, span", spanContext(context.Background(), false, 1),
			func(l *slog.Logger, ctx context.Context) {
				l.WithGroup("g").With("b", 2).WithGroup("h").With("c", 3).InfoContext(ctx, "m", "d", 4)
			},
			ids(testIDs, map[string]any{"g": map[string]any{"b": 2.0, "h": map[string]any{"c": 3.0, "d": 4.0}}})},
		{"empty group omitted, span", spanContext(context.Background(), false, 1),
			func(l *slog.Logger, ctx context.Context) { l.WithGroup("g").InfoContext(ctx, "m") },
			ids(testIDs, nil)},
		{"unnamed group is no group, span", spanContext(context.Background(), false, 1),
			func(l *slog.Logger, ctx context.Context) { l.WithGroup("").With("a", 1).InfoContext(ctx, "m") },
			ids(testIDs, map[string]any{"a": 1.0})},
		{"group attribute in a record, span", spanContext(context.Background(), false, 1),
			func(l *slog.Logger, ctx context.Context) {
				l.WithGroup("g").InfoContext(ctx, "m", slog.Group("req", "id", 7))
			},
			ids(testIDs, map[string]any{"g": map[string]any{"req": map[string]any{"id": 7.0}}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			tc.log(telemetry.NewLogger(&buf, slog.LevelInfo), tc.ctx)
			lines := decodeLines(t, buf.String())
			if len(lines) != 1 {
				t.Fatalf("%d lines, want 1: %s", len(lines), buf.String())
			}
			if !reflect.DeepEqual(lines[0], tc.want) {
				t.Errorf("got  %v\nwant %v", lines[0], tc.want)
			}
		})
	}
}

// TestLogHandlerReusedRecordAndLevel pins that adding the ids leaves a
// derived logger reusable (WithAttrs values are not shared between
// siblings) and that the inner handler's level still filters records.
func TestLogHandlerReusedRecordAndLevel(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	base := telemetry.NewLogger(&buf, slog.LevelWarn).WithGroup("g").With("a", 1)
	left, right := base.With("l", 1), base.With("r", 2)
	ctx := spanContext(t.Context(), false, 1)
	left.InfoContext(ctx, "dropped")
	left.WarnContext(ctx, "left")
	right.WarnContext(ctx, "right")
	lines := decodeLines(t, buf.String())
	want := []map[string]any{
		{"level": "WARN", "msg": "left", "trace_id": testTraceID.String(), "span_id": testSpanID.String(),
			"g": map[string]any{"a": 1.0, "l": 1.0}},
		{"level": "WARN", "msg": "right", "trace_id": testTraceID.String(), "span_id": testSpanID.String(),
			"g": map[string]any{"a": 1.0, "r": 2.0}},
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("got  %v\nwant %v", lines, want)
	}
}

// TestLogHandlerSlogtest runs the standard library's conformance suite for
// slog handlers on NewLogHandler, once with records that carry no span and
// once with records that do (so the path that rebuilds grouped records is
// held to the same rules), the ids then also checked on every record.
func TestLogHandlerSlogtest(t *testing.T) {
	t.Parallel()
	for _, withSpan := range []bool{false, true} {
		t.Run(map[bool]string{false: "no span", true: "span"}[withSpan], func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			newHandler := func(*testing.T) slog.Handler {
				buf.Reset()
				h := telemetry.NewLogHandler(slog.NewJSONHandler(&buf, nil))
				if withSpan {
					return contextHandler{h, spanContext(context.Background(), false, 1)}
				}
				return h
			}
			result := func(t *testing.T) map[string]any {
				var m map[string]any
				if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
					t.Fatalf("%q: %v", buf.String(), err)
				}
				_, hasTrace := m["trace_id"]
				_, hasSpan := m["span_id"]
				if withSpan && (m["trace_id"] != testTraceID.String() || m["span_id"] != testSpanID.String()) {
					t.Errorf("ids %v/%v, want %s/%s at the top level", m["trace_id"], m["span_id"], testTraceID, testSpanID)
				}
				if !withSpan && (hasTrace || hasSpan) {
					t.Errorf("ids present without a span: %v", m)
				}
				delete(m, "trace_id")
				delete(m, "span_id")
				return m
			}
			slogtest.Run(t, newHandler, result)
		})
	}
}

// contextHandler hands every record to h with ctx, as if logged with a
// Context method under a span.
type contextHandler struct {
	h   slog.Handler
	ctx context.Context
}

func (c contextHandler) Enabled(_ context.Context, l slog.Level) bool  { return c.h.Enabled(c.ctx, l) }
func (c contextHandler) Handle(_ context.Context, r slog.Record) error { return c.h.Handle(c.ctx, r) }
func (c contextHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return contextHandler{c.h.WithAttrs(as), c.ctx}
}
func (c contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{c.h.WithGroup(name), c.ctx}
}

// BenchmarkLogHandler measures what NewLogHandler adds to a JSON handler:
// nothing without a span, two attributes with one, and a rebuilt record
// under an open group.
func BenchmarkLogHandler(b *testing.B) {
	spanCtx := spanContext(context.Background(), false, 1)
	for _, bc := range []struct {
		name   string
		logger *slog.Logger
		ctx    context.Context
	}{
		{"json/no_span", slog.New(slog.NewJSONHandler(io.Discard, nil)), context.Background()},
		{"telemetry/no_span", telemetry.NewLogger(io.Discard, slog.LevelInfo), context.Background()},
		{"telemetry/span", telemetry.NewLogger(io.Discard, slog.LevelInfo), spanCtx},
		{"telemetry/span_in_group", telemetry.NewLogger(io.Discard, slog.LevelInfo).WithGroup("req").With("id", 7), spanCtx},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.logger.InfoContext(bc.ctx, "reservation created", "reservation_id", "r-42", "room", 301, "nights", 2)
			}
		})
	}
}
