package events_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
)

// handled is one handler call as a test saw it.
type handled struct {
	env   events.Envelope
	evt   OrderPlaced
	trace trace.SpanContext
}

// TestRoundTrip pins the wire contract end to end: every event published
// reaches the handler over a real Kafka connection with its data, all the
// CloudEvents headers (spec version, a unique UUIDv7 id, type, source, UTC
// time with milliseconds, content type, data schema), the record key, and
// the trace of the publishing request: the consumer span is a child of the
// producer span, which is a child of the caller's span.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	b := newBroker(t, embedded.Topic{Name: orderTopic, Partitions: 3})
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

	c := memoryCodec(t)
	p := newProducer(t, b, c, events.WithTracerProvider(tp), events.WithPropagator(prop))
	cons, err := events.NewConsumer(consumerClient(t, b, "roundtrip", orderTopic), c,
		events.WithTracerProvider(tp), events.WithPropagator(prop))
	if err != nil {
		t.Fatalf("NewConsumer: %v", err)
	}
	var mu sync.Mutex
	got := map[string]handled{} // by order id
	events.Handle(cons, orderType(orderTopic), func(ctx context.Context, env events.Envelope, evt *OrderPlaced) error {
		mu.Lock()
		defer mu.Unlock()
		got[evt.OrderID] = handled{env: env, evt: *evt, trace: trace.SpanContextFromContext(ctx)}
		return nil
	})
	stop := runConsumer(t, cons)

	const n = 30
	note := "leave at the door"
	before := time.Now().UTC().Truncate(time.Millisecond)
	ctx, parent := tp.Tracer("test").Start(t.Context(), "request")
	for i := range n {
		evt := &OrderPlaced{OrderID: fmt.Sprintf("order-%02d", i), Seq: int64(i), Amount: int64(100 * i)}
		if i%2 == 0 {
			evt.Note = &note
		}
		if err := events.Publish(ctx, p, orderType(orderTopic), evt); err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
	}
	parent.End()
	after := time.Now().UTC()
	waitUntil(t, "all events handled", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == n })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	spans := exp.GetSpans()
	byID := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range spans {
		byID[s.SpanContext.SpanID()] = s
	}
	wantSchema := fmt.Sprintf("urn:avro:fingerprint:%016x", orderSchemaV1.Fingerprint())
	ids := map[string]bool{}
	for i := range n {
		key := fmt.Sprintf("order-%02d", i)
		h, ok := got[key]
		if !ok {
			t.Errorf("event %s not handled", key)
			continue
		}
		if h.evt.Seq != int64(i) || h.evt.Amount != int64(100*i) || (i%2 == 0) != (h.evt.Note != nil) {
			t.Errorf("event %s decoded as %+v", key, h.evt)
		}
		env := h.env
		if string(env.Key) != key {
			t.Errorf("event %s: key %q", key, env.Key)
		}
		id, err := uuid.Parse(env.ID)
		if err != nil || id.Version() != 7 {
			t.Errorf("event %s: ce_id %q is not a UUIDv7 (%v)", key, env.ID, err)
		}
		if ids[env.ID] {
			t.Errorf("event %s: ce_id %s repeated", key, env.ID)
		}
		ids[env.ID] = true
		if env.Type != "keiyaku.test.v1.OrderPlaced" || env.Source != "/services/test" || env.DataSchema != wantSchema {
			t.Errorf("event %s: type %q source %q dataschema %q", key, env.Type, env.Source, env.DataSchema)
		}
		if env.Time.Before(before) || env.Time.After(after) || env.Time.Location() != time.UTC {
			t.Errorf("event %s: ce_time %v not in [%v, %v] UTC", key, env.Time, before, after)
		}
		if env.Topic != orderTopic || env.Attempt != 1 {
			t.Errorf("event %s: topic %q attempt %d", key, env.Topic, env.Attempt)
		}
		for k, want := range map[string]string{
			events.HeaderSpecVersion: "1.0",
			events.HeaderContentType: "application/avro",
			events.HeaderID:          env.ID,
		} {
			if v := header(t, env.Headers, k); v != want {
				t.Errorf("event %s: header %s = %q, want %q", key, k, v, want)
			}
		}
		ts := header(t, env.Headers, events.HeaderTime)
		if len(ts) != len("2006-01-02T15:04:05.000Z") || !strings.HasSuffix(ts, "Z") {
			t.Errorf("event %s: ce_time %q is not UTC RFC 3339 with milliseconds", key, ts)
		}
		tpHeader := header(t, env.Headers, "traceparent")
		if !strings.Contains(tpHeader, parent.SpanContext().TraceID().String()) {
			t.Errorf("event %s: traceparent %q lacks trace %s", key, tpHeader, parent.SpanContext().TraceID())
		}

		// The handler's span: same trace, consumer kind, child of the
		// producer's send span, itself a child of the request.
		if h.trace.TraceID() != parent.SpanContext().TraceID() {
			t.Errorf("event %s: handler trace %s, want %s", key, h.trace.TraceID(), parent.SpanContext().TraceID())
			continue
		}
		cs, ok := byID[h.trace.SpanID()]
		if !ok {
			t.Errorf("event %s: consumer span not exported", key)
			continue
		}
		ps, ok := byID[cs.Parent.SpanID()]
		if cs.SpanKind != trace.SpanKindConsumer || !ok || ps.SpanKind != trace.SpanKindProducer ||
			ps.Parent.SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("event %s: span chain request → send → process broken: consumer %+v", key, cs.Name)
		}
	}
}

