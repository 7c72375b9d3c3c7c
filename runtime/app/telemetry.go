package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/resilience"
	"github.com/keiyaku/keiyaku/runtime/telemetry"
	"github.com/keiyaku/keiyaku/runtime/telemetry/export"
)

// Telemetry is how one service reports: its logger, tracer and meter
// providers, trace-context propagator and Prometheus scrape handler. It is
// a plain value, shared by every part of a service. The zero value is
// valid: see [Telemetry.Resolved] for what empty fields mean.
type Telemetry struct {
	// Logger receives the service's logs. Nil discards them.
	Logger *slog.Logger
	// TracerProvider makes the spans of HTTP requests, outgoing calls and
	// events. Nil means a no-op provider: trace context is still passed
	// on, no span is recorded.
	TracerProvider trace.TracerProvider
	// MeterProvider receives the metrics. Nil means a no-op provider.
	MeterProvider metric.MeterProvider
	// Propagator reads and writes trace context on requests and records.
	// Nil means W3C trace context and baggage.
	Propagator propagation.TextMapPropagator
	// Metrics, when set, is served at GET /metrics by [NewHTTPServer].
	Metrics http.Handler
}

// Resolved returns t with its empty fields filled: a logger that discards
// everything, no-op tracer and meter providers, and the W3C trace context
// and baggage propagator. It never uses OpenTelemetry's globals.
func (t Telemetry) Resolved() Telemetry {
	if t.Logger == nil {
		t.Logger = slog.New(slog.DiscardHandler)
	}
	if t.TracerProvider == nil {
		t.TracerProvider = tracenoop.NewTracerProvider()
	}
	if t.MeterProvider == nil {
		t.MeterProvider = metricnoop.NewMeterProvider()
	}
	if t.Propagator == nil {
		t.Propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	return t
}

// Handler wraps h in otelhttp with t's providers and propagator (see
// runtime/telemetry.Handler): a server span per request, continuing a
// valid incoming traceparent, named after the ServeMux route that served
// it (else operation), and the http.server.* metrics.
func (t Telemetry) Handler(h http.Handler, operation string) http.Handler {
	return t.providers().Handler(h, operation)
}

// Transport wraps base in otelhttp with t's providers and propagator (see
// runtime/telemetry.Transport): a client span per request, its traceparent
// sent along, and the http.client.* metrics. A nil base means a clone of
// http.DefaultTransport that ignores proxy variables and keeps 64 idle
// connections per host.
func (t Telemetry) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = newTransport()
	}
	return t.providers().Transport(base)
}

// providers are t's, resolved: never OpenTelemetry's globals.
func (t Telemetry) providers() telemetry.Providers {
	t = t.Resolved()
	return telemetry.Providers{TracerProvider: t.TracerProvider, MeterProvider: t.MeterProvider, Propagator: t.Propagator}
}

// EventOptions returns the options that give an events.Producer or
// events.Consumer t's logger, providers and propagator.
func (t Telemetry) EventOptions() []events.Option {
	t = t.Resolved()
	return []events.Option{
		events.WithLogger(t.Logger),
		events.WithTracerProvider(t.TracerProvider),
		events.WithMeterProvider(t.MeterProvider),
		events.WithPropagator(t.Propagator),
	}
}

// ClientOptions returns the options that give a resilience.Client (a
// generated client constructor such as reservationv1.NewMemberClient)
// t's logger and meter provider and a traced transport, one client span
// per attempt. Put them before the caller's own options, which win.
func (t Telemetry) ClientOptions() []resilience.Option {
	t = t.Resolved()
	return []resilience.Option{
		resilience.WithLogger(t.Logger),
		resilience.WithMeterProvider(t.MeterProvider),
		resilience.WithTransport(t.Transport(nil)),
	}
}

// SetupTelemetry sets up the OpenTelemetry SDK for one service with
// runtime/telemetry/export.Setup (OTLP/HTTP traces, Prometheus metrics)
// and returns its Telemetry, logging to logger, and the function that
// flushes and stops it (call it before exit). OpenTelemetry's globals are
// left alone unless opts hold export.WithGlobal(true), so several services
// can be set up in one process. cfg is validated by export.Setup; set
// cfg.ServiceName to tell services apart.
func SetupTelemetry(ctx context.Context, cfg telemetry.Config, logger *slog.Logger, opts ...export.Option) (Telemetry, func(context.Context) error, error) {
	all := append([]export.Option{export.WithGlobal(false), export.WithLogger(logger)}, opts...)
	tel, err := export.Setup(ctx, cfg, all...)
	if err != nil {
		return Telemetry{}, nil, fmt.Errorf("setup telemetry: %w", err)
	}
	return Telemetry{
		Logger:         logger,
		TracerProvider: tel.TracerProvider(),
		MeterProvider:  tel.MeterProvider(),
		Propagator:     tel.Propagator(),
		Metrics:        tel.MetricsHandler(),
	}, tel.Shutdown, nil
}

// newTransport is the base transport of outgoing calls: no proxy from the
// environment (libraries never read it), bounded dials, and enough idle
// connections per host for a busy neighbour.
func newTransport() *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}
