package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Option configures [Setup].
type Option func(*options)

type options struct {
	logger      *slog.Logger
	processors  []sdktrace.SpanProcessor
	global      bool
	newExporter func(ctx context.Context, url string) (sdktrace.SpanExporter, error)
	reader      sdkmetric.Reader
	metrics     http.Handler
}

// WithLogger sends OpenTelemetry's own errors and diagnostics (a failed
// export, a dropped span) to l, by installing l as OpenTelemetry's global
// error handler and logger. It has effect only together with the default
// WithGlobal(true). Default: OpenTelemetry's handler is left as it is.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithTraceExporter sets how Setup builds the exporter of the OTLP traces
// URL that its Config names (Endpoint or TracesEndpoint): newExporter gets
// that URL, and Setup exports the spans in batches through the result.
// Package runtime/telemetry/export supplies the OTLP/HTTP exporter; it is
// kept out of this package so that a service's module graph holds no
// gRPC or protobuf unless it exports. Default: none, and a Config naming an
// endpoint is then an error.
func WithTraceExporter(newExporter func(ctx context.Context, url string) (sdktrace.SpanExporter, error)) Option {
	return func(o *options) { o.newExporter = newExporter }
}

// WithMetricReader adds r as the reader of the meter provider, and makes
// [Telemetry.MetricsHandler] serve handler (the scrape endpoint of a pull
// reader such as Prometheus's; nil for a push reader). Package
// runtime/telemetry/export supplies the Prometheus reader and handler.
// Default: no reader, measurements are dropped and MetricsHandler answers
// 404.
func WithMetricReader(r sdkmetric.Reader, handler http.Handler) Option {
	return func(o *options) { o.reader, o.metrics = r, handler }
}

// WithSpanProcessor adds p to the tracer provider, after the OTLP exporter
// if there is one; it may be given several times. Setup's Shutdown shuts p
// down. Tests use it with an in-memory exporter from
// go.opentelemetry.io/otel/sdk/trace/tracetest. Default: none.
func WithSpanProcessor(p sdktrace.SpanProcessor) Option {
	return func(o *options) {
		if p != nil {
			o.processors = append(o.processors, p)
		}
	}
}

// WithGlobal sets whether Setup installs its tracer provider, meter
// provider and propagator as OpenTelemetry's globals (otel.SetTracerProvider
// and friends), which the package-level [Handler] and [Transport] and most
// instrumentation libraries use. Pass false to keep several Telemetry
// values apart in one process (tests); use the methods of [Telemetry] then.
// Default true.
func WithGlobal(enabled bool) Option {
	return func(o *options) { o.global = enabled }
}

// Telemetry is the OpenTelemetry setup of one service: a tracer provider, a
// meter provider, and a propagator. Its methods are
// safe for concurrent use. Call Shutdown before the program exits, or
// buffered spans are lost.
type Telemetry struct {
	tracerProvider *sdktrace.TracerProvider
	meterProvider  *sdkmetric.MeterProvider
	propagator     propagation.TextMapPropagator
	metrics        http.Handler

	shutdownOnce sync.Once
	shutdownErr  error
}

// Setup validates cfg and builds the telemetry of a service:
//
//   - a resource with service.name, cfg.ResourceAttributes and the
//     telemetry.sdk.* attributes;
//   - a tracer provider with cfg's sampler that always creates spans, so
//     trace ids reach logs, and exports them in batches through the
//     exporter of [WithTraceExporter] when cfg names an endpoint;
//   - a meter provider with the reader of [WithMetricReader], if any,
//     whose scrape handler [Telemetry.MetricsHandler] serves;
//   - the propagators of cfg (W3C trace context and baggage by default).
//
// runtime/telemetry/export.Setup calls Setup with the OTLP/HTTP trace
// exporter and the Prometheus reader.
//
// Unless [WithGlobal](false) is given, Setup installs the providers and the
// propagator as OpenTelemetry's globals. Setup makes no network call: an
// unreachable collector shows up later as export errors (see
// [WithLogger]). A malformed cfg value is an error naming its environment
// variable, and nothing is installed.
func Setup(ctx context.Context, cfg Config, opts ...Option) (*Telemetry, error) {
	o := options{global: true}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	s, err := cfg.parse()
	if err != nil {
		return nil, fmt.Errorf("telemetry setup: %w", err)
	}

	res, err := resource.New(ctx, resource.WithTelemetrySDK(), resource.WithAttributes(s.attrs...))
	if err != nil {
		return nil, fmt.Errorf("telemetry setup: resource: %w", err)
	}

	traceOpts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(s.sampler),
	}
	if s.tracesURL != "" {
		if o.newExporter == nil {
			return nil, fmt.Errorf("telemetry setup: %s or %s names %s, but no trace exporter is given: "+
				"use runtime/telemetry/export.Setup, or pass telemetry.WithTraceExporter", EnvEndpoint, EnvTracesEndpoint, s.tracesURL)
		}
		exporter, err := o.newExporter(ctx, s.tracesURL)
		if err != nil {
			return nil, fmt.Errorf("telemetry setup: otlp exporter %s: %w", s.tracesURL, err)
		}
		traceOpts = append(traceOpts, sdktrace.WithBatcher(exporter))
	}
	for _, p := range o.processors {
		traceOpts = append(traceOpts, sdktrace.WithSpanProcessor(p))
	}
	tp := sdktrace.NewTracerProvider(traceOpts...)

	meterOpts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	if o.reader != nil {
		meterOpts = append(meterOpts, sdkmetric.WithReader(o.reader))
	}
	metrics := o.metrics
	if metrics == nil {
		metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "no metrics exporter: set up telemetry with runtime/telemetry/export", http.StatusNotFound)
		})
	}
	t := &Telemetry{
		tracerProvider: tp,
		meterProvider:  sdkmetric.NewMeterProvider(meterOpts...),
		propagator:     s.propagator,
		metrics:        metrics,
	}
	if o.global {
		otel.SetTracerProvider(tp)
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

// Shutdown flushes the spans still buffered (to the OTLP collector and the
// processors of [WithSpanProcessor]) and stops the providers; spans and
// measurements made afterwards are dropped. ctx bounds the flush. Shutdown
// returns the errors of the tracer and meter providers joined; calling it
// again returns the first call's result. It does not restore the globals.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	t.shutdownOnce.Do(func() {
		var errs []error
		if err := t.tracerProvider.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("telemetry shutdown: tracer provider: %w", err))
		}
		if err := t.meterProvider.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("telemetry shutdown: meter provider: %w", err))
		}
		t.shutdownErr = errors.Join(errs...)
	})
	return t.shutdownErr
}

// MetricsHandler returns the handler of the scrape endpoint given with
// [WithMetricReader]: with runtime/telemetry/export, the Prometheus
// endpoint. It answers every path; mount it at /metrics. Without a reader
// it answers 404. It is the same handler on every call.
func (t *Telemetry) MetricsHandler() http.Handler { return t.metrics }

// TracerProvider returns the tracer provider, for code that starts spans of
// its own without the globals.
func (t *Telemetry) TracerProvider() trace.TracerProvider { return t.tracerProvider }

// MeterProvider returns the meter provider, for code that records metrics
// of its own without the globals; they appear on [Telemetry.MetricsHandler].
func (t *Telemetry) MeterProvider() metric.MeterProvider { return t.meterProvider }

// Propagator returns the propagator that reads and writes trace context
// and baggage on requests and messages (as configured by Config.Propagators).
func (t *Telemetry) Propagator() propagation.TextMapPropagator { return t.propagator }
