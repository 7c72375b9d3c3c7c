package telemetry

// The standard OpenTelemetry environment variables that [ConfigFromEnv]
// reads. Each names the [Config] field of the same meaning.
const (
	EnvServiceName        = "OTEL_SERVICE_NAME"
	EnvResourceAttributes = "OTEL_RESOURCE_ATTRIBUTES"
	EnvEndpoint           = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint     = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvSampler            = "OTEL_TRACES_SAMPLER"
	EnvSamplerArg         = "OTEL_TRACES_SAMPLER_ARG"
	EnvPropagators        = "OTEL_PROPAGATORS"
)

// Default values for empty [Config] fields.
const (
	DefaultSampler     = "parentbased_always_on"
	DefaultPropagators = "tracecontext,baggage"
)

// Config holds the telemetry settings, in the textual form of the standard
// OpenTelemetry environment variables. The zero Config is valid: it names the
// service after the executable, exports no spans, samples with
// parentbased_always_on and propagates W3C trace context and baggage.
//
// Config is plain data. The OpenTelemetry SDK's setup,
// github.com/keiyaku/keiyaku/runtime/telemetry/export.Setup, validates it
// and reports every malformed value as an error naming the variable;
// [Config.Propagator] checks Propagators alone.
type Config struct {
	// ServiceName is the service.name resource attribute
	// (OTEL_SERVICE_NAME). It wins over a service.name given in
	// ResourceAttributes. Default: "unknown_service:" followed by the
	// executable's name.
	ServiceName string
	// ResourceAttributes is a comma-separated list of key=value pairs added
	// to the resource of every span and metric, values percent-encoded
	// (OTEL_RESOURCE_ATTRIBUTES), e.g. "deployment.environment=prod".
	ResourceAttributes string
	// Endpoint is the base URL of an OTLP/HTTP collector
	// (OTEL_EXPORTER_OTLP_ENDPOINT), e.g. "http://collector:4318"; spans
	// are sent to its path followed by "/v1/traces". Empty, and
	// TracesEndpoint empty too, means spans are created but not exported.
	Endpoint string
	// TracesEndpoint is the full URL spans are sent to
	// (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), used as it is. It wins over
	// Endpoint.
	TracesEndpoint string
	// Sampler is the name of the trace sampler (OTEL_TRACES_SAMPLER):
	// always_on, always_off, traceidratio, parentbased_always_on,
	// parentbased_always_off or parentbased_traceidratio. Default
	// parentbased_always_on.
	Sampler string
	// SamplerArg is the sampling probability, from 0 to 1, of the
	// traceidratio samplers (OTEL_TRACES_SAMPLER_ARG). Default 1. It must
	// be empty for the other samplers.
	SamplerArg string
	// Propagators is a comma-separated list of the propagators used on
	// incoming and outgoing requests (OTEL_PROPAGATORS): tracecontext,
	// baggage, or none alone. Default "tracecontext,baggage".
	Propagators string
}

// ConfigFromEnv returns the Config described by the standard OpenTelemetry
// environment variables, looked up with getenv. A program's main calls it
// with [os.Getenv]; libraries never read the environment themselves. A nil
// getenv yields the zero Config. ConfigFromEnv does not validate:
// export.Setup does.
func ConfigFromEnv(getenv func(string) string) Config {
	if getenv == nil {
		return Config{}
	}
	return Config{
		ServiceName:        getenv(EnvServiceName),
		ResourceAttributes: getenv(EnvResourceAttributes),
		Endpoint:           getenv(EnvEndpoint),
		TracesEndpoint:     getenv(EnvTracesEndpoint),
		Sampler:            getenv(EnvSampler),
		SamplerArg:         getenv(EnvSamplerArg),
		Propagators:        getenv(EnvPropagators),
	}
}
