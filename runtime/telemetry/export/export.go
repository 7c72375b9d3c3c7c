// Package export sets up the OpenTelemetry SDK of a Keiyaku service, with
// its exporters: spans over OTLP/HTTP to the collector that
// OTEL_EXPORTER_OTLP_ENDPOINT names, and metrics on a Prometheus scrape
// endpoint.
//
// It is a Go module of its own (github.com/keiyaku/keiyaku/runtime/telemetry/export),
// as OpenTelemetry keeps its SDK and exporters apart from its API: the SDK
// brings its own module requirements, the OTLP exporter gRPC, grpc-gateway
// and protobuf, the Prometheus exporter client_golang. Package
// runtime/telemetry, which instruments HTTP servers, clients and logs,
// and the rest of the runtime depend on the OpenTelemetry API only, so a
// service that does not set up the SDK itself keeps its module graph
// small. A service's main (or runtime/app, which assembles the reference
// services) calls [Setup] once:
//
//	tel, err := export.Setup(ctx, telemetry.ConfigFromEnv(os.Getenv), export.WithLogger(logger))
//	...
//	defer tel.Shutdown(context.WithoutCancel(ctx))
//	mux.Handle("GET /metrics", tel.MetricsHandler())
package export

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprometheus "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/keiyaku/keiyaku/runtime/telemetry"
)

// Setup validates cfg and builds the telemetry of a service:
//
//   - a resource with service.name, cfg.ResourceAttributes and the
//     telemetry.sdk.* attributes;
//   - a tracer provider with cfg's sampler that always creates spans, so
//     trace ids reach logs, and exports them in batches over OTLP/HTTP
//     (protobuf) when cfg names an endpoint ([telemetry.Config.Endpoint]
//     followed by /v1/traces, or [telemetry.Config.TracesEndpoint] as it
//     is);
//   - a meter provider read by a Prometheus exporter registered on a
//     registry of its own (never prometheus.DefaultRegisterer), together
//     with the Go runtime and process collectors. [Telemetry.MetricsHandler]
//     serves it: every metric of the meter provider (otelhttp's
//     http.server.request.duration as http_server_request_duration_seconds,
//     and so on), target_info with the resource attributes, and the Go
//     runtime and process metrics, in the format the scraper negotiates
//     (text by default);
//   - the propagators of cfg (W3C trace context and baggage by default,
//     see [telemetry.Config.Propagator]).
//
// Unless [WithGlobal](false) is given, Setup installs the providers and the
// propagator as OpenTelemetry's globals. Setup makes no network call: an
// unreachable collector shows up later as export errors (see
// [WithLogger]). A malformed cfg value is an error naming its environment
// variable, and nothing is installed.
func Setup(ctx context.Context, cfg telemetry.Config, opts ...Option) (*Telemetry, error) {
	o := options{global: true}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	s, err := parse(cfg)
	if err != nil {
		return nil, fmt.Errorf("telemetry setup: %w", err)
	}
	res, err := resource.New(ctx, resource.WithTelemetrySDK(), resource.WithAttributes(s.attrs...))
	if err != nil {
		return nil, fmt.Errorf("telemetry setup: resource: %w", err)
	}
	reader, metrics, err := prometheusReader(o.logger)
	if err != nil {
		return nil, fmt.Errorf("telemetry setup: %w", err)
	}

	traceOpts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(s.sampler),
	}
	if s.tracesURL != "" {
		exporter, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(s.tracesURL))
		if err != nil {
			return nil, fmt.Errorf("telemetry setup: otlp exporter %s: %w", s.tracesURL, err)
		}
		traceOpts = append(traceOpts, sdktrace.WithBatcher(exporter))
	}
	for _, p := range o.processors {
		traceOpts = append(traceOpts, sdktrace.WithSpanProcessor(p))
	}
	t := &Telemetry{
		tracerProvider: sdktrace.NewTracerProvider(traceOpts...),
		meterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(reader)),
		propagator:     s.propagator,
		metrics:        metrics,
	}
	if o.global {
		otel.SetTracerProvider(t.tracerProvider)
		otel.SetMeterProvider(t.meterProvider)
		otel.SetTextMapPropagator(s.propagator)
		if l := o.logger; l != nil {
			otel.SetLogger(logr.FromSlogHandler(l.Handler()))
			otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
				l.Error("opentelemetry", "err", err)
			}))
		}
	}
	return t, nil
}

// prometheusReader returns a Prometheus exporter on a registry of its own,
// with the Go and process collectors, and the handler serving it.
func prometheusReader(logger *slog.Logger) (*otelprometheus.Exporter, http.Handler, error) {
	registry := prometheus.NewRegistry()
	if err := registry.Register(collectors.NewGoCollector()); err != nil {
		return nil, nil, fmt.Errorf("register go collector: %w", err)
	}
	if err := registry.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, nil, fmt.Errorf("register process collector: %w", err)
	}
	exporter, err := otelprometheus.New(otelprometheus.WithRegisterer(registry))
	if err != nil {
		return nil, nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	handler := promhttp.HandlerFor(registry, promhttp.HandlerOpts{
		ErrorLog:      promLogger{logger},
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      registry,
	})
	return exporter, handler, nil
}

// promLogger reports the scrape endpoint's errors to a slog.Logger, or
// drops them without one.
type promLogger struct{ l *slog.Logger }

func (p promLogger) Println(v ...any) {
	if p.l != nil {
		p.l.Error("prometheus metrics handler", "err", fmt.Sprint(v...))
	}
}
