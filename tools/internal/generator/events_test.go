package generator_test

import (
	"context"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	notificationv1 "github.com/keiyaku/keiyaku/gen/notification/v1"
	reservationv1 "github.com/keiyaku/keiyaku/gen/reservation/v1"
	roomv1 "github.com/keiyaku/keiyaku/gen/room/v1"
	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/codec"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
)

// roomHandler records what the generated room consumer hands it.
type roomHandler struct {
	mu        sync.Mutex
	created   []*roomv1.ReservationCreated
	cancelled []*roomv1.ReservationCancelled
	envs      []events.Envelope
	traces    []string
	done      chan struct{}
}

func (h *roomHandler) OnReservationCreated(ctx context.Context, env events.Envelope, evt *roomv1.ReservationCreated) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.created = append(h.created, evt)
	h.record(ctx, env)
	return nil
}

func (h *roomHandler) OnReservationCancelled(ctx context.Context, env events.Envelope, evt *roomv1.ReservationCancelled) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cancelled = append(h.cancelled, evt)
	h.record(ctx, env)
	return nil
}

func (h *roomHandler) record(ctx context.Context, env events.Envelope) {
	h.envs = append(h.envs, env)
	h.traces = append(h.traces, traceID(ctx))
	if len(h.envs) == 2 {
		close(h.done)
	}
}

// TestGeneratedEventsRoundTrip pins the generated event code end to end on
// a Kafka-protocol broker over TCP (kfake): reservation's generated
// Publisher sends both events, room's generated consumer (its own reader
// types) receives them typed, with the CloudEvents headers intact, the
// record key = the reservation id, and the consumer's span in the
// producer's trace.
func TestGeneratedEventsRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	var topics []embedded.Topic
	for name, n := range reservationv1.TopicPartitions {
		topics = append(topics, embedded.Topic{Name: name, Partitions: n})
	}
	broker, err := embedded.Start(ctx, embedded.WithTopics(topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Close)

	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	prop := propagation.TraceContext{}
	store := codec.NewMemoryStore()
	c, err := codec.NewSingleObject(store)
	if err != nil {
		t.Fatal(err)
	}

	pc, err := kgo.NewClient(append(events.ProducerClientOptions(), kgo.SeedBrokers(broker.Addrs()...))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pc.Close)
	producer, err := events.NewProducer(pc, c, "/services/reservation", events.WithTracerProvider(tp), events.WithPropagator(prop))
	if err != nil {
		t.Fatal(err)
	}
	pub := reservationv1.NewPublisher(producer)

	cc, err := kgo.NewClient(append(events.ConsumerClientOptions(roomv1.ConsumerGroup, roomv1.ReceivedTopics...), kgo.SeedBrokers(broker.Addrs()...))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Close)
	consumer, err := events.NewConsumer(cc, c, events.WithTracerProvider(tp), events.WithPropagator(prop))
	if err != nil {
		t.Fatal(err)
	}
	h := &roomHandler{done: make(chan struct{})}
	roomv1.RegisterEventHandler(consumer, h)
	runCtx, stop := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- consumer.Run(runCtx) }()

	id := "9c8b7a6d-5e4f-4321-8fed-cba987654321"
	day := time.Date(2026, 12, 24, 0, 0, 0, 0, time.UTC)
	created := &reservationv1.ReservationCreated{
		ReservationID: id, MemberID: "11111111-2222-4333-8444-555555555555", RoomID: "66666666-7777-4888-8999-000000000000",
		CheckIn: day, CheckOut: day.AddDate(0, 0, 2), Guests: 2,
		TotalPrice: reservationv1.Money{Amount: big.NewRat(36000, 100), Currency: "JPY"},
		CreatedAt:  time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC),
	}
	spanCtx, span := tp.Tracer("test").Start(ctx, "create reservation")
	if err := pub.PublishReservationCreated(spanCtx, created); err != nil {
		t.Fatal(err)
	}
	reason := "plans changed"
	if err := pub.PublishReservationCancelled(spanCtx, &reservationv1.ReservationCancelled{
		ReservationID: id, MemberID: created.MemberID, RoomID: created.RoomID, CheckIn: created.CheckIn, CheckOut: created.CheckOut,
		Reason: &reason, CancelledAt: created.CreatedAt.Add(time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	span.End()
	want := span.SpanContext().TraceID().String()

	select {
	case <-h.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the consumer did not receive both events")
	}
	stop()
	if err := <-runDone; err != nil {
		t.Fatalf("consumer run: %v", err)
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	got := h.created[0]
	if got.ReservationID != id || got.Guests != 2 || !got.CheckIn.Equal(day) || got.TotalPrice.Amount.Cmp(big.NewRat(360, 1)) != 0 || got.TotalPrice.Currency != "JPY" {
		t.Errorf("received %+v, want the published reservation", got)
	}
	if r := h.cancelled[0].Reason; r == nil || *r != reason {
		t.Errorf("cancel reason = %v, want %q", r, reason)
	}
	for i, env := range h.envs {
		if string(env.Key) != id || env.Source != "/services/reservation" || env.ID == "" || env.Time.IsZero() || env.DataSchema == "" {
			t.Errorf("envelope %d = %+v, want key, source, id, time and dataschema", i, env)
		}
		if h.traces[i] != want {
			t.Errorf("event %d handled in trace %s, want the producer's %s", i, h.traces[i], want)
		}
	}
	if types := []string{h.envs[0].Type, h.envs[1].Type}; !slices.Equal(types, []string{"hotel.reservation.v1.ReservationCreated", "hotel.reservation.v1.ReservationCancelled"}) {
		t.Errorf("ce_type = %v, in order per key", types)
	}
	if h.envs[0].ID == h.envs[1].ID {
		t.Error("two events share a ce_id")
	}
	// The notification service's generated types read the same records.
	var _ notificationv1.EventHandler = (*notificationAdapter)(nil)
}

// notificationAdapter proves notification's generated interface compiles
// against its own reader types.
type notificationAdapter struct{}

func (notificationAdapter) OnReservationCreated(context.Context, events.Envelope, *notificationv1.ReservationCreated) error {
	return nil
}

func (notificationAdapter) OnReservationCancelled(context.Context, events.Envelope, *notificationv1.ReservationCancelled) error {
	return nil
}

func traceID(ctx context.Context) string {
	return trace.SpanContextFromContext(ctx).TraceID().String()
}
