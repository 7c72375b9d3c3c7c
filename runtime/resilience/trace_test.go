package resilience

import (
	"net/http"
	"sync"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestOtelhttpSpanPerAttempt pins the documented way to trace calls:
// WithTransport(otelhttp.NewTransport(base)) gives one client span per
// attempt, each a child of the caller's span, and each attempt carries its
// own span's traceparent to the target.
func TestOtelhttpSpanPerAttempt(t *testing.T) {
	t.Parallel()
	var (
		mu      sync.Mutex
		parents []string
	)
	s := &script{steps: []step{status(503)}, then: ok("fine")}
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		parents = append(parents, r.Header.Get("Traceparent"))
		mu.Unlock()
		s.ServeHTTP(w, r)
	}))
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(t.Context()) })
	c := newClient(t, WithTransport(otelhttp.NewTransport(http.DefaultTransport.(*http.Transport).Clone(),
		otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(propagation.TraceContext{}))))

	ctx, parent := tp.Tracer("test").Start(t.Context(), "reserve")
	resp, err := get(ctx, c, url)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	parent.End()

	var attempts []sdktrace.ReadOnlySpan
	for _, sp := range rec.Ended() {
		if sp.SpanKind() == trace.SpanKindClient {
			attempts = append(attempts, sp)
		}
	}
	if len(attempts) != 2 {
		t.Fatalf("%d client spans, want one per attempt (2)", len(attempts))
	}
	mu.Lock()
	defer mu.Unlock()
	for i, sp := range attempts {
		if sp.Parent().SpanID() != parent.SpanContext().SpanID() || sp.SpanContext().TraceID() != parent.SpanContext().TraceID() {
			t.Errorf("attempt %d: span %v is not a child of the caller's span", i+1, sp.SpanContext())
		}
		want := "00-" + sp.SpanContext().TraceID().String() + "-" + sp.SpanContext().SpanID().String() + "-01"
		if parents[i] != want {
			t.Errorf("attempt %d sent traceparent %q, want %q", i+1, parents[i], want)
		}
	}
}
