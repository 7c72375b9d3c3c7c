package resilience

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// BenchmarkRoundTrip measures one GET over loopback with a small JSON
// answer: through a bare http.Client, through a resilience Client with the
// default policies, and through one whose transport is wrapped by otelhttp
// with an SDK tracer provider sampling every span (no exporter).
func BenchmarkRoundTrip(b *testing.B) {
	body := []byte(`{"id":"m-1","name":"Hanako","active":true}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	b.Cleanup(srv.Close)
	url := srv.URL + "/members/m-1"

	run := func(b *testing.B, do func(*http.Request) (*http.Response, error)) {
		b.ReportAllocs()
		for b.Loop() {
			req, err := http.NewRequestWithContext(b.Context(), http.MethodGet, url, nil)
			if err != nil {
				b.Fatal(err)
			}
			resp, err := do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	}
	newClient := func(b *testing.B, opts ...Option) *Client {
		c, err := New("member", opts...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(c.CloseIdleConnections)
		return c
	}

	b.Run("bare", func(b *testing.B) {
		hc := &http.Client{Transport: defaultTransport()}
		b.Cleanup(hc.CloseIdleConnections)
		run(b, hc.Do)
	})
	b.Run("resilience", func(b *testing.B) {
		run(b, newClient(b).Do)
	})
	b.Run("resilience+otelhttp", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
		b.Cleanup(func() { tp.Shutdown(b.Context()) })
		run(b, newClient(b, WithTransport(otelhttp.NewTransport(defaultTransport(), otelhttp.WithTracerProvider(tp)))).Do)
	})
}
