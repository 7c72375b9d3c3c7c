package telemetry_test

import (
	"testing"

	"github.com/keiyaku/keiyaku/runtime/telemetry"
)

// TestConfigFromEnv pins the variable each Config field is read from, and
// that a nil getenv is the zero Config rather than a panic.
func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"OTEL_SERVICE_NAME":                  "member",
		"OTEL_RESOURCE_ATTRIBUTES":           "deployment.environment=prod",
		"OTEL_EXPORTER_OTLP_ENDPOINT":        "http://collector:4318",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/traces",
		"OTEL_TRACES_SAMPLER":                "traceidratio",
		"OTEL_TRACES_SAMPLER_ARG":            "0.5",
		"OTEL_PROPAGATORS":                   "tracecontext",
		"OTEL_UNRELATED":                     "x",
	}
	got := telemetry.ConfigFromEnv(func(k string) string { return env[k] })
	want := telemetry.Config{
		ServiceName:        "member",
		ResourceAttributes: "deployment.environment=prod",
		Endpoint:           "http://collector:4318",
		TracesEndpoint:     "http://collector:4318/traces",
		Sampler:            "traceidratio",
		SamplerArg:         "0.5",
		Propagators:        "tracecontext",
	}
	if got != want {
		t.Errorf("ConfigFromEnv = %+v\nwant %+v", got, want)
	}
	if got := telemetry.ConfigFromEnv(nil); got != (telemetry.Config{}) {
		t.Errorf("ConfigFromEnv(nil) = %+v, want the zero Config", got)
	}
}

// TestConfigPropagatorInvalid pins that a malformed OTEL_PROPAGATORS is
// refused with an error naming the variable, instead of being replaced by
// a default as the OpenTelemetry SDK does.
func TestConfigPropagatorInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ list, want string }{
		{"tracecontext,b3", `OTEL_PROPAGATORS: unsupported propagator "b3" (want tracecontext, baggage or none)`},
		{"none,baggage", `OTEL_PROPAGATORS: none cannot be combined with other propagators in "none,baggage"`},
		{" , ", `OTEL_PROPAGATORS: " , " names no propagator`},
	} {
		p, err := telemetry.Config{Propagators: tc.list}.Propagator()
		if err == nil || err.Error() != tc.want {
			t.Errorf("Propagator(%q) = %v, %v; want error %q", tc.list, p, err, tc.want)
		}
	}
}
