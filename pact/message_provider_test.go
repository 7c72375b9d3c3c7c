//go:build pact

package pact

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pact-foundation/pact-go/v2/message"
	"github.com/pact-foundation/pact-go/v2/models"
	"github.com/pact-foundation/pact-go/v2/provider"
	"github.com/twmb/franz-go/pkg/kgo"

	reservationv1 "github.com/keiyaku/keiyaku/gen/reservation/v1"
	"github.com/keiyaku/keiyaku/runtime/events/codec"
	"github.com/keiyaku/keiyaku/services/demo/stack"
)

// reservationEvents holds the events of the message pacts as the
// reservation service itself makes them: the reference system runs
// (services/demo/stack: the four services on the embedded broker), a
// reservation is booked and cancelled through the reservation API, and the
// two records its outbox relay published are read back from the topic.
// Each record's value is decoded with the reservation schema and rendered
// as its JSON view, with ce_type as metadata. No event is built by hand.
type reservationEvents struct {
	decoder *codec.SingleObject
	records map[string]*kgo.Record // by ce_type
}

func newReservationEvents(t *testing.T) *reservationEvents {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	sys, err := stack.Start(ctx, t.TempDir())
	if err != nil {
		t.Fatalf("start the reference system: %v", err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := sys.Close(cctx); err != nil {
			t.Errorf("stop the reference system: %v", err)
		}
	})
	client, err := sys.Client(&http.Client{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	booked, err := client.Book(ctx, "pact-message-provider", stack.Booking{
		Member: activeMemberID, Room: availableRoomID, CheckIn: day("2031-07-01"), CheckOut: day("2031-07-04"), Guests: 2,
	})
	if err != nil || booked.Status != http.StatusCreated {
		t.Fatalf("book: %+v, %v", booked, err)
	}
	resv, err := reservationv1.NewClientWithResponses(sys.URL(stack.Reservation))
	if err != nil {
		t.Fatal(err)
	}
	reason := cancelReason
	cancelled, err := resv.CancelReservationWithResponse(ctx, uuid.MustParse(booked.ID), reservationv1.CancelReservationRequest{Reason: &reason})
	if err != nil || cancelled.StatusCode() != http.StatusOK {
		t.Fatalf("cancel: %v %v", cancelled, err)
	}

	// The records of the reservation, as the relay published them.
	cl, err := kgo.NewClient(kgo.SeedBrokers(sys.Kafka().Client.Brokers...),
		kgo.ConsumeTopics(reservationv1.ReservationCreatedEvent.Topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	r := &reservationEvents{records: map[string]*kgo.Record{}}
	for len(r.records) < 2 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("the reservation's events did not reach the topic: %v (have %d)", err, len(r.records))
		}
		fetches.EachRecord(func(rec *kgo.Record) {
			if string(rec.Key) == booked.ID {
				r.records[recordHeaders(rec)["ce_type"]] = rec
			}
		})
	}
	store := codec.NewMemoryStore()
	for _, s := range []*codec.Schema{reservationv1.ReservationCreatedSchema, reservationv1.ReservationCancelledSchema} {
		if err := store.Put(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	if r.decoder, err = codec.NewSingleObject(store); err != nil {
		t.Fatal(err)
	}
	return r
}

// recordHeaders returns rec's headers by key.
func recordHeaders(rec *kgo.Record) map[string]string {
	m := make(map[string]string, len(rec.Headers))
	for _, h := range rec.Headers {
		m[h.Key] = string(h.Value)
	}
	return m
}

// view decodes the record of type name as schema into out and returns the
// message body (the JSON view) and metadata (ce_type) pact compares.
func (r *reservationEvents) view(ctx context.Context, name string, schema *codec.Schema, out any) (message.Body, message.Metadata, error) {
	rec := r.records[name]
	if rec == nil {
		return nil, nil, fmt.Errorf("the reservation service published no %s", name)
	}
	if err := r.decoder.Decode(ctx, rec.Value, schema, out); err != nil {
		return nil, nil, fmt.Errorf("decode the record: %w", err)
	}
	v, err := JSONView(schema.Avro(), out)
	if err != nil {
		return nil, nil, err
	}
	md := message.Metadata{"contentType": "application/json", "ce_type": recordHeaders(rec)["ce_type"]}
	return json.RawMessage(v), md, nil
}

func (r *reservationEvents) handlers(ctx context.Context) message.Handlers {
	return message.Handlers{
		msgCreated: func([]models.ProviderState) (message.Body, message.Metadata, error) {
			return r.view(ctx, reservationv1.ReservationCreatedEvent.Name, reservationv1.ReservationCreatedSchema, new(reservationv1.ReservationCreated))
		},
		msgCancelled: func([]models.ProviderState) (message.Body, message.Metadata, error) {
			return r.view(ctx, reservationv1.ReservationCancelledEvent.Name, reservationv1.ReservationCancelledSchema, new(reservationv1.ReservationCancelled))
		},
	}
}

// TestProviderReservationEvents verifies the committed message pacts of
// member, room and notification against the events the running
// reservation service published for a booking and its cancellation.
func TestProviderReservationEvents(t *testing.T) {
	t.Parallel()
	r := newReservationEvents(t)
	noop := func(bool, models.ProviderState) (models.ProviderStateResponse, error) { return nil, nil }
	var files []string
	for _, c := range []string{memberName, roomName, notificationName} {
		files = append(files, filepath.Join(pactDir, c+"-"+reservationName+".json"))
	}
	err := provider.NewVerifier().VerifyProvider(t, provider.VerifyRequest{
		Provider:             reservationName,
		PactFiles:            files,
		MessageHandlers:      r.handlers(t.Context()),
		StateHandlers:        models.StateHandlers{stateBooked: noop, stateCancelled: noop},
		FailIfNoPactsFound:   true,
		DisableColoredOutput: true,
	})
	if err != nil {
		t.Fatal(err)
	}
}
