package app_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/getkin/kin-openapi/openapi3"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/app/apptest"
	"github.com/keiyaku/keiyaku/runtime/httpserver"
	"github.com/keiyaku/keiyaku/runtime/sqldb/sqldbtest"
)

const thingsSpec = `
openapi: 3.0.3
info: {title: Things, version: 1.0.0}
paths:
  /things/{id}:
    get:
      operationId: getThing
      parameters:
        - {name: id, in: path, required: true, schema: {type: string, format: uuid}}
      responses:
        '200': {description: ok, content: {application/json: {schema: {type: object}}}}
  /things:
    post:
      operationId: createThing
      parameters:
        - {name: Idempotency-Key, in: header, required: true, schema: {type: string}}
      requestBody:
        required: true
        content: {application/json: {schema: {type: object}}}
      responses:
        '201': {description: created, content: {application/json: {schema: {type: object}}}}
`

// migrations are those of a component with one table.
var migrations = fstest.MapFS{
	"sqlite/001_things.sql":   {Data: []byte(`CREATE TABLE things (id TEXT PRIMARY KEY);`)},
	"postgres/001_things.sql": {Data: []byte(`CREATE TABLE things (id TEXT PRIMARY KEY);`)},
}

// TestNewHTTPServer pins the assembly of a service's HTTP server: health
// endpoints, /metrics when the telemetry has a handler, requests held to
// the contract before the API sees them, POSTs with an Idempotency-Key
// replayed from the SQL store, and a server span per request named after
// its route.
func TestNewHTTPServer(t *testing.T) {
	t.Parallel()
	for _, b := range sqldbtest.Backends(os.Getenv(apptest.EnvPostgresDSN)) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			spans := tracetest.NewSpanRecorder()
			tel := app.Telemetry{
				TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)),
				Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					_, _ = io.WriteString(w, "things_total 1\n")
				}),
			}
			db, err := app.OpenDB(ctx, b.DSN(t), "things", migrations, tel)
			if err != nil {
				t.Fatalf("OpenDB: %v", err)
			}
			t.Cleanup(func() { _ = db.Close() })
			// A second open applies nothing and fails nothing.
			again, err := app.OpenDB(ctx, b.DSN(t), "things", migrations, tel)
			if err != nil {
				t.Fatalf("OpenDB again: %v", err)
			}
			_ = again.Close()
			if _, err := db.ExecContext(ctx, `INSERT INTO things (id) VALUES ('x')`); err != nil {
				t.Fatalf("migrated table: %v", err)
			}

			spec, err := openapi3.NewLoader().LoadFromData([]byte(thingsSpec))
			if err != nil {
				t.Fatal(err)
			}
			var calls atomic.Int32
			mux := http.NewServeMux()
			mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{}`)
			})
			mux.HandleFunc("POST /things", func(w http.ResponseWriter, _ *http.Request) {
				calls.Add(1)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusCreated)
				_, _ = io.WriteString(w, `{"n":1}`)
			})
			srv, err := app.NewHTTPServer(ctx, app.HTTPConfig{Name: "things", Spec: spec, API: mux, DB: db, Idempotent: true}, tel)
			if err != nil {
				t.Fatalf("NewHTTPServer: %v", err)
			}
			ts := httptest.NewServer(srv.Handler())
			t.Cleanup(ts.Close)

			do := func(method, path, body string, header ...string) (*http.Response, string) {
				t.Helper()
				req, err := http.NewRequestWithContext(ctx, method, ts.URL+path, strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				for i := 0; i+1 < len(header); i += 2 {
					req.Header.Set(header[i], header[i+1])
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = res.Body.Close() }()
				b, _ := io.ReadAll(res.Body)
				return res, string(b)
			}
			tests := []struct {
				method, path, body string
				header             []string
				want               int
				wantCT             string
			}{
				{"GET", "/healthz", "", nil, 200, "application/json"},
				{"GET", "/readyz", "", nil, 200, "application/json"},
				{"GET", "/metrics", "", nil, 200, ""},
				{"GET", "/things/7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d", "", nil, 200, "application/json"},
				{"GET", "/things/not-a-uuid", "", nil, 400, "application/problem+json"},
				{"GET", "/nothing", "", nil, 404, "application/problem+json"},
				{"DELETE", "/things/7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d", "", nil, 405, "application/problem+json"},
				{"POST", "/things", `{}`, nil, 400, "application/problem+json"},
			}
			for _, tc := range tests {
				res, body := do(tc.method, tc.path, tc.body, tc.header...)
				if res.StatusCode != tc.want || (tc.wantCT != "" && res.Header.Get("Content-Type") != tc.wantCT) {
					t.Errorf("%s %s: %d %s %s, want %d %s", tc.method, tc.path, res.StatusCode, res.Header.Get("Content-Type"), body, tc.want, tc.wantCT)
				}
			}
			if _, body := do("GET", "/metrics", ""); body != "things_total 1\n" {
				t.Errorf("/metrics = %q", body)
			}

			first, _ := do("POST", "/things", `{"a":1}`, "Idempotency-Key", "key-1")
			second, body := do("POST", "/things", `{"a":1}`, "Idempotency-Key", "key-1")
			if first.StatusCode != 201 || second.StatusCode != 201 || second.Header.Get(httpserver.ReplayedHeader) != "true" || body != `{"n":1}` || calls.Load() != 1 {
				t.Errorf("retry: %d then %d (replayed %q, %q), %d calls; want one call replayed",
					first.StatusCode, second.StatusCode, second.Header.Get(httpserver.ReplayedHeader), body, calls.Load())
			}

			var routed bool
			for _, s := range spans.Ended() {
				if s.Name() == "GET /things/{id}" {
					routed = true
				}
			}
			if !routed {
				var names []string
				for _, s := range spans.Ended() {
					names = append(names, s.Name())
				}
				t.Errorf("spans %q, want one named GET /things/{id}", names)
			}
		})
	}
}

// TestNewHTTPServerRefuses pins the constructor's checks: no contract,
// no API or no database is an error, not a server that fails later.
func TestNewHTTPServerRefuses(t *testing.T) {
	t.Parallel()
	spec, err := openapi3.NewLoader().LoadFromData([]byte(thingsSpec))
	if err != nil {
		t.Fatal(err)
	}
	db := sqldbtest.Open(t, sqldbtest.SQLite().DSN(t))
	tests := []struct {
		name string
		cfg  app.HTTPConfig
	}{
		{"no spec", app.HTTPConfig{API: http.NotFoundHandler(), DB: db}},
		{"no API", app.HTTPConfig{Spec: spec, DB: db}},
		{"no database", app.HTTPConfig{Spec: spec, API: http.NotFoundHandler()}},
	}
	for _, tc := range tests {
		if _, err := app.NewHTTPServer(context.Background(), tc.cfg, app.Telemetry{}); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}