// TestTypesRouteAndUnknownSkipped pins routing by ce_type: two event types
// on one topic reach their own handlers, and a type with no handler (an
// event added by a newer producer) is committed without a handler call
// instead of stopping the consumer.
func TestTypesRouteAndUnknownSkipped(t *testing.T) {
	t.Parallel()
	b := newBroker(t, embedded.Topic{Name: orderTopic, Partitions: 1})
	c := memoryCodec(t)
	p := newProducer(t, b, c)
	ctx := t.Context()
	type unknown struct {
		OrderID string `avro:"order_id"`
	}
	unknownType := events.Type[unknown]{
		Topic: orderTopic,
		Schema: mustSchema(t, `{"type":"record","name":"OrderRefunded","namespace":"keiyaku.test.v2",
			"fields":[{"name":"order_id","type":"string"}]}`),
		Key: func(u *unknown) string { return u.OrderID },
	}
	must(t, events.Publish(ctx, p, orderType(orderTopic), &OrderPlaced{OrderID: "a"}))
	must(t, events.Publish(ctx, p, unknownType, &unknown{OrderID: "a"}))
	must(t, events.Publish(ctx, p, shippedType(orderTopic), &OrderShipped{OrderID: "a"}))

	cons, err := events.NewConsumer(consumerClient(t, b, "route", orderTopic), c)
	must(t, err)
	var mu sync.Mutex
	var seen []string
	events.Handle(cons, orderType(orderTopic), func(_ context.Context, env events.Envelope, _ *OrderPlaced) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, env.Type)
		return nil
	})
	events.Handle(cons, shippedType(orderTopic), func(_ context.Context, env events.Envelope, _ *OrderShipped) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, env.Type)
		return nil
	})
	stop := runConsumer(t, cons)
	waitUntil(t, "committed past all three", func() bool { return committed(t, b, "route", orderTopic)[0] == 3 })
	must(t, stop())
	want := []string{"keiyaku.test.v1.OrderPlaced", "keiyaku.test.v1.OrderShipped"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("handlers saw %v, want %v", seen, want)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestGlobalTracerUnsetThenSet pins the consumer with the default tracer,
// OpenTelemetry's global one: while no SDK is installed it starts no span
// of its own, and the handler's context carries the producer's span
// context (same trace, the send span as remote parent), so what the
// handler calls stays in the trace; once an SDK is installed with
// otel.SetTracerProvider, the consumer spans are recorded, children of the
// send spans. It sets the global provider, so it does not run in
// parallel.
func TestGlobalTracerUnsetThenSet(t *testing.T) {
	if _, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider); ok {
		t.Skip("an earlier run of this test (-count) installed an SDK as the global tracer provider")
	}
	b := newBroker(t, embedded.Topic{Name: orderTopic, Partitions: 2})
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	prop := propagation.TraceContext{}
	c := memoryCodec(t)
	p := newProducer(t, b, c, events.WithTracerProvider(tp), events.WithPropagator(prop))
	cons, err := events.NewConsumer(consumerClient(t, b, "global-tracer", orderTopic), c, events.WithPropagator(prop))
	if err != nil {
		t.Fatalf("NewConsumer: %v", err)
	}
	var mu sync.Mutex
	got := map[string]trace.SpanContext{} // by order id
	events.Handle(cons, orderType(orderTopic), func(ctx context.Context, _ events.Envelope, evt *OrderPlaced) error {
		mu.Lock()
		defer mu.Unlock()
		got[evt.OrderID] = trace.SpanContextFromContext(ctx)
		return nil
	})
	stop := runConsumer(t, cons)
	publish := func(prefix string, n int) map[string]trace.SpanContext {
		sent := map[string]trace.SpanContext{} // the send span of each
		for i := range n {
			id := fmt.Sprintf("%s-%02d", prefix, i)
			ctx, span := tp.Tracer("test").Start(t.Context(), "request")
			if err := events.Publish(ctx, p, orderType(orderTopic), &OrderPlaced{OrderID: id}); err != nil {
				t.Fatalf("Publish %s: %v", id, err)
			}
			span.End()
			for _, s := range exp.GetSpans() { // the consumer's too, once the SDK is set
				if s.Name == "send "+orderTopic && s.SpanContext.TraceID() == span.SpanContext().TraceID() {
					sent[id] = s.SpanContext
				}
			}
		}
		waitUntil(t, prefix+" events handled", func() bool {
			mu.Lock()
			defer mu.Unlock()
			for id := range sent {
				if _, ok := got[id]; !ok {
					return false
				}
			}
			return true
		})
		return sent
	}

	for id, send := range publish("unset", 10) {
		if h := got[id]; h.TraceID() != send.TraceID() || h.SpanID() != send.SpanID() || !h.IsRemote() {
			t.Errorf("no SDK: handler of %s sees span %v, want the send span %v as remote parent", id, h, send)
		}
	}

	otel.SetTracerProvider(tp)
	exp.Reset()
	sent := publish("set", 10)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	byID := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		byID[s.SpanContext.SpanID()] = s
	}
	for id, send := range sent {
		h := got[id]
		cs, ok := byID[h.SpanID()]
		if !ok || h.TraceID() != send.TraceID() || cs.SpanKind != trace.SpanKindConsumer || cs.Parent.SpanID() != send.SpanID() {
			t.Errorf("SDK set: handler of %s sees span %v, want a recorded consumer span, child of %v", id, h, send)
		}
	}
}
