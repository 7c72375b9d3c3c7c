package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/keiyaku/keiyaku/runtime/app"
)

// thingsService is a service of one HTTP server on the things contract.
type thingsService struct{ run func(context.Context) error }

func (s thingsService) Run(ctx context.Context) error { return s.run(ctx) }

// TestMainMetricsAddr pins METRICS_ADDR: with it, /metrics answers on a
// listener of its own and the API port answers it like any path the
// contract does not have (404); without it, /metrics is on the API port
// (the documented default).
func TestMainMetricsAddr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		metricsAddr   string
		apiHasMetrics bool
	}{
		{"separate port", "127.0.0.1:0", false},
		{"default: on the API port", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{
				"LISTEN_ADDR": "127.0.0.1:0", "METRICS_ADDR": tc.metricsAddr,
				"DATABASE_URL": filepath.Join(t.TempDir(), "things.db"), "KAFKA_BROKERS": "127.0.0.1:1",
			}
			spec, err := openapi3.NewLoader().LoadFromData([]byte(thingsSpec))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			logs, logw := io.Pipe()
			exited := make(chan int, 1)
			go func() {
				exited <- app.Main(ctx, func(k string) string { return env[k] }, logw, app.Process{
					Name: "things", DefaultAddr: ":0",
					Start: func(ctx context.Context, env app.Env, tel app.Telemetry) (app.Runner, error) {
						db, err := app.OpenDB(ctx, env.DatabaseURL, "things", migrations, tel)
						if err != nil {
							return nil, err
						}
						srv, err := app.NewHTTPServer(ctx, app.HTTPConfig{Name: "things", Addr: env.ListenAddr, Spec: spec, API: http.NotFoundHandler(), DB: db}, tel)
						if err != nil {
							return nil, err
						}
						return thingsService{run: func(ctx context.Context) error {
							defer db.Close()
							return srv.ListenAndServe(ctx)
						}}, nil
					},
				})
				_ = logw.Close()
			}()
			// The listening addresses, from the JSON log lines.
			var api, metrics string
			lines := bufio.NewScanner(logs)
			for (api == "" || (tc.metricsAddr != "" && metrics == "")) && lines.Scan() {
				var rec struct{ Msg, Addr, Server string }
				if json.Unmarshal(lines.Bytes(), &rec) != nil || rec.Msg != "http server listening" {
					continue
				}
				if rec.Server == "metrics" {
					metrics = rec.Addr
				} else {
					api = rec.Addr
				}
			}
			go func() { _, _ = io.Copy(io.Discard, logs) }()
			if api == "" {
				t.Fatal("the service never logged its listening address")
			}
			get := func(addr string) int {
				t.Helper()
				c := &http.Client{Timeout: 10 * time.Second}
				resp, err := c.Get("http://" + addr + "/metrics")
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusOK && !strings.Contains(string(body), "# TYPE") {
					t.Errorf("GET %s/metrics: 200 without Prometheus metrics", addr)
				}
				return resp.StatusCode
			}
			if got := get(api); (got == http.StatusOK) != tc.apiHasMetrics {
				t.Errorf("GET /metrics on the API port: %d, want it served: %v", got, tc.apiHasMetrics)
			}
			if tc.metricsAddr != "" {
				if got := get(metrics); got != http.StatusOK {
					t.Errorf("GET /metrics on METRICS_ADDR: %d, want 200", got)
				}
			}
			cancel()
			if code := <-exited; code != 0 {
				t.Errorf("Main = %d, want 0 after a clean stop", code)
			}
		})
	}
}
