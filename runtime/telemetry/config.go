package telemetry

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

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

// Default values used by [Setup] for empty [Config] fields.
const (
	DefaultSampler     = "parentbased_always_on"
	DefaultPropagators = "tracecontext,baggage"
)

// Config holds the telemetry settings, in the textual form of the standard
// OpenTelemetry environment variables. The zero Config is valid: it names the
// service after the executable, exports no spans, samples with
// parentbased_always_on and propagates W3C trace context and baggage.
//
// Config is plain data; [Setup] validates it and reports every malformed
// value as an error naming the variable.
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
// getenv yields the zero Config. ConfigFromEnv does not validate: [Setup]
// does.
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

// settings is a validated Config.
type settings struct {
	attrs      []attribute.KeyValue // resource attributes, service.name included
	tracesURL  string               // empty: no exporter
	sampler    sdktrace.Sampler
	propagator propagation.TextMapPropagator
}

// parse validates c and turns it into settings.
func (c Config) parse() (settings, error) {
	var s settings
	var err error
	if s.attrs, err = resourceAttributes(c.ServiceName, c.ResourceAttributes); err != nil {
		return settings{}, err
	}
	if s.tracesURL, err = tracesURL(c.Endpoint, c.TracesEndpoint); err != nil {
		return settings{}, err
	}
	if s.sampler, err = sampler(c.Sampler, c.SamplerArg); err != nil {
		return settings{}, err
	}
	if s.propagator, err = propagators(c.Propagators); err != nil {
		return settings{}, err
	}
	return s, nil
}

// resourceAttributes parses OTEL_RESOURCE_ATTRIBUTES and puts service.name
// last, so that it wins.
func resourceAttributes(serviceName, list string) ([]attribute.KeyValue, error) {
	var attrs []attribute.KeyValue
	fromList := ""
	for member := range strings.SplitSeq(list, ",") {
		member = strings.TrimSpace(member)
		if member == "" {
			continue
		}
		key, value, ok := strings.Cut(member, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok || key == "" {
			return nil, fmt.Errorf("%s: %q is not key=value", EnvResourceAttributes, member)
		}
		decoded, err := url.PathUnescape(value)
		if err != nil {
			return nil, fmt.Errorf("%s: value of %q: %w", EnvResourceAttributes, key, err)
		}
		if key == "service.name" {
			fromList = decoded
			continue
		}
		attrs = append(attrs, attribute.String(key, decoded))
	}
	name := strings.TrimSpace(serviceName)
	if name == "" {
		name = fromList
	}
	if name == "" {
		name = "unknown_service:" + executableName()
	}
	return append(attrs, attribute.String("service.name", name)), nil
}

// executableName is the base name of the running program, as the
// OpenTelemetry specification asks for the default service name.
func executableName() string {
	if exe, err := os.Executable(); err == nil {
		return filepath.Base(exe)
	}
	if len(os.Args) > 0 && os.Args[0] != "" {
		return filepath.Base(os.Args[0])
	}
	return "go"
}

// tracesURL returns the URL spans are posted to, or "" for none.
func tracesURL(endpoint, tracesEndpoint string) (string, error) {
	if raw := strings.TrimSpace(tracesEndpoint); raw != "" {
		u, err := endpointURL(EnvTracesEndpoint, raw)
		if err != nil {
			return "", err
		}
		return u.String(), nil
	}
	raw := strings.TrimSpace(endpoint)
	if raw == "" {
		return "", nil
	}
	u, err := endpointURL(EnvEndpoint, raw)
	if err != nil {
		return "", err
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
	u.RawPath = ""
	return u.String(), nil
}

// endpointURL parses an OTLP/HTTP endpoint: an absolute http or https URL
// with a host, no query and no fragment.
func endpointURL(env, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", env, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%s: %q is not an http or https URL", env, raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%s: %q has no host", env, raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("%s: %q must not have a query, fragment or user", env, raw)
	}
	return u, nil
}

// sampler builds the sampler named by OTEL_TRACES_SAMPLER.
func sampler(name, arg string) (sdktrace.Sampler, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	arg = strings.TrimSpace(arg)
	if name == "" {
		name = DefaultSampler
	}
	ratio := func() (sdktrace.Sampler, error) {
		if arg == "" {
			return sdktrace.TraceIDRatioBased(1), nil
		}
		f, err := strconv.ParseFloat(arg, 64)
		if err != nil || !(f >= 0 && f <= 1) { // written so that NaN fails too
			return nil, fmt.Errorf("%s: %q is not a probability from 0 to 1", EnvSamplerArg, arg)
		}
		return sdktrace.TraceIDRatioBased(f), nil
	}
	noArg := func(s sdktrace.Sampler) (sdktrace.Sampler, error) {
		if arg != "" {
			return nil, fmt.Errorf("%s: %q given, but sampler %s takes no argument", EnvSamplerArg, arg, name)
		}
		return s, nil
	}
	switch name {
	case "always_on":
		return noArg(sdktrace.AlwaysSample())
	case "always_off":
		return noArg(sdktrace.NeverSample())
	case "traceidratio":
		return ratio()
	case "parentbased_always_on":
		return noArg(sdktrace.ParentBased(sdktrace.AlwaysSample()))
	case "parentbased_always_off":
		return noArg(sdktrace.ParentBased(sdktrace.NeverSample()))
	case "parentbased_traceidratio":
		root, err := ratio()
		if err != nil {
			return nil, err
		}
		return sdktrace.ParentBased(root), nil
	default:
		return nil, fmt.Errorf("%s: unknown sampler %q (want always_on, always_off, traceidratio, "+
			"parentbased_always_on, parentbased_always_off or parentbased_traceidratio)", EnvSampler, name)
	}
}

// propagators builds the composite propagator named by OTEL_PROPAGATORS.
func propagators(list string) (propagation.TextMapPropagator, error) {
	if strings.TrimSpace(list) == "" {
		list = DefaultPropagators
	}
	var (
		names []string
		ps    []propagation.TextMapPropagator
		none  bool
	)
	for name := range strings.SplitSeq(list, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		if slices.Contains(names, name) {
			continue
		}
		names = append(names, name)
		switch name {
		case "tracecontext":
			ps = append(ps, w3cTraceContext{})
		case "baggage":
			ps = append(ps, propagation.Baggage{})
		case "none":
			none = true
		default:
			return nil, fmt.Errorf("%s: unsupported propagator %q (want tracecontext, baggage or none)", EnvPropagators, name)
		}
	}
	switch {
	case len(names) == 0:
		return nil, fmt.Errorf("%s: %q names no propagator", EnvPropagators, list)
	case none && len(names) > 1:
		return nil, fmt.Errorf("%s: none cannot be combined with other propagators in %q", EnvPropagators, list)
	}
	return propagation.NewCompositeTextMapPropagator(ps...), nil
}
