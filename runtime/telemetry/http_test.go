package telemetry_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/keiyaku/keiyaku/runtime/telemetry"
)

// newProviders returns providers with an SDK tracer provider that sends
// its spans to an in-memory exporter through a synchronous processor (they
// are there as soon as they end), the SDK's default sampler unless opts set
// one, and the propagator that propagators names (OTEL_PROPAGATORS).
func newProviders(t *testing.T, propagators string, opts ...sdktrace.TracerProviderOption) (telemetry.Providers, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(append([]sdktrace.TracerProviderOption{sdktrace.WithSyncer(exp)}, opts...)...)
	t.Cleanup(func() {
		if err := tp.Shutdown(context.WithoutCancel(t.Context())); err != nil {
			t.Errorf("tracer provider shutdown: %v", err)
		}
	})
	p, err := telemetry.Config{Propagators: propagators}.Propagator()
	if err != nil {
		t.Fatal(err)
	}
	return telemetry.Providers{TracerProvider: tp, MeterProvider: metricnoop.NewMeterProvider(), Propagator: p}, exp
}

// get sends a GET to url with client and returns the status and body.
func get(t *testing.T, ctx context.Context, client *http.Client, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

// findSpan returns the exported span with the given kind, failing the test
// unless there is exactly one.
func findSpan(t *testing.T, spans tracetest.SpanStubs, kind trace.SpanKind) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range spans {
		if s.SpanKind == kind {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s spans exported, want 1: %+v", len(found), kind, spans)
	}
	return found[0]
}

// TestClientServerOneTrace pins the main promise over a real loopback call:
// the client span of Transport and the server span of Handler share the
// caller's trace id, the server span's parent is the client span (remote),
// the server span is named after the ServeMux route, and a log line written
// in the handler carries the server span's ids.
func TestClientServerOneTrace(t *testing.T) {
	t.Parallel()
	tel, exp := newProviders(t, "")
	var logs syncBuffer
	logger := telemetry.NewLogger(&logs, slog.LevelInfo)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /members/{id}", func(w http.ResponseWriter, r *http.Request) {
		logger.InfoContext(r.Context(), "get member", "id", r.PathValue("id"))
		fmt.Fprint(w, `{"active":true}`)
	})
	srv := httptest.NewServer(tel.Handler(mux, "member"))
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: tel.Transport(srv.Client().Transport)}

	ctx, root := tel.TracerProvider.Tracer("test").Start(t.Context(), "reserve")
	code, body := get(t, ctx, client, srv.URL+"/members/42")
	root.End()
	if code != http.StatusOK || body != `{"active":true}` {
		t.Fatalf("GET = %d %q", code, body)
	}

	spans := exp.GetSpans()
	clientSpan := findSpan(t, spans, trace.SpanKindClient)
	serverSpan := findSpan(t, spans, trace.SpanKindServer)
	traceID := root.SpanContext().TraceID()
	if clientSpan.SpanContext.TraceID() != traceID || serverSpan.SpanContext.TraceID() != traceID {
		t.Errorf("trace ids: root %s, client %s, server %s; want one", traceID,
			clientSpan.SpanContext.TraceID(), serverSpan.SpanContext.TraceID())
	}
	if clientSpan.Parent.SpanID() != root.SpanContext().SpanID() {
		t.Errorf("client span parent %s, want the caller's span %s", clientSpan.Parent.SpanID(), root.SpanContext().SpanID())
	}
	if serverSpan.Parent.SpanID() != clientSpan.SpanContext.SpanID() || !serverSpan.Parent.IsRemote() {
		t.Errorf("server span parent %s (remote %v), want the client span %s, remote",
			serverSpan.Parent.SpanID(), serverSpan.Parent.IsRemote(), clientSpan.SpanContext.SpanID())
	}
	if serverSpan.Name != "GET /members/{id}" {
		t.Errorf("server span name %q, want %q", serverSpan.Name, "GET /members/{id}")
	}

	var line map[string]any
	if err := json.Unmarshal([]byte(logs.String()), &line); err != nil {
		t.Fatalf("log line %q: %v", logs.String(), err)
	}
	if line["trace_id"] != traceID.String() || line["span_id"] != serverSpan.SpanContext.SpanID().String() {
		t.Errorf("log line ids %v/%v, want %s/%s", line["trace_id"], line["span_id"],
			traceID, serverSpan.SpanContext.SpanID())
	}
}

