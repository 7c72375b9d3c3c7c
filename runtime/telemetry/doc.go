// Package telemetry gives a Keiyaku service one trace id across every HTTP
// call, Kafka record and log line, and a Prometheus scrape endpoint, on
// OpenTelemetry.
//
// # What it sets up
//
// [Setup] builds, from a [Config]:
//
//   - a resource: service.name, the attributes of OTEL_RESOURCE_ATTRIBUTES
//     and telemetry.sdk.*;
//   - a tracer provider with the configured sampler. Spans are always
//     created, so trace ids flow into logs and downstream calls; they are
//     exported in batches only when an endpoint is set;
//   - a meter provider, with the reader given by [WithMetricReader];
//     [Telemetry.MetricsHandler] serves its scrape endpoint (mount it at
//     /metrics);
//   - the propagator: W3C trace context (traceparent, tracestate) and W3C
//     baggage by default;
//
// and installs the three as OpenTelemetry's globals (unless
// [WithGlobal](false)). [Telemetry.Shutdown] flushes buffered spans; call it
// before exit.
//
// # Exporters
//
// This package depends on the OpenTelemetry API and SDK only. The
// exporters live in the module github.com/keiyaku/keiyaku/runtime/telemetry/export,
// as OpenTelemetry keeps its own apart, because the OTLP exporter brings
// gRPC, grpc-gateway and protobuf and the Prometheus one client_golang:
// export.Setup is Setup with spans sent over OTLP/HTTP to the configured
// endpoint and metrics served to Prometheus (on a registry of its own, with
// the Go runtime and process collectors). Setup alone, with a Config that
// names an endpoint, is an error that says so; without a metric reader,
// MetricsHandler answers 404.
//
// On top of it:
//
//   - [Handler] wraps an [http.Handler] in otelhttp: a server span per
//     request, continuing the caller's trace, plus the http.server.* metrics;
//   - [Transport] wraps an [http.RoundTripper] in otelhttp: a client span per
//     request, its traceparent sent along, plus the http.client.* metrics;
//   - [NewLogHandler] adds trace_id and span_id to every [log/slog] record
//     logged with a context that carries a span; [NewLogger] is a JSON logger
//     with it.
//
// [Telemetry.Handler] and [Telemetry.Transport] do the same with one
// Telemetry's providers instead of the globals.
//
// # Environment variables
//
// Libraries never read the environment: main calls
// ConfigFromEnv(os.Getenv) and passes the result to Setup. Setup rejects a
// malformed value with an error that names the variable.
//
//	| variable                           | default               | meaning                                                          |
//	|------------------------------------|-----------------------|------------------------------------------------------------------|
//	| OTEL_SERVICE_NAME                  | unknown_service:<exe> | service.name; wins over one in OTEL_RESOURCE_ATTRIBUTES          |
//	| OTEL_RESOURCE_ATTRIBUTES           | (none)                | key=value,key=value; values percent-encoded                      |
//	| OTEL_EXPORTER_OTLP_ENDPOINT        | (none: no export)     | OTLP/HTTP base URL, e.g. http://collector:4318; + /v1/traces     |
//	| OTEL_EXPORTER_OTLP_TRACES_ENDPOINT | (none)                | full OTLP/HTTP traces URL, used as is; wins over the one above   |
//	| OTEL_TRACES_SAMPLER                | parentbased_always_on | always_on, always_off, traceidratio, parentbased_always_on,      |
//	|                                    |                       | parentbased_always_off, parentbased_traceidratio                 |
//	| OTEL_TRACES_SAMPLER_ARG            | 1                     | probability 0..1 for the traceidratio samplers only              |
//	| OTEL_PROPAGATORS                   | tracecontext,baggage  | comma-separated: tracecontext, baggage; or none                  |
//
// The OpenTelemetry SDK underneath still reads a few variables of its own
// that Config does not carry, such as OTEL_EXPORTER_OTLP_HEADERS,
// OTEL_EXPORTER_OTLP_TIMEOUT and OTEL_BSP_*; the values of Config always
// win over the SDK's own reading of the variables above.
//
// # Trace context
//
// Incoming traceparent headers are judged by the W3C Trace Context rules: a
// malformed version (ff, non-hex, not two characters), a version 00 header
// with extra fields, ids or flags of the wrong length, non-lowercase-hex or
// all-zero ids, or more than one traceparent header make the server start a
// new trace, with no remote parent; a valid header, including one with
// surrounding whitespace (removed by HTTP) or of a later version with extra
// fields, continues the caller's trace. Several tracestate headers are
// combined; an invalid tracestate (more than 32 members, a malformed
// member) is dropped without breaking the trace. Two of these rules, more
// than one traceparent and several tracestate headers, are added here on
// top of OpenTelemetry's propagator, which reads only the first header.
//
// # Use
//
//	func main() {
//		ctx := context.Background()
//		logger := telemetry.NewLogger(os.Stderr, slog.LevelInfo)
//		cfg := telemetry.ConfigFromEnv(os.Getenv)
//		tel, err := export.Setup(ctx, cfg, logger, telemetry.WithLogger(logger))
//		if err != nil {
//			logger.Error("telemetry", "err", err)
//			os.Exit(1)
//		}
//		defer tel.Shutdown(context.WithoutCancel(ctx))
//
//		client := &http.Client{Transport: telemetry.Transport(nil)}
//		mux := http.NewServeMux()
//		mux.Handle("GET /metrics", tel.MetricsHandler())
//		mux.HandleFunc("GET /members/{id}", func(w http.ResponseWriter, r *http.Request) {
//			logger.InfoContext(r.Context(), "get member") // carries trace_id and span_id
//			// client.Do(req.WithContext(r.Context())) continues the same trace
//		})
//		_ = http.ListenAndServe(":8080", telemetry.Handler(mux, "member"))
//	}
//
// Kafka records carry the same traceparent in their headers; that is the
// job of package runtime/events, which uses the propagator installed here.
package telemetry
