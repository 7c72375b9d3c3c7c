package export_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/keiyaku/keiyaku/runtime/telemetry"
	"github.com/keiyaku/keiyaku/runtime/telemetry/export"
)

// newTelemetry runs export.Setup without touching the globals, with an
// in-memory exporter behind a synchronous processor, and shuts it down at
// the end of the test.
func newTelemetry(t *testing.T, cfg telemetry.Config) (*export.Telemetry, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tel, err := export.Setup(t.Context(), cfg,
		export.WithGlobal(false),
		export.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(exp)))
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	t.Cleanup(func() {
		if err := tel.Shutdown(context.WithoutCancel(t.Context())); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return tel, exp
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

// TestShutdownFlushesToCollector pins the OTLP/HTTP path end to end: with
// an endpoint set, spans are batched, and Shutdown delivers them to
// <endpoint>/v1/traces (or to the traces endpoint as it is) before it
// returns; a second Shutdown returns the same result without sending again.
func TestShutdownFlushesToCollector(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		cfg      func(base string) telemetry.Config
		wantPath string
	}{
		{"base endpoint", func(base string) telemetry.Config {
			return telemetry.Config{ServiceName: "flush", Endpoint: base + "/otlp/"}
		}, "/otlp/v1/traces"},
		{"traces endpoint", func(base string) telemetry.Config {
			return telemetry.Config{ServiceName: "flush", Endpoint: base + "/ignored", TracesEndpoint: base + "/custom/spans"}
		}, "/custom/spans"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var paths []string
			var traceIDs [][]byte
			collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, err := io.ReadAll(r.Body)
				var req coltracepb.ExportTraceServiceRequest
				if err == nil {
					err = proto.Unmarshal(body, &req)
				}
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				paths = append(paths, r.URL.Path)
				for _, rs := range req.GetResourceSpans() {
					for _, ss := range rs.GetScopeSpans() {
						for _, s := range ss.GetSpans() {
							traceIDs = append(traceIDs, s.GetTraceId())
						}
					}
				}
				w.Header().Set("Content-Type", "application/x-protobuf")
			}))
			t.Cleanup(collector.Close)

			tel, err := export.Setup(t.Context(), tc.cfg(collector.URL), export.WithGlobal(false))
			if err != nil {
				t.Fatal(err)
			}
			_, span := tel.TracerProvider().Tracer("test").Start(t.Context(), "op")
			span.End()
			if err := tel.Shutdown(t.Context()); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			if err := tel.Shutdown(t.Context()); err != nil {
				t.Fatalf("second Shutdown: %v", err)
			}

			mu.Lock()
			defer mu.Unlock()
			want := span.SpanContext().TraceID()
			if len(paths) != 1 || paths[0] != tc.wantPath {
				t.Errorf("collector got posts to %v, want one to %s", paths, tc.wantPath)
			}
			if len(traceIDs) != 1 || trace.TraceID(traceIDs[0]) != want {
				t.Errorf("collector got trace ids %x, want [%x]", traceIDs, want[:])
			}
		})
	}
}

// TestShutdownReportsFailure pins that a flush that cannot finish, here
// because the collector does not answer, makes Shutdown return the
// context's error instead of hanging or losing the spans silently.
func TestShutdownReportsFailure(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	t.Cleanup(collector.Close) // runs after close(release): cleanups run last-in first-out
	t.Cleanup(func() { close(release) })

	tel, err := export.Setup(t.Context(), telemetry.Config{Endpoint: collector.URL}, export.WithGlobal(false))
	if err != nil {
		t.Fatal(err)
	}
	_, span := tel.TracerProvider().Tracer("test").Start(t.Context(), "op")
	span.End()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := tel.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown(canceled) = %v, want context.Canceled", err)
	}
}
