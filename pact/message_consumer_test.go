//go:build pact

package pact

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/pact-foundation/pact-go/v2/matchers"
	message "github.com/pact-foundation/pact-go/v2/message/v3"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	memberv1 "github.com/keiyaku/keiyaku/gen/member/v1"
	notificationv1 "github.com/keiyaku/keiyaku/gen/notification/v1"
	roomv1 "github.com/keiyaku/keiyaku/gen/room/v1"
	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/app/apptest"
	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/services/member"
	"github.com/keiyaku/keiyaku/services/notification"
	"github.com/keiyaku/keiyaku/services/room"
)

// Descriptions and metadata of the message pacts. ce_type is the
// CloudEvents type header of the record: the Avro full name of the
// event, which the gate uses to find its schema.
const (
	msgCreated       = "a ReservationCreated event"
	msgCancelled     = "a ReservationCancelled event"
	typeCreated      = "hotel.reservation.v1.ReservationCreated"
	typeCancelled    = "hotel.reservation.v1.ReservationCancelled"
	stateBooked      = "reservation " + reservationID + " of room " + availableRoomID + " by member " + activeMemberID + " was confirmed"
	stateCancelled   = "reservation " + reservationID + " was cancelled"
	waitEventTimeout = 30 * time.Second
)

// Example values of the events (JSON view: dates are days since
// 1970-01-01, instants milliseconds since the epoch).
const (
	checkInDays  = 20270         // 2025-07-01
	checkOutDays = 20273         // 2025-07-04
	createdAtMs  = 1750413600000 // 2025-06-20T10:00:00Z
	cancelledMs  = 1750500000000 // 2025-06-21T10:00:00Z
	cancelReason = "change of plans"
)

// createdView and cancelledView are the contents consumers expect: the
// JSON view of the Avro records, with matchers where any value of the
// type will do.
func createdView() obj {
	return obj{
		"reservationId": regex(reservationID, uuidPattern),
		"memberId":      regex(activeMemberID, uuidPattern),
		"roomId":        regex(availableRoomID, uuidPattern),
		"checkIn":       matchers.Integer(checkInDays),
		"checkOut":      matchers.Integer(checkOutDays),
		"guests":        matchers.Integer(2),
		"totalPrice": obj{
			"amount":   like(json.Number("54000.00")),
			"currency": regex("JPY", `^[A-Z]{3}$`),
		},
		"createdAt": matchers.Integer(createdAtMs),
	}
}

func cancelledView() obj {
	return obj{
		"reservationId": regex(reservationID, uuidPattern),
		"memberId":      regex(activeMemberID, uuidPattern),
		"roomId":        regex(availableRoomID, uuidPattern),
		"checkIn":       matchers.Integer(checkInDays),
		"checkOut":      matchers.Integer(checkOutDays),
		"reason":        like(cancelReason),
		"cancelledAt":   matchers.Integer(cancelledMs),
	}
}

// toRecord decodes a JSON view with the consumer's own generated schema
// into its generated type and encodes it as the Kafka record the consumer
// reads (Avro single-object encoding, CloudEvents headers).
func toRecord[T any](typ events.Type[T]) func(context.Context, *events.Producer, []byte) (*kgo.Record, error) {
	return func(ctx context.Context, p *events.Producer, view []byte) (*kgo.Record, error) {
		var evt T
		if err := typ.Schema.Avro().DecodeJSON(view, &evt); err != nil {
			return nil, fmt.Errorf("decode the JSON view as %s: %w", typ.Name, err)
		}
		return events.NewRecord(ctx, p, typ, &evt)
	}
}

// messageConsumer is one consumer of the reservation events: how to run
// the real service on a broker, and how it turns a view into a record.
type messageConsumer struct {
	name      string
	group     string
	topic     string
	start     func(t *testing.T, kafka app.KafkaConfig) app.Runner
	created   func(context.Context, *events.Producer, []byte) (*kgo.Record, error)
	cancelled func(context.Context, *events.Producer, []byte) (*kgo.Record, error)
}

