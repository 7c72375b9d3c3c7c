package telemetry

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/propagation"
)

// w3cTraceContext is [propagation.TraceContext] with the two rules of the
// W3C Trace Context processing model that it leaves out when the carrier
// holds several values for one key (HTTP headers do):
//
//   - more than one traceparent field makes the traceparent invalid, so the
//     receiver starts a new trace (the W3C test suite's
//     test_traceparent_duplicated); TraceContext reads only the first;
//   - several tracestate fields are combined into one list, in order, as
//     RFC 9110 §5.3 combines field lines; TraceContext reads only the first.
//
// Everything else, including injection, is TraceContext's.
type w3cTraceContext struct {
	propagation.TraceContext
}

// Extract returns ctx with the remote span context of carrier, or ctx
// unchanged when carrier holds no valid traceparent.
func (p w3cTraceContext) Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	if many, ok := carrier.(propagation.ValuesGetter); ok {
		if len(many.Values("traceparent")) > 1 {
			return ctx
		}
		if states := many.Values("tracestate"); len(states) > 1 {
			carrier = joinedTraceState{TextMapCarrier: carrier, state: strings.Join(states, ",")}
		}
	}
	return p.TraceContext.Extract(ctx, carrier)
}

// joinedTraceState answers Get("tracestate") with the combined list.
type joinedTraceState struct {
	propagation.TextMapCarrier
	state string
}

func (c joinedTraceState) Get(key string) string {
	if strings.EqualFold(key, "tracestate") {
		return c.state
	}
	return c.TextMapCarrier.Get(key)
}

// Propagator returns the propagator that c.Propagators names
// (OTEL_PROPAGATORS, default tracecontext,baggage): tracecontext is W3C
// Trace Context, with the two rules for repeated headers described in the
// package documentation, and baggage is W3C Baggage; none alone propagates
// nothing. An unknown name, none combined with another, or a list naming
// nothing is an error naming the variable.
func (c Config) Propagator() (propagation.TextMapPropagator, error) {
	list := c.Propagators
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
