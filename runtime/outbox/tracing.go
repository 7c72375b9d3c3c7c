package outbox

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/keiyaku/keiyaku/runtime/events"
)

// sendTracing is how the relay traces what it sends: one producer span per
// record, "send <topic>", whose parent is the trace context stored with
// the record when it was added to the outbox (its traceparent header,
// written by events.NewRecord in the request that made the state change).
// So the send joins the request's trace, however much later it happens.
type sendTracing struct {
	tp   trace.TracerProvider // nil: otel.GetTracerProvider()
	prop propagation.TextMapPropagator
}

// WithTracerProvider sets where the relay's send spans go, overriding the
// default of otel.GetTracerProvider(). Each record sent gets a producer
// span "send <topic>" in the trace of the request that added it (the
// record's traceparent header), ended when the broker acknowledged it or
// the send failed.
func WithTracerProvider(tp trace.TracerProvider) RelayOption {
	return func(c *relayConfig) {
		if tp == nil {
			c.errs = append(c.errs, errors.New("nil tracer provider"))
			return
		}
		c.tracing.tp = tp
	}
}

// WithPropagator sets how the relay reads the trace context of a record
// from its headers, overriding the default of
// otel.GetTextMapPropagator().
func WithPropagator(p propagation.TextMapPropagator) RelayOption {
	return func(c *relayConfig) {
		if p == nil {
			c.errs = append(c.errs, errors.New("nil propagator"))
			return
		}
		c.tracing.prop = p
	}
}

// wrap returns send with a send span around each record (see sendTracing).
func (st sendTracing) wrap(send func(ctx context.Context, recs ...*kgo.Record) error) func(ctx context.Context, recs ...*kgo.Record) error {
	tp, prop := st.tp, st.prop
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if prop == nil {
		prop = otel.GetTextMapPropagator()
	}
	tracer := tp.Tracer(instrumentation)
	return func(ctx context.Context, recs ...*kgo.Record) error {
		spans := make([]trace.Span, len(recs))
		for i, rec := range recs {
			headers := events.HeaderCarrier(rec)
			parent := prop.Extract(ctx, headers)
			_, spans[i] = tracer.Start(parent, "send "+rec.Topic,
				trace.WithSpanKind(trace.SpanKindProducer),
				trace.WithAttributes(
					attribute.String("messaging.system", "kafka"),
					attribute.String("messaging.operation.type", "send"),
					attribute.String("messaging.destination.name", rec.Topic),
					attribute.String("messaging.message.id", headers.Get(events.HeaderID)),
				))
		}
		err := send(ctx, recs...)
		for _, s := range spans {
			if err != nil {
				s.RecordError(err)
				s.SetStatus(codes.Error, "send failed")
			}
			s.End()
		}
		return err
	}
}
