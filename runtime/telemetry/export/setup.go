package export

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/keiyaku/keiyaku/runtime/telemetry"
)

// Option configures [Setup].
type Option func(*options)

type options struct {
	logger     *slog.Logger
	processors []sdktrace.SpanProcessor
	global     bool
}

// WithLogger sends the errors of the Prometheus scrape endpoint to l and,
// together with the default WithGlobal(true), OpenTelemetry's own errors
// and diagnostics (a failed export, a dropped span), by installing l as
// OpenTelemetry's global error handler and logger. Default: scrape errors
// are dropped and OpenTelemetry's handler is left as it is.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
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
// and friends), which the package-level telemetry.Handler and
// telemetry.Transport and most instrumentation libraries use. Pass false
// to keep several Telemetry values apart in one process (the demo, tests);
// use [Telemetry.Providers] then. Default true.
func WithGlobal(enabled bool) Option {
	return func(o *options) { o.global = enabled }
}

// Telemetry is the OpenTelemetry SDK setup of one service: a tracer
// provider, a meter provider read by Prometheus, and a propagator. Its
// methods are safe for concurrent use. Call Shutdown before the program
// exits, or buffered spans are lost.
type Telemetry struct {
	tracerProvider *sdktrace.TracerProvider
	meterProvider  *sdkmetric.MeterProvider
	propagator     propagation.TextMapPropagator
	metrics        http.Handler

	shutdownOnce sync.Once
	shutdownErr  error
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

// MetricsHandler returns the Prometheus scrape endpoint of the meter
// provider. It answers every path; mount it at /metrics. It is the same
// handler on every call.
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

// Providers returns t's providers and propagator, whose Handler and
// Transport methods instrument HTTP servers and clients with them instead
// of the globals.
func (t *Telemetry) Providers() telemetry.Providers {
	return telemetry.Providers{TracerProvider: t.tracerProvider, MeterProvider: t.meterProvider, Propagator: t.propagator}
}
