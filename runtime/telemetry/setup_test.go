package telemetry_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/keiyaku/keiyaku/runtime/telemetry"
)

// newTelemetry runs Setup without touching the globals, with an in-memory
// exporter behind a synchronous processor, and shuts it down at the end of
// the test. Spans are in the exporter as soon as they end.
func newTelemetry(t *testing.T, cfg telemetry.Config) (*telemetry.Telemetry, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tel, err := telemetry.Setup(t.Context(), cfg,
		telemetry.WithGlobal(false),
		telemetry.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(exp)))
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

// TestConfigFromEnv pins the variable each Config field is read from, and
// that a nil getenv is the zero Config rather than a panic.
func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"OTEL_SERVICE_NAME":                  "member",
		"OTEL_RESOURCE_ATTRIBUTES":           "deployment.environment=prod",
		"OTEL_EXPORTER_OTLP_ENDPOINT":        "http://collector:4318",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/traces",
		"OTEL_TRACES_SAMPLER":                "traceidratio",
		"OTEL_TRACES_SAMPLER_ARG":            "0.5",
		"OTEL_PROPAGATORS":                   "tracecontext",
		"OTEL_UNRELATED":                     "x",
	}
	got := telemetry.ConfigFromEnv(func(k string) string { return env[k] })
	want := telemetry.Config{
		ServiceName:        "member",
		ResourceAttributes: "deployment.environment=prod",
		Endpoint:           "http://collector:4318",
		TracesEndpoint:     "http://collector:4318/traces",
		Sampler:            "traceidratio",
		SamplerArg:         "0.5",
		Propagators:        "tracecontext",
	}
	if got != want {
		t.Errorf("ConfigFromEnv = %+v\nwant %+v", got, want)
	}
	if got := telemetry.ConfigFromEnv(nil); got != (telemetry.Config{}) {
		t.Errorf("ConfigFromEnv(nil) = %+v, want the zero Config", got)
	}
}

