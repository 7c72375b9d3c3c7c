package app_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/keiyaku/keiyaku/runtime/app"
)

// TestRouteOnEarlyResponses pins that responses written before the router
// — a contract violation (400), a wrong method (405), an oversized body
// (413, a chunked body), an Idempotency-Key replay — are measured with their http_route
// like routed ones; before, their series had no route at all. A path no
// operation declares (404) has no route to name.
func TestRouteOnEarlyResponses(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reader := sdkmetric.NewManualReader()
	tel := app.Telemetry{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))}
	db, err := app.OpenDB(ctx, filepath.Join(t.TempDir(), "things.db"), "things", migrations, tel)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	spec, err := openapi3.NewLoader().LoadFromData([]byte(thingsSpec))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /things", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{}`)
	})
	srv, err := app.NewHTTPServer(ctx, app.HTTPConfig{Name: "things", Spec: spec, API: mux, DB: db, Idempotent: true}, tel)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	send := func(method, path, body string, header ...string) int {
		t.Helper()
		// A reader of unknown length: the body is sent chunked, so an
		// oversized one is found while the validator reads it. (One that
		// declares its oversized Content-Length is refused by the server
		// before the telemetry handler, unmeasured.)
		req, err := http.NewRequestWithContext(ctx, method, ts.URL+path, io.MultiReader(strings.NewReader(body)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		return res.StatusCode
	}
	for _, tc := range []struct {
		method, path, body string
		header             []string
		want               int
	}{
		{"GET", "/things/not-a-uuid", "", nil, 400},
		{"DELETE", "/things/7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d", "", nil, 405},
		{"POST", "/things", `{"a":1} {"b":2}`, []string{"Idempotency-Key", "k"}, 400},
		{"POST", "/things", `{"x":"` + strings.Repeat("x", 2<<20) + `"}`, []string{"Idempotency-Key", "k"}, 413},
		{"POST", "/things", `{"a":1}`, []string{"Idempotency-Key", "key-1"}, 201},
		{"POST", "/things", `{"a":1}`, []string{"Idempotency-Key", "key-1"}, 201}, // the replay
		{"GET", "/nothing", "", nil, 404},
	} {
		if got := send(tc.method, tc.path, tc.body, tc.header...); got != tc.want {
			t.Fatalf("%s %s: %d, want %d", tc.method, tc.path, got, tc.want)
		}
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	routes := map[string]string{} // "method status" → route
	counts := map[string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "http.server.request.duration" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
				method, _ := dp.Attributes.Value(attribute.Key("http.request.method"))
				status, _ := dp.Attributes.Value(attribute.Key("http.response.status_code"))
				route, _ := dp.Attributes.Value(attribute.Key("http.route"))
				k := method.Emit() + " " + status.Emit()
				routes[k] = route.Emit()
				counts[k] += dp.Count
			}
		}
	}
	for k, want := range map[string]string{
		"GET 400": "/things/{id}", "DELETE 405": "/things/{id}", "POST 400": "/things", "POST 413": "/things", "POST 201": "/things", "GET 404": "",
	} {
		if got, ok := routes[k]; !ok || got != want {
			t.Errorf("%s: http.route %q (measured %v), want %q", k, got, ok, want)
		}
	}
	if counts["POST 201"] != 2 {
		t.Errorf("POST 201 measured %d times, want 2 (the call and its replay, one series)", counts["POST 201"])
	}
}