var messageConsumers = []messageConsumer{
	{
		name: memberName, group: memberv1.ConsumerGroup, topic: memberv1.ReservationCreatedEvent.Topic,
		start: func(t *testing.T, kafka app.KafkaConfig) app.Runner {
			svc, err := member.New(t.Context(), member.Config{ListenAddr: "127.0.0.1:0", DatabaseURL: filepath.Join(t.TempDir(), "member.db"), Kafka: kafka, DemoData: true})
			if err != nil {
				t.Fatalf("member.New: %v", err)
			}
			return svc
		},
		created: toRecord(memberv1.ReservationCreatedEvent), cancelled: toRecord(memberv1.ReservationCancelledEvent),
	},
	{
		name: roomName, group: roomv1.ConsumerGroup, topic: roomv1.ReservationCreatedEvent.Topic,
		start: func(t *testing.T, kafka app.KafkaConfig) app.Runner {
			svc, err := room.New(t.Context(), room.Config{ListenAddr: "127.0.0.1:0", DatabaseURL: filepath.Join(t.TempDir(), "room.db"), Kafka: kafka, DemoData: true})
			if err != nil {
				t.Fatalf("room.New: %v", err)
			}
			return svc
		},
		created: toRecord(roomv1.ReservationCreatedEvent), cancelled: toRecord(roomv1.ReservationCancelledEvent),
	},
	{
		name: notificationName, group: notificationv1.ConsumerGroup, topic: notificationv1.ReservationCreatedEvent.Topic,
		start: func(t *testing.T, kafka app.KafkaConfig) app.Runner {
			svc, err := notification.New(t.Context(), notification.Config{ListenAddr: "127.0.0.1:0", DatabaseURL: filepath.Join(t.TempDir(), "notification.db"), Kafka: kafka})
			if err != nil {
				t.Fatalf("notification.New: %v", err)
			}
			return svc
		},
		created: toRecord(notificationv1.ReservationCreatedEvent), cancelled: toRecord(notificationv1.ReservationCancelledEvent),
	},
}

// TestConsumerReservationEvents pins, for each consumer of the
// reservation events, the events it reads: each pact message, reified by
// pact, goes through the consumer's generated decoding into its generated
// type, is encoded as Avro and consumed from Kafka by the real service,
// which must handle it (the consumer group catches up and nothing reaches
// the dead-letter topic). Messages of one pact are added in order: the FFI
// writes one file per pair.
func TestConsumerReservationEvents(t *testing.T) {
	t.Parallel()
	for _, mc := range messageConsumers {
		t.Run(mc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			kafka := apptest.Broker(t, map[string]int32{mc.topic: 1})
			apptest.Run(t, mc.start(t, kafka))
			producer, err := app.NewProducer(kafka, "/services/reservation", app.Telemetry{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(producer.Close)
			p, err := message.NewAsynchronousPact(message.Config{Consumer: mc.name, Provider: reservationName, PactDir: written})
			if err != nil {
				t.Fatal(err)
			}
			messages := []struct {
				desc, state, ceType string
				view                obj
				record              func(context.Context, *events.Producer, []byte) (*kgo.Record, error)
			}{
				{msgCreated, stateBooked, typeCreated, createdView(), mc.created},
				{msgCancelled, stateCancelled, typeCancelled, cancelledView(), mc.cancelled},
			}
			for _, m := range messages {
				var raw json.RawMessage
				err := p.AddAsynchronousMessage().
					Given(m.state).
					ExpectsToReceive(m.desc).
					WithMetadata(map[string]string{"ce_type": m.ceType, "contentType": "application/json"}).
					WithJSONContent(m.view).
					AsType(&raw).
					ConsumedBy(func(mc message.MessageContents) error {
						view, ok := mc.Content.(*json.RawMessage)
						if !ok {
							return fmt.Errorf("content is a %T", mc.Content)
						}
						rec, err := m.record(ctx, producer.Events(), *view)
						if err != nil {
							return err
						}
						return producer.Send(ctx, rec)
					}).
					Verify(t)
				if err != nil {
					t.Fatalf("%s: %v", m.desc, err)
				}
			}
			apptest.WaitCaughtUp(t, kafka, mc.group, mc.topic, waitEventTimeout)
			assertNoDeadLetters(t, kafka, events.DeadLetterTopic(mc.topic, mc.group))
		})
	}
}

// assertNoDeadLetters fails t when topic holds a record.
func assertNoDeadLetters(t *testing.T, kafka app.KafkaConfig, topic string) {
	t.Helper()
	opts, err := kafka.Client.Options()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(t.Context(), topic)
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			t.Errorf("%s holds %d records: the consumer could not handle a pact message", topic, o.Offset)
		}
	})
}