// TestSetupInvalidConfig pins that every malformed value is refused with an
// error naming its environment variable, instead of being silently replaced
// by a default as the OpenTelemetry SDK does.
func TestSetupInvalidConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  telemetry.Config
		want string
	}{
		{"unknown sampler", telemetry.Config{Sampler: "sometimes"},
			`telemetry setup: OTEL_TRACES_SAMPLER: unknown sampler "sometimes" (want always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio)`},
		{"unsupported remote sampler", telemetry.Config{Sampler: "parentbased_jaeger_remote"},
			`telemetry setup: OTEL_TRACES_SAMPLER: unknown sampler "parentbased_jaeger_remote" (want always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio)`},
		{"ratio not a number", telemetry.Config{Sampler: "traceidratio", SamplerArg: "half"},
			`telemetry setup: OTEL_TRACES_SAMPLER_ARG: "half" is not a probability from 0 to 1`},
		{"ratio above one", telemetry.Config{Sampler: "parentbased_traceidratio", SamplerArg: "1.5"},
			`telemetry setup: OTEL_TRACES_SAMPLER_ARG: "1.5" is not a probability from 0 to 1`},
		{"ratio below zero", telemetry.Config{Sampler: "traceidratio", SamplerArg: "-0.1"},
			`telemetry setup: OTEL_TRACES_SAMPLER_ARG: "-0.1" is not a probability from 0 to 1`},
		{"ratio NaN", telemetry.Config{Sampler: "traceidratio", SamplerArg: "NaN"},
			`telemetry setup: OTEL_TRACES_SAMPLER_ARG: "NaN" is not a probability from 0 to 1`},
		{"argument for a sampler without one", telemetry.Config{Sampler: "always_on", SamplerArg: "0.5"},
			`telemetry setup: OTEL_TRACES_SAMPLER_ARG: "0.5" given, but sampler always_on takes no argument`},
		{"unsupported propagator", telemetry.Config{Propagators: "tracecontext,b3"},
			`telemetry setup: OTEL_PROPAGATORS: unsupported propagator "b3" (want tracecontext, baggage or none)`},
		{"none with another propagator", telemetry.Config{Propagators: "none,baggage"},
			`telemetry setup: OTEL_PROPAGATORS: none cannot be combined with other propagators in "none,baggage"`},
		{"no propagator named", telemetry.Config{Propagators: " , "},
			`telemetry setup: OTEL_PROPAGATORS: " , " names no propagator`},
		{"resource attribute without value", telemetry.Config{ResourceAttributes: "team=core,region"},
			`telemetry setup: OTEL_RESOURCE_ATTRIBUTES: "region" is not key=value`},
		{"resource attribute without key", telemetry.Config{ResourceAttributes: "=core"},
			`telemetry setup: OTEL_RESOURCE_ATTRIBUTES: "=core" is not key=value`},
		{"resource attribute bad percent-encoding", telemetry.Config{ResourceAttributes: "team=a%zzb"},
			`telemetry setup: OTEL_RESOURCE_ATTRIBUTES: value of "team": invalid URL escape "%zz"`},
		{"endpoint without scheme", telemetry.Config{Endpoint: "collector:4318"},
			`telemetry setup: OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" is not an http or https URL`},
		{"endpoint grpc scheme", telemetry.Config{Endpoint: "grpc://collector:4317"},
			`telemetry setup: OTEL_EXPORTER_OTLP_ENDPOINT: "grpc://collector:4317" is not an http or https URL`},
		{"endpoint without host", telemetry.Config{Endpoint: "http:///v1"},
			`telemetry setup: OTEL_EXPORTER_OTLP_ENDPOINT: "http:///v1" has no host`},
		{"endpoint with query", telemetry.Config{Endpoint: "http://collector:4318?x=1"},
			`telemetry setup: OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318?x=1" must not have a query, fragment or user`},
		{"endpoint unparsable", telemetry.Config{Endpoint: "http://[::1"},
			`telemetry setup: OTEL_EXPORTER_OTLP_ENDPOINT: parse "http://[::1": missing ']' in host`},
		{"traces endpoint bad", telemetry.Config{TracesEndpoint: "ftp://collector/traces"},
			`telemetry setup: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "ftp://collector/traces" is not an http or https URL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tel, err := telemetry.Setup(t.Context(), tc.cfg, telemetry.WithGlobal(false))
			if err == nil {
				_ = tel.Shutdown(t.Context())
				t.Fatalf("Setup(%+v) succeeded, want error %q", tc.cfg, tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("Setup(%+v) error\n got %s\nwant %s", tc.cfg, err, tc.want)
			}
		})
	}
}

// TestSetupSamplers pins what each OTEL_TRACES_SAMPLER value records: a new
// root span, a child of a sampled remote parent, and a child of an
// unsampled remote parent.
func TestSetupSamplers(t *testing.T) {
	t.Parallel()
	remote := func(flags trace.TraceFlags) context.Context {
		return trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
			TraceID:    trace.TraceID{0x4b, 0xf9, 1},
			SpanID:     trace.SpanID{0x00, 0xf0, 1},
			TraceFlags: flags,
			Remote:     true,
		}))
	}
	for _, tc := range []struct {
		sampler, arg                      string
		root, sampledParent, unsampledPar bool
	}{
		{"", "", true, true, false}, // default parentbased_always_on
		{"always_on", "", true, true, true},
		{" ALWAYS_ON ", "", true, true, true},
		{"always_off", "", false, false, false},
		{"traceidratio", "", true, true, true}, // argument defaults to 1
		{"traceidratio", "1", true, true, true},
		{"traceidratio", "0", false, false, false},
		{"parentbased_always_on", "", true, true, false},
		{"parentbased_always_off", "", false, true, false},
		{"parentbased_traceidratio", "0", false, true, false},
		{"parentbased_traceidratio", "1", true, true, false},
	} {
		t.Run(tc.sampler+"/"+tc.arg, func(t *testing.T) {
			t.Parallel()
			tel, _ := newTelemetry(t, telemetry.Config{Sampler: tc.sampler, SamplerArg: tc.arg})
			tracer := tel.TracerProvider().Tracer("test")
			for _, c := range []struct {
				what string
				ctx  context.Context
				want bool
			}{
				{"root span", context.Background(), tc.root},
				{"child of sampled remote parent", remote(trace.FlagsSampled), tc.sampledParent},
				{"child of unsampled remote parent", remote(0), tc.unsampledPar},
			} {
				_, span := tracer.Start(c.ctx, "op")
				if got := span.SpanContext().IsSampled(); got != c.want {
					t.Errorf("%s: sampled = %v, want %v", c.what, got, c.want)
				}
				if !span.SpanContext().IsValid() {
					t.Errorf("%s: span context invalid; trace ids would not reach logs", c.what)
				}
				span.End()
			}
		})
	}
}

// TestSetupAlwaysOff pins that always_off records nothing yet keeps the
// trace flowing: the server continues the client's trace id, and logs get
// it, so requests can still be correlated.
func TestSetupAlwaysOff(t *testing.T) {
	t.Parallel()
	tel, exp := newTelemetry(t, telemetry.Config{Sampler: "always_off"})
	var logs syncBuffer
	logger := telemetry.NewLogger(&logs, slog.LevelInfo)
	var mu sync.Mutex
	var serverTrace trace.SpanContext
	var header string
	srv := httptest.NewServer(tel.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		serverTrace = trace.SpanContextFromContext(r.Context())
		header = r.Header.Get("traceparent")
		mu.Unlock()
		logger.InfoContext(r.Context(), "served")
	}), "always-off"))
	t.Cleanup(srv.Close)

	ctx, root := tel.TracerProvider().Tracer("test").Start(t.Context(), "root")
	client := &http.Client{Transport: tel.Transport(srv.Client().Transport)}
	if code, _ := get(t, ctx, client, srv.URL); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	root.End()

	mu.Lock()
	defer mu.Unlock()
	want := root.SpanContext().TraceID()
	if !want.IsValid() || serverTrace.TraceID() != want {
		t.Errorf("server trace id %s, want the client's %s", serverTrace.TraceID(), want)
	}
	if serverTrace.IsSampled() {
		t.Error("server span sampled under always_off")
	}
	if !strings.HasPrefix(header, "00-"+want.String()+"-") || !strings.HasSuffix(header, "-00") {
		t.Errorf("traceparent sent = %q, want trace %s, unsampled", header, want)
	}
	if !strings.Contains(logs.String(), `"trace_id":"`+want.String()+`"`) {
		t.Errorf("log line lacks the trace id %s: %s", want, logs.String())
	}
	if spans := exp.GetSpans(); len(spans) != 0 {
		t.Errorf("always_off recorded %d spans: %v", len(spans), spans)
	}
}

// TestSetupResource pins the resource attributes of exported spans:
// OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES,
// values are percent-decoded, and without any name the default is
// unknown_service:<executable>.
func TestSetupResource(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  telemetry.Config
		want map[string]string
	}{
		{"service name wins", telemetry.Config{
			ServiceName:        "member",
			ResourceAttributes: "service.name=ignored, deployment.environment = prod ,team=a%2Cb%20c,",
		}, map[string]string{"service.name": "member", "deployment.environment": "prod", "team": "a,b c", "telemetry.sdk.language": "go"}},
		{"service name from attributes", telemetry.Config{ResourceAttributes: "service.name=room"},
			map[string]string{"service.name": "room"}},
		{"default service name", telemetry.Config{},
			map[string]string{"service.name": "unknown_service:telemetry.test"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tel, exp := newTelemetry(t, tc.cfg)
			_, span := tel.TracerProvider().Tracer("test").Start(t.Context(), "op")
			span.End()
			spans := exp.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("%d spans, want 1", len(spans))
			}
			got := map[string]string{}
			for _, kv := range spans[0].Resource.Attributes() {
				got[string(kv.Key)] = kv.Value.Emit()
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("resource %s = %q, want %q (all: %v)", k, got[k], v, got)
				}
			}
		})
	}
}

// TestSetupExporterHooks pins what Setup does without the exporters of
// runtime/telemetry/export and with ones of its own: a Config naming an
// endpoint is an error naming the variables unless WithTraceExporter is
// given, which then gets the traces URL and receives the spans; without a
// metric reader MetricsHandler answers 404, with one the reader collects
// the meter provider's measurements and MetricsHandler is its handler.
func TestSetupExporterHooks(t *testing.T) {
	t.Parallel()
	cfg := telemetry.Config{ServiceName: "hooks", Endpoint: "http://collector:4318/base"}
	_, err := telemetry.Setup(t.Context(), cfg, telemetry.WithGlobal(false))
	if err == nil || !strings.Contains(err.Error(), telemetry.EnvEndpoint) || !strings.Contains(err.Error(), "runtime/telemetry/export") {
		t.Fatalf("Setup with an endpoint and no exporter: %v, want an error naming %s and runtime/telemetry/export", err, telemetry.EnvEndpoint)
	}

	failing := errors.New("no exporter today")
	_, err = telemetry.Setup(t.Context(), cfg, telemetry.WithGlobal(false),
		telemetry.WithTraceExporter(func(context.Context, string) (sdktrace.SpanExporter, error) { return nil, failing }))
	if !errors.Is(err, failing) {
		t.Fatalf("Setup with a failing exporter: %v, want %v", err, failing)
	}

	var gotURL string
	spans := tracetest.NewInMemoryExporter()
	reader := sdkmetric.NewManualReader()
	tel, err := telemetry.Setup(t.Context(), cfg, telemetry.WithGlobal(false),
		telemetry.WithTraceExporter(func(_ context.Context, url string) (sdktrace.SpanExporter, error) {
			gotURL = url
			return spans, nil
		}),
		telemetry.WithMetricReader(reader, http.NotFoundHandler()))
	if err != nil {
		t.Fatal(err)
	}
	if gotURL != "http://collector:4318/base/v1/traces" {
		t.Errorf("exporter URL %q, want http://collector:4318/base/v1/traces", gotURL)
	}
	_, span := tel.TracerProvider().Tracer("test").Start(t.Context(), "op")
	span.End()
	counter, err := tel.MeterProvider().Meter("test").Int64Counter("hits")
	if err != nil {
		t.Fatal(err)
	}
	counter.Add(t.Context(), 3)
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	if len(rm.ScopeMetrics) != 1 || len(rm.ScopeMetrics[0].Metrics) != 1 || rm.ScopeMetrics[0].Metrics[0].Name != "hits" {
		t.Errorf("reader collected %+v, want the hits counter", rm.ScopeMetrics)
	}
	// Shutdown flushes the batch, then shuts the in-memory exporter down,
	// which empties it: look at the spans in between.
	if err := tel.TracerProvider().(*sdktrace.TracerProvider).ForceFlush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := spans.GetSpans(); len(got) != 1 || got[0].Name != "op" {
		t.Errorf("exporter got %d spans, want the one op span", len(got))
	}
	if err := tel.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}

	plain, _ := newTelemetry(t, telemetry.Config{ServiceName: "plain"})
	rec := httptest.NewRecorder()
	plain.MetricsHandler().ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "runtime/telemetry/export") {
		t.Errorf("MetricsHandler without a reader: %d %q, want 404 naming runtime/telemetry/export", rec.Code, rec.Body.String())
	}
}
