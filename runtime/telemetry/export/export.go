// Package export gives [telemetry.Setup] its exporters: spans over
// OTLP/HTTP to the collector that OTEL_EXPORTER_OTLP_ENDPOINT names, and
// metrics on a Prometheus scrape endpoint.
//
// It is a Go module of its own (github.com/keiyaku/keiyaku/runtime/telemetry/export),
// as OpenTelemetry keeps its exporters apart from its SDK: the OTLP
// exporter brings gRPC, grpc-gateway and protobuf, the Prometheus exporter
// client_golang, so a service that imports only runtime/telemetry keeps its
// module graph small. A service's main (or runtime/app, which assembles the
// reference services) calls [Setup] instead of telemetry.Setup:
//
//	tel, err := export.Setup(ctx, telemetry.ConfigFromEnv(os.Getenv), logger,
//		telemetry.WithLogger(logger))
//	...
//	mux.Handle("GET /metrics", tel.MetricsHandler())
package export

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprometheus "go.opentelemetry.io/otel/exporters/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/keiyaku/keiyaku/runtime/telemetry"
)

// Setup is [telemetry.Setup] with the exporters, given before opts:
//
//   - spans are exported in batches over OTLP/HTTP (protobuf) when cfg
//     names an endpoint ([telemetry.Config.Endpoint] followed by
//     /v1/traces, or [telemetry.Config.TracesEndpoint] as it is);
//   - the meter provider is read by a Prometheus exporter registered on a
//     registry of its own (never prometheus.DefaultRegisterer), together
//     with the Go runtime and process collectors. [telemetry.Telemetry.MetricsHandler]
//     serves it: every metric of the meter provider (otelhttp's
//     http.server.request.duration as http_server_request_duration_seconds,
//     and so on), target_info with the resource attributes, and the Go
//     runtime and process metrics, in the format the scraper negotiates
//     (text by default).
//
// logger receives the errors of the scrape endpoint; nil drops them. Like
// telemetry.Setup, Setup makes no network call.
func Setup(ctx context.Context, cfg telemetry.Config, logger *slog.Logger, opts ...telemetry.Option) (*telemetry.Telemetry, error) {
	reader, metrics, err := prometheusReader(logger)
	if err != nil {
		return nil, fmt.Errorf("telemetry setup: %w", err)
	}
	all := append([]telemetry.Option{
		telemetry.WithTraceExporter(otlpHTTP),
		telemetry.WithMetricReader(reader, metrics),
	}, opts...)
	return telemetry.Setup(ctx, cfg, all...)
}

// otlpHTTP builds the OTLP/HTTP span exporter posting to url.
func otlpHTTP(ctx context.Context, url string) (sdktrace.SpanExporter, error) {
	return otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(url))
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
