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

// Handler wraps h so that every request runs in a server span and is
// measured (http.server.request.duration, request and response body
// sizes), using the providers and propagator that are OpenTelemetry's
// globals when Handler is called, so wrap after [Setup]. (One built before
// the very first Setup of the process follows it too: the globals forward
// until first set.)
//
// The span continues the trace of a valid incoming W3C traceparent and
// starts a new trace otherwise; the request's context carries it, so
// logging with [slog.Logger.InfoContext] and a handler from [NewLogHandler]
// stamps the trace id. The span is named "{method} {route}" when an
// [http.ServeMux] pattern routed the request, else operation, else the
// method.
func Handler(h http.Handler, operation string) http.Handler {
	return handler(h, operation, otel.GetTracerProvider(), otel.GetMeterProvider(), otel.GetTextMapPropagator())
}

// Transport wraps base so that every request runs in a client span, child
// of the span in the request's context, carries that span's trace context
// in its headers (traceparent, tracestate, baggage), and is measured
// (http.client.request.duration), using the providers and propagator that
// are OpenTelemetry's globals when Transport is called, as [Handler] does. A
// nil base means
// [http.DefaultTransport]. The span ends when the response body is read to
// its end or closed, so callers must close it, as always.
func Transport(base http.RoundTripper) http.RoundTripper {
	return transport(base, otel.GetTracerProvider(), otel.GetMeterProvider(), otel.GetTextMapPropagator())
}

// Handler is the package-level [Handler] with t's providers and
// propagator instead of the globals.
func (t *Telemetry) Handler(h http.Handler, operation string) http.Handler {
	return handler(h, operation, t.tracerProvider, t.meterProvider, t.propagator)
}

// Transport is the package-level [Transport] with t's providers and
// propagator instead of the globals.
func (t *Telemetry) Transport(base http.RoundTripper) http.RoundTripper {
	return transport(base, t.tracerProvider, t.meterProvider, t.propagator)
}

func handler(h http.Handler, operation string, tp trace.TracerProvider, mp metric.MeterProvider, p propagation.TextMapPropagator) http.Handler {
	return otelhttp.NewHandler(h, operation,
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithMeterProvider(mp),
		otelhttp.WithPropagators(p),
		otelhttp.WithSpanNameFormatter(serverSpanName),
	)
}

func transport(base http.RoundTripper, tp trace.TracerProvider, mp metric.MeterProvider, p propagation.TextMapPropagator) http.RoundTripper {
	return otelhttp.NewTransport(base,
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithMeterProvider(mp),
		otelhttp.WithPropagators(p),
	)
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
