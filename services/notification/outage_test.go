package notification

import (
	"context"
	"log/slog"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	notificationv1 "github.com/keiyaku/keiyaku/gen/notification/v1"
	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/app/apptest"
	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/sqldb/sqldbtest"
)

// TestDatabaseOutageNotifiesEveryone pins issue 14 finding 2 on the real
// service, as it was found: the notifications table is renamed away while
// the events of 20 bookings arrive, so every handler call fails; once it
// is back, each member has exactly one notification and nothing went to
// the dead-letter topic (before, 5 attempts in ~1.5 s dead-lettered them).
func TestDatabaseOutageNotifiesEveryone(t *testing.T) {
	t.Parallel()
	const bookings = 20
	for _, b := range sqldbtest.Backends(os.Getenv(apptest.EnvPostgresDSN)) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			kafka := apptest.Broker(t, notificationv1.TopicPartitions)
			dsn := b.DSN(t)
			logs := &syncBuffer{}
			svc, err := New(ctx, Config{ListenAddr: "127.0.0.1:0", DatabaseURL: dsn, Kafka: kafka},
				WithTelemetry(app.Telemetry{Logger: slog.New(slog.NewJSONHandler(logs, nil))}))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			apptest.Run(t, svc)
			db := sqldbtest.Open(t, dsn)
			if _, err := db.ExecContext(ctx, "ALTER TABLE notifications RENAME TO notifications_away"); err != nil {
				t.Fatal(err)
			}
			producer, err := app.NewProducer(kafka, "/services/reservation", app.Telemetry{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(producer.Close)
			in := time.Date(2027, 7, 1, 0, 0, 0, 0, time.UTC)
			var recs []*kgo.Record
			for range bookings {
				rec, err := events.NewRecord(ctx, producer.Events(), notificationv1.ReservationCreatedEvent, &notificationv1.ReservationCreated{
					ReservationID: uuid.NewString(), MemberID: uuid.NewString(), RoomID: uuid.NewString(), CheckIn: in, CheckOut: in.AddDate(0, 0, 2),
					Guests: 1, TotalPrice: notificationv1.Money{Amount: big.NewRat(36000, 1), Currency: "JPY"}, CreatedAt: time.Now().UTC(),
				})
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, rec)
			}
			apptest.Send(t, producer, recs...)
			// The outage lasts well past the old 5 attempts of every record.
			apptest.Wait(t, waitTimeout, "handler failures during the outage", func() (bool, error) {
				return len(logs.lines(t, "events: handler failed; will retry")) >= 3*bookings/2, nil
			})
			if _, err := db.ExecContext(ctx, "ALTER TABLE notifications_away RENAME TO notifications"); err != nil {
				t.Fatal(err)
			}
			apptest.WaitCaughtUp(t, kafka, notificationv1.ConsumerGroup, notificationv1.ReservationCreatedEvent.Topic, time.Minute)

			var rows, members int
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*), COUNT(DISTINCT member_id) FROM notifications").Scan(&rows, &members); err != nil {
				t.Fatal(err)
			}
			if rows != bookings || members != bookings {
				t.Errorf("%d notifications for %d members, want %d each", rows, members, bookings)
			}
			cl, err := kgo.NewClient(kgo.SeedBrokers(kafka.Client.Brokers...))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			dlq := events.DeadLetterTopic(notificationv1.ReservationCreatedEvent.Topic, notificationv1.ConsumerGroup)
			ends, err := kadm.NewClient(cl).ListEndOffsets(context.WithoutCancel(ctx), dlq)
			if err != nil {
				t.Fatal(err)
			}
			ends.Each(func(o kadm.ListedOffset) {
				if o.Err == nil && o.Offset > 0 {
					t.Errorf("%s/%d holds %d records, want none", dlq, o.Partition, o.Offset)
				}
			})
		})
	}
}
