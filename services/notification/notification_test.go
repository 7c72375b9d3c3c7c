package notification

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	notificationv1 "github.com/keiyaku/keiyaku/gen/notification/v1"
	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/app/apptest"
	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/httpserver/httpservertest"
	"github.com/keiyaku/keiyaku/runtime/sqldb/sqldbtest"
)

// waitTimeout bounds every wait for an asynchronous effect.
const waitTimeout = 20 * time.Second

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a
// logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the JSON log records whose msg is msg.
func (s *syncBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(s.b.Bytes()))
	for dec.More() {
		var rec map[string]any
		if err := dec.Decode(&rec); err != nil {
			t.Fatalf("log: %v", err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// stepClock returns a clock that moves one second per reading, so that
// notifications have distinct sentAt in the order they were sent.
func stepClock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2025, 6, 20, 10, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

// TestNotifications pins the service end to end: each reservation event
// sends one e-mail (a row and an "email sent" log line) to its member,
// the same event delivered twice sends one, and GET /notifications lists a
// member's notifications most recent first, bounded by limit, as the
// contract says.
func TestNotifications(t *testing.T) {
	t.Parallel()
	for _, b := range sqldbtest.Backends(os.Getenv(apptest.EnvPostgresDSN)) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			kafka := apptest.Broker(t, notificationv1.TopicPartitions)
			logs := &syncBuffer{}
			svc, err := New(ctx, Config{ListenAddr: "127.0.0.1:0", DatabaseURL: b.DSN(t), Kafka: kafka},
				WithTelemetry(app.Telemetry{Logger: slog.New(slog.NewJSONHandler(logs, nil))}), WithClock(stepClock()))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			apptest.Run(t, svc)
			spec, err := notificationv1.GetSpec()
			if err != nil {
				t.Fatal(err)
			}
			srv := httpservertest.NewServer(t, spec, svc.Handler())
			client, err := notificationv1.NewClientWithResponses(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			producer, err := app.NewProducer(kafka, "/services/reservation", app.Telemetry{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(producer.Close)

			alice, bob := uuid.NewString(), uuid.NewString()
			rid := uuid.NewString()
			in := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
			out := in.AddDate(0, 0, 3)
			created, err := events.NewRecord(ctx, producer.Events(), notificationv1.ReservationCreatedEvent, &notificationv1.ReservationCreated{
				ReservationID: rid, MemberID: alice, RoomID: uuid.NewString(), CheckIn: in, CheckOut: out, Guests: 2,
				TotalPrice: notificationv1.Money{Amount: big.NewRat(54000, 1), Currency: "JPY"}, CreatedAt: time.Now().UTC(),
			})
			if err != nil {
				t.Fatal(err)
			}
			reason := "change of plans"
			cancelled, err := events.NewRecord(ctx, producer.Events(), notificationv1.ReservationCancelledEvent, &notificationv1.ReservationCancelled{
				ReservationID: rid, MemberID: alice, RoomID: uuid.NewString(), CheckIn: in, CheckOut: out,
				Reason: &reason, CancelledAt: time.Now().UTC(),
			})
			if err != nil {
				t.Fatal(err)
			}
			other, err := events.NewRecord(ctx, producer.Events(), notificationv1.ReservationCreatedEvent, &notificationv1.ReservationCreated{
				ReservationID: uuid.NewString(), MemberID: bob, RoomID: uuid.NewString(), CheckIn: in, CheckOut: out, Guests: 1,
				TotalPrice: notificationv1.Money{Amount: big.NewRat(9500, 1), Currency: "JPY"}, CreatedAt: time.Now().UTC(),
			})
			if err != nil {
				t.Fatal(err)
			}
			apptest.Send(t, producer, created, created, cancelled, created, other)
			apptest.WaitCaughtUp(t, kafka, notificationv1.ConsumerGroup, notificationv1.ReservationCreatedEvent.Topic, waitTimeout)

			list := func(member string, limit *int32) *notificationv1.ListNotificationsResponse {
				t.Helper()
				resp, err := client.ListNotificationsWithResponse(ctx, &notificationv1.ListNotificationsParams{
					MemberId: uuid.MustParse(member), Limit: limit})
				if err != nil {
					t.Fatal(err)
				}
				return resp
			}
			got := list(alice, nil).JSON200
			if got == nil || len(got.Items) != 2 {
				t.Fatalf("alice's notifications = %+v, want 2", got)
			}
			first, second := got.Items[0], got.Items[1]
			if first.Kind != notificationv1.NotificationKindReservationCancelled || second.Kind != notificationv1.NotificationKindReservationConfirmed {
				t.Errorf("kinds = %s, %s; want the cancellation first", first.Kind, second.Kind)
			}
			if !first.SentAt.After(second.SentAt) {
				t.Errorf("sentAt %v, %v: not most recent first", first.SentAt, second.SentAt)
			}
			if second.Subject != "Your reservation for 2025-07-01 is confirmed" || second.ReservationId.String() != rid ||
				second.Channel != notificationv1.NotificationChannelEmail || second.EventId == first.EventId {
				t.Errorf("confirmation = %+v", second)
			}
			one := int32(1)
			if page := list(alice, &one).JSON200; page == nil || len(page.Items) != 1 || page.Items[0].Id != first.Id {
				t.Errorf("limit 1 = %+v, want the most recent only", page)
			}
			if got := list(bob, nil).JSON200; got == nil || len(got.Items) != 1 {
				t.Errorf("bob's notifications = %+v, want 1", got)
			}
			if got := list(uuid.NewString(), nil).JSON200; got == nil || len(got.Items) != 0 {
				t.Errorf("a stranger's notifications = %+v, want an empty list", got)
			}
			for _, bad := range []int32{0, 101} {
				if resp := list(alice, &bad); resp.StatusCode() != http.StatusBadRequest || resp.ApplicationproblemJSON400 == nil {
					t.Errorf("limit %d: %d %s, want a 400 problem", bad, resp.StatusCode(), resp.Body)
				}
			}
			if sent := logs.lines(t, "email sent"); len(sent) != 3 {
				t.Errorf("%d \"email sent\" log lines, want 3 (one per event)", len(sent))
			}
		})
	}
}
