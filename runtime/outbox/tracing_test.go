package outbox_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/keiyaku/keiyaku/runtime/outbox"
	"github.com/keiyaku/keiyaku/runtime/sqldb/sqldbtest"
)

// TestSendSpanJoinsRequestTrace pins that the relay's send span of a record
// is a child of the span of the request that added the record — read from
// the traceparent stored with the row — so that the send is in the
// request's trace however much later the relay sends it. Before, the relay
// made no send span in any trace.
func TestSendSpanJoinsRequestTrace(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := sqldbtest.SQLite().Open(t)
	store, err := outbox.NewStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	prop := propagation.TraceContext{}

	// The request: a span, and a record carrying its traceparent.
	reqCtx, reqSpan := tp.Tracer("test").Start(ctx, "POST /reservations")
	rec := &kgo.Record{Topic: "hotel.events", Key: []byte("r-1"), Value: []byte("v"),
		Headers: []kgo.RecordHeader{{Key: "ce_id", Value: []byte("evt-1")}}}
	carrier := propagation.MapCarrier{}
	prop.Inject(reqCtx, carrier)
	for k, v := range carrier {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	if err := db.InTx(reqCtx, func(ctx context.Context, tx *sql.Tx) error { return store.Add(ctx, tx, rec) }); err != nil {
		t.Fatal(err)
	}
	reqSpan.End()

	sent := make(chan trace.SpanContext, 1)
	relay, err := outbox.NewRelay(store, func(ctx context.Context, recs ...*kgo.Record) error {
		select {
		case sent <- trace.SpanContextFromContext(ctx):
		default:
		}
		return nil
	}, outbox.WithTracerProvider(tp), outbox.WithPropagator(prop), outbox.WithPollInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- relay.Run(rctx) }()
	<-sent
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("relay: %v", err)
	}

	var found bool
	for _, s := range spans.Ended() {
		if s.Name() != "send hotel.events" {
			continue
		}
		found = true
		if s.SpanKind() != trace.SpanKindProducer {
			t.Errorf("send span kind %v, want producer", s.SpanKind())
		}
		if s.Parent().TraceID() != reqSpan.SpanContext().TraceID() || s.Parent().SpanID() != reqSpan.SpanContext().SpanID() {
			t.Errorf("send span parent %v/%v, want the request span %v/%v",
				s.Parent().TraceID(), s.Parent().SpanID(), reqSpan.SpanContext().TraceID(), reqSpan.SpanContext().SpanID())
		}
	}
	if !found {
		t.Fatal("no send span")
	}
}
