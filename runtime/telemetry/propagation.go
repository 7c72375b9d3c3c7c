package telemetry

import (
	"context"
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
