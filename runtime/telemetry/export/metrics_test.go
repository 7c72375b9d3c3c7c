package export_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/keiyaku/keiyaku/runtime/telemetry"
	"github.com/keiyaku/keiyaku/runtime/telemetry/export"
)

// labels returns the labels of m as a map.
func labels(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, p := range m.GetLabel() {
		l[p.GetName()] = p.GetValue()
	}
	return l
}

// TestMetricsEndpoint pins the scrape endpoint: after one request through
// Handler and Transport it serves valid Prometheus text with the server and
// client request duration histograms (one observation each, labelled with
// method, route and status), target_info with the service name, and the Go
// runtime metrics; and none of it leaks into Prometheus's global default
// registry.
func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	tel, _ := newTelemetry(t, telemetry.Config{ServiceName: "member", ResourceAttributes: "team=core"})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /members/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})
	srv := httptest.NewServer(tel.Providers().Handler(mux, "member"))
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: tel.Providers().Transport(srv.Client().Transport)}
	if code, _ := get(t, t.Context(), client, srv.URL+"/members/42"); code != http.StatusTeapot {
		t.Fatalf("status %d", code)
	}

	metrics := httptest.NewServer(tel.MetricsHandler())
	t.Cleanup(metrics.Close)
	resp, err := http.Get(metrics.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("scrape: status %d, content type %q", resp.StatusCode, ct)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape is not valid Prometheus text: %v", err)
	}

	for _, name := range []string{"http_server_request_duration_seconds", "http_client_request_duration_seconds"} {
		f := families[name]
		if f == nil || f.GetType() != dto.MetricType_HISTOGRAM || len(f.GetMetric()) != 1 {
			t.Errorf("%s: %v, want one histogram series", name, f)
			continue
		}
		m := f.GetMetric()[0]
		if got := m.GetHistogram().GetSampleCount(); got != 1 {
			t.Errorf("%s count = %d, want 1", name, got)
		}
		l := labels(m)
		if l["http_request_method"] != "GET" || l["http_response_status_code"] != "418" {
			t.Errorf("%s labels %v, want method GET and status 418", name, l)
		}
		if name == "http_server_request_duration_seconds" && l["http_route"] != "/members/{id}" {
			t.Errorf("%s route %q, want /members/{id}", name, l["http_route"])
		}
	}
	if f := families["target_info"]; f == nil || labels(f.GetMetric()[0])["service_name"] != "member" ||
		labels(f.GetMetric()[0])["team"] != "core" {
		t.Errorf("target_info = %v, want service_name member and team core", f)
	}
	if families["go_goroutines"] == nil {
		t.Error("go_goroutines missing: the Go collector is not registered")
	}

	global, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range global {
		if strings.HasPrefix(f.GetName(), "http_") || f.GetName() == "target_info" {
			t.Errorf("metric %s leaked into the default registry", f.GetName())
		}
	}
}

// TestMetricsRegistriesApart pins that two Telemetry values in one process
// keep their metrics apart: a request measured by one does not show on the
// other's endpoint.
func TestMetricsRegistriesApart(t *testing.T) {
	t.Parallel()
	a, _ := newTelemetry(t, telemetry.Config{ServiceName: "a"})
	b, _ := newTelemetry(t, telemetry.Config{ServiceName: "b"})
	srv := httptest.NewServer(a.Providers().Handler(http.NotFoundHandler(), "a"))
	t.Cleanup(srv.Close)
	get(t, t.Context(), srv.Client(), srv.URL)

	scrape := func(tel *export.Telemetry) string {
		rec := httptest.NewRecorder()
		tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/metrics", nil))
		return rec.Body.String()
	}
	if !strings.Contains(scrape(a), "http_server_request_duration_seconds_count") {
		t.Error("a's endpoint lacks its own request")
	}
	if strings.Contains(scrape(b), "http_server_request_duration_seconds") {
		t.Error("b's endpoint shows a's request")
	}
}