// TestHandlerSpanName pins the name of the server span: the ServeMux route
// when one matched, else the operation given to Handler, else the method,
// with a method outside the standard set named HTTP.
func TestHandlerSpanName(t *testing.T) {
	t.Parallel()
	tel, exp := newProviders(t, "")
	mux := http.NewServeMux()
	mux.HandleFunc("/rooms/{id}/hold", func(http.ResponseWriter, *http.Request) {})
	routed := httptest.NewServer(tel.Handler(mux, "room"))
	t.Cleanup(routed.Close)
	plain := httptest.NewServer(tel.Handler(http.NotFoundHandler(), "room"))
	t.Cleanup(plain.Close)
	anonymous := httptest.NewServer(tel.Handler(http.NotFoundHandler(), ""))
	t.Cleanup(anonymous.Close)

	for _, tc := range []struct {
		method, url, want string
	}{
		{http.MethodPost, routed.URL + "/rooms/7/hold", "POST /rooms/{id}/hold"},
		{"PURGE", routed.URL + "/rooms/7/hold", "HTTP /rooms/{id}/hold"},
		{http.MethodGet, routed.URL + "/nowhere", "room"},
		{http.MethodGet, plain.URL + "/x", "room"},
		{http.MethodDelete, anonymous.URL + "/x", "DELETE"},
	} {
		exp.Reset()
		req, err := http.NewRequestWithContext(t.Context(), tc.method, tc.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if got := findSpan(t, exp.GetSpans(), trace.SpanKindServer).Name; got != tc.want {
			t.Errorf("%s %s: span name %q, want %q", tc.method, tc.url, got, tc.want)
		}
	}
}

// The traceparent and tracestate of the W3C examples and test suite.
const (
	tid = "4bf92f3577b34da6a3ce929d0e0e4736"
	sid = "00f067aa0ba902b7"
	tp  = "00-" + tid + "-" + sid + "-01"
)

// rawGet writes a GET with the header lines exactly as given (name, value)
// to addr, bypassing the Go client, which would trim and merge them, and
// returns the response body.
func rawGet(t *testing.T, addr string, headers [][2]string) string {
	t.Helper()
	conn, err := (&net.Dialer{}).DialContext(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A bound on a broken server, not a speed assertion.
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("GET /trace HTTP/1.1\r\nHost: test\r\nConnection: close\r\n")
	for _, h := range headers {
		b.WriteString(h[0] + ":" + h[1] + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response (did the handler panic?): %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("response %d %q, %v", resp.StatusCode, body, err)
	}
	return string(body)
}

// members returns n tracestate members k01=v01,... starting at from.
func members(from, n int) string {
	m := make([]string, n)
	for i := range m {
		m[i] = fmt.Sprintf("k%02d=v%02d", from+i, from+i)
	}
	return strings.Join(m, ",")
}

// TestTraceContextHeaders pins, case by case, when a server built with
// Handler continues the caller's trace (a remote parent with the sent ids)
// and when it starts a new trace (no parent at all), following the W3C
// Trace Context processing model and its test suite; where OpenTelemetry's
// propagator alone would differ (several traceparent or tracestate
// headers), the case says so. Headers go out raw, so whitespace and
// duplicates reach the server as written. No case may panic the server.
func TestTraceContextHeaders(t *testing.T) {
	t.Parallel()
	// always_on, so that a continued unsampled trace is exported too.
	tel, exp := newProviders(t, "", sdktrace.WithSampler(sdktrace.AlwaysSample()))
	srv := httptest.NewServer(tel.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, trace.SpanContextFromContext(r.Context()).SpanID())
	}), "trace"))
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()

	longValue := strings.Repeat("x", 64<<10)
	type outcome int
	const (
		newTrace outcome = iota
		continues
	)
	for _, tc := range []struct {
		name    string
		headers [][2]string
		want    outcome
		// wantState is the tracestate of the server span when it continues.
		wantState string
	}{
		// Valid: the trace continues.
		{"valid sampled", [][2]string{{"traceparent", tp}}, continues, ""},
		{"valid unsampled", [][2]string{{"traceparent", "00-" + tid + "-" + sid + "-00"}}, continues, ""},
		{"valid with random flag", [][2]string{{"traceparent", "00-" + tid + "-" + sid + "-03"}}, continues, ""},
		{"header name upper case", [][2]string{{"TRACEPARENT", tp}}, continues, ""},
		{"header name mixed case", [][2]string{{"TrAcEpArEnT", tp}}, continues, ""},
		{"leading space", [][2]string{{"traceparent", "  " + tp}}, continues, ""},
		{"leading tab", [][2]string{{"traceparent", "\t" + tp}}, continues, ""},
		{"trailing space", [][2]string{{"traceparent", tp + " "}}, continues, ""},
		{"trailing tab", [][2]string{{"traceparent", tp + "\t"}}, continues, ""},
		{"whitespace both sides", [][2]string{{"traceparent", "\t " + tp + " \t"}}, continues, ""},
		{"future version", [][2]string{{"traceparent", "cc-" + tid + "-" + sid + "-01"}}, continues, ""},
		{"future version with extra fields", [][2]string{{"traceparent", "cc-" + tid + "-" + sid + "-01-what-the-future-will-be-like"}}, continues, ""},

		// Invalid traceparent: a new trace.
		{"missing header", nil, newTrace, ""},
		{"empty value", [][2]string{{"traceparent", ""}}, newTrace, ""},
		{"wrong header name", [][2]string{{"trace-parent", tp}}, newTrace, ""},
		{"version ff", [][2]string{{"traceparent", "ff-" + tid + "-" + sid + "-01"}}, newTrace, ""},
		{"version zz", [][2]string{{"traceparent", "zz-" + tid + "-" + sid + "-01"}}, newTrace, ""},
		{"version with dot", [][2]string{{"traceparent", ".0-" + tid + "-" + sid + "-01"}}, newTrace, ""},
		{"version upper case", [][2]string{{"traceparent", "0A-" + tid + "-" + sid + "-01"}}, newTrace, ""},
		{"version too long", [][2]string{{"traceparent", "000-" + tid + "-" + sid + "-01"}}, newTrace, ""},
		{"version too short", [][2]string{{"traceparent", "0-" + tid + "-" + sid + "-01"}}, newTrace, ""},
		{"version 00 with extra field", [][2]string{{"traceparent", tp + "-what-the-future-will-be-like"}}, newTrace, ""},
		{"version 00 with trailing dot", [][2]string{{"traceparent", tp + "."}}, newTrace, ""},
		{"future version bad delimiter", [][2]string{{"traceparent", "cc-" + tid + "-" + sid + "-01.what-the-future"}}, newTrace, ""},
		{"future version without flags", [][2]string{{"traceparent", "cc-" + tid + "-" + sid}}, newTrace, ""},
		{"trace id too long", [][2]string{{"traceparent", "00-" + tid + "a-" + sid + "-01"}}, newTrace, ""},
		{"trace id too short", [][2]string{{"traceparent", "00-" + tid[1:] + "-" + sid + "-01"}}, newTrace, ""},
		{"span id too long", [][2]string{{"traceparent", "00-" + tid + "-" + sid + "a-01"}}, newTrace, ""},
		{"span id too short", [][2]string{{"traceparent", "00-" + tid + "-" + sid[1:] + "-01"}}, newTrace, ""},
		{"flags too long", [][2]string{{"traceparent", "00-" + tid + "-" + sid + "-001"}}, newTrace, ""},
		{"flags too short", [][2]string{{"traceparent", "00-" + tid + "-" + sid + "-1"}}, newTrace, ""},
		{"trace id not hex", [][2]string{{"traceparent", "00-" + "g" + tid[1:] + "-" + sid + "-01"}}, newTrace, ""},
		{"span id not hex", [][2]string{{"traceparent", "00-" + tid + "-" + sid[:15] + ".-01"}}, newTrace, ""},
		{"flags not hex", [][2]string{{"traceparent", "00-" + tid + "-" + sid + "-.0"}}, newTrace, ""},
		{"trace id upper case", [][2]string{{"traceparent", "00-" + strings.ToUpper(tid) + "-" + sid + "-01"}}, newTrace, ""},
		{"span id upper case", [][2]string{{"traceparent", "00-" + tid + "-" + "00F067AA0BA902B7" + "-01"}}, newTrace, ""},
		{"all-zero trace id", [][2]string{{"traceparent", "00-" + strings.Repeat("0", 32) + "-" + sid + "-01"}}, newTrace, ""},
		{"all-zero span id", [][2]string{{"traceparent", "00-" + tid + "-" + strings.Repeat("0", 16) + "-01"}}, newTrace, ""},
		{"whitespace inside", [][2]string{{"traceparent", "00 -" + tid + "-" + sid + "-01"}}, newTrace, ""},
		// OpenTelemetry alone would continue the first of these two.
		{"duplicated traceparent", [][2]string{
			{"traceparent", "00-" + tid + "-" + sid + "-01"},
			{"traceparent", "00-12345678901234567890123456789012-1234567890123456-01"},
		}, newTrace, ""},
		{"duplicated identical traceparent", [][2]string{{"traceparent", tp}, {"traceparent", tp}}, newTrace, ""},
		{"two values in one header", [][2]string{{"traceparent", tp + "," + tp}}, newTrace, ""},
		{"tracestate without traceparent", [][2]string{{"tracestate", "congo=t61rcWkgMzE"}}, newTrace, ""},

		// tracestate: kept, combined or dropped, never breaking the trace.
		{"tracestate kept", [][2]string{{"traceparent", tp}, {"tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"}},
			continues, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"},
		{"tracestate header name mixed case", [][2]string{{"traceparent", tp}, {"TrAcEsTaTe", "foo=1"}}, continues, "foo=1"},
		// OpenTelemetry alone would keep only "foo=1,bar=2".
		{"tracestate over several headers", [][2]string{{"traceparent", tp},
			{"tracestate", "foo=1,bar=2"}, {"tracestate", "rojo=1,congo=2"}, {"tracestate", "baz=3"}},
			continues, "foo=1,bar=2,rojo=1,congo=2,baz=3"},
		{"tracestate with an empty header", [][2]string{{"traceparent", tp}, {"tracestate", ""}, {"tracestate", "foo=1"}}, continues, "foo=1"},
		{"tracestate with whitespace", [][2]string{{"traceparent", tp}, {"tracestate", "foo=1 \t , \t bar=2"}}, continues, "foo=1,bar=2"},
		{"tracestate of 32 members over 4 headers", [][2]string{{"traceparent", tp},
			{"tracestate", members(1, 10)}, {"tracestate", members(11, 10)}, {"tracestate", members(21, 10)}, {"tracestate", members(31, 2)}},
			continues, members(1, 32)},
		{"tracestate of 33 members dropped", [][2]string{{"traceparent", tp}, {"tracestate", members(1, 33)}}, continues, ""},
		{"tracestate with duplicated keys dropped", [][2]string{{"traceparent", tp}, {"tracestate", "foo=1,foo=2"}}, continues, ""},
		{"tracestate with bad key dropped", [][2]string{{"traceparent", tp}, {"tracestate", "FOO=1,bar=2"}}, continues, ""},
		{"very long tracestate dropped", [][2]string{{"traceparent", tp}, {"tracestate", "big=" + longValue}}, continues, ""},
		{"very long tracestate over many headers dropped", [][2]string{{"traceparent", tp},
			{"tracestate", members(1, 30)}, {"tracestate", members(31, 30)}, {"tracestate", "big=" + longValue}}, continues, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spanID := rawGet(t, addr, tc.headers)
			var span tracetest.SpanStub
			for _, s := range exp.GetSpans() {
				if s.SpanContext.SpanID().String() == spanID {
					span = s
				}
			}
			if !span.SpanContext.IsValid() {
				t.Fatalf("no server span %s exported", spanID)
			}
			got := span.SpanContext
			switch tc.want {
			case continues:
				if got.TraceID().String() != tid || span.Parent.SpanID().String() != sid || !span.Parent.IsRemote() {
					t.Errorf("trace %s parent %s (remote %v), want the caller's trace %s and parent %s, remote",
						got.TraceID(), span.Parent.SpanID(), span.Parent.IsRemote(), tid, sid)
				}
				if s := got.TraceState().String(); s != tc.wantState {
					t.Errorf("tracestate %.80q, want %.80q", s, tc.wantState)
				}
			case newTrace:
				if span.Parent.IsValid() {
					t.Errorf("parent %s/%s, want none: a new trace", span.Parent.TraceID(), span.Parent.SpanID())
				}
				if got.TraceID().String() == tid {
					t.Errorf("trace id %s continued, want a new one", got.TraceID())
				}
				if s := got.TraceState().String(); s != "" {
					t.Errorf("new trace has tracestate %q, want none", s)
				}
			}
		})
	}
}

