//go:build pact

package pact

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/pact-foundation/pact-go/v2/message"
	"github.com/pact-foundation/pact-go/v2/models"
	"github.com/pact-foundation/pact-go/v2/provider"
	"github.com/twmb/franz-go/pkg/kgo"

	reservationv1 "github.com/keiyaku/keiyaku/gen/reservation/v1"
	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/app/apptest"
	"github.com/keiyaku/keiyaku/runtime/events/codec"
)

// reservationEvents builds the events of the message pacts the way the
// reservation service does: its generated Publisher over app.NewProducer
// encodes them as Kafka records (Avro single-object encoding, CloudEvents
// headers); each record's value is then decoded with the reservation
// schema and rendered as its JSON view, with ce_type as metadata.
type reservationEvents struct {
	publisher *reservationv1.Publisher
	decoder   *codec.SingleObject
}

func newReservationEvents(t *testing.T) *reservationEvents {
	t.Helper()
	producer, err := app.NewProducer(apptest.Broker(t, reservationv1.TopicPartitions), "/services/reservation", app.Telemetry{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(producer.Close)
	store := codec.NewMemoryStore()
	for _, s := range []*codec.Schema{reservationv1.ReservationCreatedSchema, reservationv1.ReservationCancelledSchema} {
		if err := store.Put(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	dec, err := codec.NewSingleObject(store)
	if err != nil {
		t.Fatal(err)
	}
	return &reservationEvents{publisher: reservationv1.NewPublisher(producer.Events()), decoder: dec}
}

// view decodes rec's value as schema into out and returns the message
// body (the JSON view) and metadata (ce_type) pact compares.
func (r *reservationEvents) view(ctx context.Context, rec *kgo.Record, schema *codec.Schema, out any) (message.Body, message.Metadata, error) {
	if err := r.decoder.Decode(ctx, rec.Value, schema, out); err != nil {
		return nil, nil, fmt.Errorf("decode the record: %w", err)
	}
	v, err := JSONView(schema.Avro(), out)
	if err != nil {
		return nil, nil, err
	}
	md := message.Metadata{"contentType": "application/json"}
	for _, h := range rec.Headers {
		if h.Key == "ce_type" {
			md["ce_type"] = string(h.Value)
		}
	}
	return json.RawMessage(v), md, nil
}

func (r *reservationEvents) handlers(ctx context.Context) message.Handlers {
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	return message.Handlers{
		msgCreated: func([]models.ProviderState) (message.Body, message.Metadata, error) {
			rec, err := r.publisher.ReservationCreatedRecord(ctx, &reservationv1.ReservationCreated{
				ReservationID: reservationID, MemberID: activeMemberID, RoomID: availableRoomID,
				CheckIn: day(checkIn), CheckOut: day(checkOut), Guests: 2,
				TotalPrice: reservationv1.Money{Amount: big.NewRat(5400000, 100), Currency: "JPY"},
				CreatedAt:  time.UnixMilli(createdAtMs).UTC(),
			})
			if err != nil {
				return nil, nil, err
			}
			return r.view(ctx, rec, reservationv1.ReservationCreatedSchema, new(reservationv1.ReservationCreated))
		},
		msgCancelled: func([]models.ProviderState) (message.Body, message.Metadata, error) {
			reason := cancelReason
			rec, err := r.publisher.ReservationCancelledRecord(ctx, &reservationv1.ReservationCancelled{
				ReservationID: reservationID, MemberID: activeMemberID, RoomID: availableRoomID,
				CheckIn: day(checkIn), CheckOut: day(checkOut), Reason: &reason,
				CancelledAt: time.UnixMilli(cancelledMs).UTC(),
			})
			if err != nil {
				return nil, nil, err
			}
			return r.view(ctx, rec, reservationv1.ReservationCancelledSchema, new(reservationv1.ReservationCancelled))
		},
	}
}

// TestProviderReservationEvents verifies the committed message pacts of
// member, room and notification against the events reservation builds and
// encodes.
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
