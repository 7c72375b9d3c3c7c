package export

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/keiyaku/keiyaku/runtime/telemetry"
)

// settings is a validated Config.
type settings struct {
	attrs      []attribute.KeyValue // resource attributes, service.name included
	tracesURL  string               // empty: no exporter
	sampler    sdktrace.Sampler
	propagator propagation.TextMapPropagator
}

// parse validates c and turns it into settings.
func parse(c telemetry.Config) (settings, error) {
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
	if s.propagator, err = c.Propagator(); err != nil {
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
			return nil, fmt.Errorf("%s: %q is not key=value", telemetry.EnvResourceAttributes, member)
		}
		decoded, err := url.PathUnescape(value)
		if err != nil {
			return nil, fmt.Errorf("%s: value of %q: %w", telemetry.EnvResourceAttributes, key, err)
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
		u, err := endpointURL(telemetry.EnvTracesEndpoint, raw)
		if err != nil {
			return "", err
		}
		return u.String(), nil
	}
	raw := strings.TrimSpace(endpoint)
	if raw == "" {
		return "", nil
	}
	u, err := endpointURL(telemetry.EnvEndpoint, raw)
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
		name = telemetry.DefaultSampler
	}
	ratio := func() (sdktrace.Sampler, error) {
		if arg == "" {
			return sdktrace.TraceIDRatioBased(1), nil
		}
		f, err := strconv.ParseFloat(arg, 64)
		if err != nil || !(f >= 0 && f <= 1) { // written so that NaN fails too
			return nil, fmt.Errorf("%s: %q is not a probability from 0 to 1", telemetry.EnvSamplerArg, arg)
		}
		return sdktrace.TraceIDRatioBased(f), nil
	}
	noArg := func(s sdktrace.Sampler) (sdktrace.Sampler, error) {
		if arg != "" {
			return nil, fmt.Errorf("%s: %q given, but sampler %s takes no argument", telemetry.EnvSamplerArg, arg, name)
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
			"parentbased_always_on, parentbased_always_off or parentbased_traceidratio)", telemetry.EnvSampler, name)
	}
}