// TestPropagatorNoneAndBaggage pins OTEL_PROPAGATORS: with none, a valid
// traceparent is ignored and nothing is injected; with baggage alone,
// baggage crosses the call but the trace does not.
func TestPropagatorNoneAndBaggage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		propagators   string
		wantContinue  bool
		wantBaggage   bool
		wantInjection []string
	}{
		{"", true, true, []string{"traceparent", "baggage"}},
		{"tracecontext", true, false, []string{"traceparent"}},
		{"baggage", false, true, []string{"baggage"}},
		{"none", false, false, nil},
	} {
		t.Run(tc.propagators, func(t *testing.T) {
			t.Parallel()
			tel, _ := newProviders(t, tc.propagators)
			var mu sync.Mutex
			var server trace.SpanContext
			var headers http.Header
			var member string
			srv := httptest.NewServer(tel.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				server = trace.SpanContextFromContext(r.Context())
				headers = r.Header.Clone()
				member = baggage.FromContext(r.Context()).Member("tenant").Value()
			}), "p"))
			t.Cleanup(srv.Close)

			ctx, root := tel.TracerProvider.Tracer("test").Start(t.Context(), "root")
			ctx = withBaggage(t, ctx, "tenant=acme")
			client := &http.Client{Transport: tel.Transport(srv.Client().Transport)}
			get(t, ctx, client, srv.URL)
			root.End()

			mu.Lock()
			defer mu.Unlock()
			if got := server.TraceID() == root.SpanContext().TraceID(); got != tc.wantContinue {
				t.Errorf("trace continued = %v, want %v", got, tc.wantContinue)
			}
			if got := member == "acme"; got != tc.wantBaggage {
				t.Errorf("baggage tenant = %q, crossed = %v, want %v", member, got, tc.wantBaggage)
			}
			for _, h := range []string{"traceparent", "baggage"} {
				sent := headers.Get(h) != ""
				want := strings.Contains(strings.Join(tc.wantInjection, ","), h)
				if sent != want {
					t.Errorf("header %s sent = %v, want %v", h, sent, want)
				}
			}
		})
	}
}

