package telemetry

import (
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Providers are the OpenTelemetry providers and propagator that
// [Providers.Handler] and [Providers.Transport] instrument with. A nil
// field means OpenTelemetry's global of its kind, as it is when the handler
// or transport is built. The zero Providers is the globals; set the fields
// to keep several services apart in one process.
type Providers struct {
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	Propagator     propagation.TextMapPropagator
}

// Handler wraps h so that every request runs in a server span and is
// measured (http.server.request.duration, request and response body
// sizes), using OpenTelemetry's global providers and propagator as they
// are when Handler is called, so wrap after the SDK's setup
// (runtime/telemetry/export.Setup). (One built before the very first setup
// of the process follows it too: the globals forward until first set.)
//
// The span continues the trace of a valid incoming W3C traceparent and
// starts a new trace otherwise; the request's context carries it, so
// logging with [slog.Logger.InfoContext] and a handler from [NewLogHandler]
// stamps the trace id. The span is named "{method} {route}" when an
// [http.ServeMux] pattern routed the request, else operation, else the
// method.
func Handler(h http.Handler, operation string) http.Handler {
	return Providers{}.Handler(h, operation)
}

// Transport wraps base so that every request runs in a client span, child
// of the span in the request's context, carries that span's trace context
// in its headers (traceparent, tracestate, baggage), and is measured
// (http.client.request.duration), using OpenTelemetry's global providers
// and propagator as they are when Transport is called, as [Handler] does.
// A nil base means [http.DefaultTransport]. The span ends when the response
// body is read to its end or closed, so callers must close it, as always.
func Transport(base http.RoundTripper) http.RoundTripper {
	return Providers{}.Transport(base)
}

// Handler is the package-level [Handler] with p's providers and propagator
// (the globals for nil fields).
func (p Providers) Handler(h http.Handler, operation string) http.Handler {
	p = p.resolved()
	return otelhttp.NewHandler(h, operation,
		otelhttp.WithTracerProvider(p.TracerProvider),
		otelhttp.WithMeterProvider(p.MeterProvider),
		otelhttp.WithPropagators(p.Propagator),
		otelhttp.WithSpanNameFormatter(serverSpanName),
	)
}

// Transport is the package-level [Transport] with p's providers and
// propagator (the globals for nil fields).
func (p Providers) Transport(base http.RoundTripper) http.RoundTripper {
	p = p.resolved()
	return otelhttp.NewTransport(base,
		otelhttp.WithTracerProvider(p.TracerProvider),
		otelhttp.WithMeterProvider(p.MeterProvider),
		otelhttp.WithPropagators(p.Propagator),
	)
}

// resolved fills p's nil fields with the current globals.
func (p Providers) resolved() Providers {
	if p.TracerProvider == nil {
		p.TracerProvider = otel.GetTracerProvider()
	}
	if p.MeterProvider == nil {
		p.MeterProvider = otel.GetMeterProvider()
	}
	if p.Propagator == nil {
		p.Propagator = otel.GetTextMapPropagator()
	}
	return p
}

// serverSpanName names a server span after the route when a ServeMux
// pattern matched (the OpenTelemetry HTTP semantic conventions), else after
// the operation given to Handler, else after the method.
func serverSpanName(operation string, r *http.Request) string {
	method := r.Method
	switch method {
	case http.MethodConnect, http.MethodDelete, http.MethodGet, http.MethodHead, http.MethodOptions,
		http.MethodPatch, http.MethodPost, http.MethodPut, http.MethodTrace:
	default:
		method = "HTTP" // the conventions' name for a method outside the known set
	}
	// A pattern is "[METHOD ][HOST]/[PATH]"; the route is its path.
	if i := strings.IndexByte(r.Pattern, '/'); i >= 0 {
		return method + " " + r.Pattern[i:]
	}
	if operation != "" {
		return operation
	}
	return method
}
