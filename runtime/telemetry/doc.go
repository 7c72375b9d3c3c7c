// Package telemetry gives a Keiyaku service one trace id across every HTTP
// call, Kafka record and log line, on the OpenTelemetry API.
//
// It depends on the OpenTelemetry API only (otel, trace, metric,
// propagation, and otelhttp), so it is part of the runtime module and adds
// nothing to a service's module graph. The SDK's setup — the resource, the
// tracer and meter providers with their sampler, the OTLP/HTTP span
// exporter and the Prometheus scrape endpoint — is in the module
// github.com/keiyaku/keiyaku/runtime/telemetry/export, as OpenTelemetry
// keeps its SDK and exporters apart from its API: export.Setup builds them
// from a [Config] and installs them as OpenTelemetry's globals, which the
// package-level functions here use. runtime/app, which assembles the
// reference services, calls it.
//
// This package holds:
//
//   - [Handler], which wraps an [http.Handler] in otelhttp: a server span
//     per request, continuing the caller's trace, plus the http.server.*
//     metrics;
//   - [Transport], which wraps an [http.RoundTripper] in otelhttp: a client
//     span per request, its traceparent sent along, plus the http.client.*
//     metrics;
//   - [Providers], whose Handler and Transport methods do the same with
//     given providers instead of the globals;
//   - [NewLogHandler], which adds trace_id and span_id to every [log/slog]
//     record logged with a context that carries a span; [NewLogger] is a
//     JSON logger with it;
//   - [Config], the settings of the standard OTEL_* environment variables,
//     read by [ConfigFromEnv], and [Config.Propagator], the propagator they
//     name.
//
// # Environment variables
//
// Libraries never read the environment: main calls
// ConfigFromEnv(os.Getenv) and passes the result to export.Setup, which
// rejects a malformed value with an error that names the variable.
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
//		tel, err := export.Setup(ctx, telemetry.ConfigFromEnv(os.Getenv), export.WithLogger(logger))
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
// job of package runtime/events, which takes the propagator as an option.
package telemetry