// TestPackageLevelWrappersUseGlobals pins that the package-level Handler
// and Transport (Providers with nil fields) use OpenTelemetry's global
// providers and propagator as they are when built. It changes
// process-wide state, so it does not run in parallel (the parallel tests
// use Providers with every field set).
func TestPackageLevelWrappersUseGlobals(t *testing.T) {
	tel, exp := newProviders(t, "")
	otel.SetTracerProvider(tel.TracerProvider)
	otel.SetTextMapPropagator(tel.Propagator)
	t.Cleanup(func() {
		otel.SetTracerProvider(noop.NewTracerProvider())
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	})

	srv := httptest.NewServer(telemetry.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), "global"))
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: telemetry.Transport(srv.Client().Transport)}

	ctx, root := otel.Tracer("test").Start(t.Context(), "root")
	get(t, ctx, client, srv.URL)
	root.End()

	spans := exp.GetSpans()
	clientSpan := findSpan(t, spans, trace.SpanKindClient)
	serverSpan := findSpan(t, spans, trace.SpanKindServer)
	if clientSpan.Parent.SpanID() != root.SpanContext().SpanID() || serverSpan.Parent.SpanID() != clientSpan.SpanContext.SpanID() ||
		serverSpan.SpanContext.TraceID() != root.SpanContext().TraceID() {
		t.Errorf("client span %v (parent %v), server span %v (parent %v): want root %v → client → server",
			clientSpan.SpanContext, clientSpan.Parent, serverSpan.SpanContext, serverSpan.Parent, root.SpanContext())
	}
}

// syncBuffer collects log output written by server goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// withBaggage returns ctx carrying the W3C baggage list.
func withBaggage(t *testing.T, ctx context.Context, list string) context.Context {
	t.Helper()
	b, err := baggage.Parse(list)
	if err != nil {
		t.Fatal(err)
	}
	return baggage.ContextWithBaggage(ctx, b)
}
