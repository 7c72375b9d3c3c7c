package export_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/keiyaku/keiyaku/runtime/telemetry"
	"github.com/keiyaku/keiyaku/runtime/telemetry/export"
)

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
			tel, err := export.Setup(t.Context(), tc.cfg, export.WithGlobal(false))
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
	srv := httptest.NewServer(tel.Providers().Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		serverTrace = trace.SpanContextFromContext(r.Context())
		header = r.Header.Get("traceparent")
		mu.Unlock()
		logger.InfoContext(r.Context(), "served")
	}), "always-off"))
	t.Cleanup(srv.Close)

	ctx, root := tel.TracerProvider().Tracer("test").Start(t.Context(), "root")
	client := &http.Client{Transport: tel.Providers().Transport(srv.Client().Transport)}
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
			map[string]string{"service.name": "unknown_service:export.test"}},
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

// TestSetupGlobals pins that Setup installs its providers and propagator
// as OpenTelemetry's globals unless WithGlobal(false), so that the
// package-level telemetry.Handler and Transport built afterwards use them,
// and that WithLogger receives OpenTelemetry's errors. It changes
// process-wide state, so it does not run in parallel (the parallel tests
// use WithGlobal(false) and Telemetry.Providers).
func TestSetupGlobals(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	var logs syncBuffer
	tel, err := export.Setup(t.Context(), telemetry.Config{ServiceName: "global"},
		export.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(exp)),
		export.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = tel.Shutdown(context.WithoutCancel(t.Context()))
		otel.SetTracerProvider(tracenoop.NewTracerProvider())
		otel.SetMeterProvider(metricnoop.NewMeterProvider())
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	})
	if otel.GetTracerProvider() != tel.TracerProvider() || otel.GetMeterProvider() != tel.MeterProvider() {
		t.Error("Setup did not install its providers as the globals")
	}
	// A composite propagator's fields come from a set: their order varies.
	if got := slices.Sorted(slices.Values(otel.GetTextMapPropagator().Fields())); strings.Join(got, ",") != "baggage,traceparent,tracestate" {
		t.Errorf("global propagator fields %v, want the default tracecontext,baggage", got)
	}

	srv := httptest.NewServer(telemetry.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), "global"))
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: telemetry.Transport(srv.Client().Transport)}
	ctx, root := otel.Tracer("test").Start(t.Context(), "root")
	get(t, ctx, client, srv.URL)
	root.End()
	if spans := exp.GetSpans(); len(spans) != 3 {
		t.Errorf("%d spans recorded through the globals, want root, client and server: %v", len(spans), spans)
	}

	otel.Handle(errors.New("export failed"))
	if !strings.Contains(logs.String(), "export failed") {
		t.Errorf("OpenTelemetry error not sent to the WithLogger logger; log: %q", logs.String())
	}

	apart, err := export.Setup(t.Context(), telemetry.Config{ServiceName: "apart"}, export.WithGlobal(false))
	if err != nil {
		t.Fatal(err)
	}
	defer apart.Shutdown(t.Context())
	if otel.GetTracerProvider() != tel.TracerProvider() {
		t.Error("Setup with WithGlobal(false) replaced the global tracer provider")
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
