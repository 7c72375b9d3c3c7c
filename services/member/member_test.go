package member

import (
	"context"
	"database/sql"
	"math/big"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	memberv1 "github.com/keiyaku/keiyaku/gen/member/v1"
	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/app/apptest"
	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/httpserver/httpservertest"
	"github.com/keiyaku/keiyaku/runtime/sqldb/sqldbtest"
)

// waitTimeout bounds every wait for an asynchronous effect.
const waitTimeout = 20 * time.Second

// newService builds a member service on a fresh database of b and an
// embedded broker, and a generated client whose every answer is checked
// against contracts/member/v1.
func newService(t *testing.T, b sqldbtest.Backend) (*Service, *memberv1.ClientWithResponses, string, app.KafkaConfig) {
	t.Helper()
	kafka := apptest.Broker(t, memberv1.TopicPartitions)
	svc, err := New(t.Context(), Config{ListenAddr: "127.0.0.1:0", DatabaseURL: b.DSN(t), Kafka: kafka, DemoData: true})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	spec, err := memberv1.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	srv := httpservertest.NewServer(t, spec, svc.Handler())
	client, err := memberv1.NewClientWithResponses(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return svc, client, srv.URL, kafka
}

// TestGetMember pins the API: the seeded members are served with their
// status (active, suspended, withdrawn), an unknown id is a 404 problem
// and a malformed id a 400 problem, all as the contract documents them.
func TestGetMember(t *testing.T) {
	t.Parallel()
	for _, b := range sqldbtest.Backends(os.Getenv(apptest.EnvPostgresDSN)) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			svc, client, base, _ := newService(t, b)
			t.Cleanup(func() { _ = svc.Close() })
			tests := []struct {
				id         string
				wantStatus int
				want       memberv1.MemberStatus
				wantName   string
			}{
				{ActiveMemberID, http.StatusOK, memberv1.MemberStatusActive, "Hanako Yamada"},
				{OtherActiveMemberID, http.StatusOK, memberv1.MemberStatusActive, "Taro Suzuki"},
				{SuspendedMemberID, http.StatusOK, memberv1.MemberStatusSuspended, "Kenji Sato"},
				{WithdrawnMemberID, http.StatusOK, memberv1.MemberStatusWithdrawn, "Yuki Tanaka"},
				{"0d6c7b8a-0000-4000-8000-000000000000", http.StatusNotFound, "", ""},
			}
			for _, tc := range tests {
				resp, err := client.GetMemberWithResponse(t.Context(), uuid.MustParse(tc.id))
				if err != nil {
					t.Fatalf("GetMember %s: %v", tc.id, err)
				}
				if resp.StatusCode() != tc.wantStatus {
					t.Fatalf("GetMember %s: status %d, want %d: %s", tc.id, resp.StatusCode(), tc.wantStatus, resp.Body)
				}
				if tc.wantStatus != http.StatusOK {
					if resp.ApplicationproblemJSON404 == nil {
						t.Errorf("GetMember %s: no problem body: %s", tc.id, resp.Body)
					}
					continue
				}
				if got := resp.JSON200; got.Status != tc.want || got.Name != tc.wantName || got.Id.String() != tc.id {
					t.Errorf("GetMember %s = %+v, want status %s, name %s", tc.id, got, tc.want, tc.wantName)
				}
			}

			// A path parameter that is not a UUID never reaches the
			// handler: the validator answers 400 naming it.
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/members/not-a-uuid", nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = res.Body.Close()
			if res.StatusCode != http.StatusBadRequest || res.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("GET /members/not-a-uuid: %d %s, want 400 application/problem+json", res.StatusCode, res.Header.Get("Content-Type"))
			}
		})
	}
}

// historyRow is a row of member_reservations.
type historyRow struct {
	status, reason string
	booked         bool
	guests         int64
	amount         string
}

func readHistory(ctx context.Context, svc *Service, reservationID string) (historyRow, bool, error) {
	var (
		r              historyRow
		reason, amount sql.NullString
		booked         sql.NullInt64
		guests         sql.NullInt64
	)
	err := svc.db.QueryRowContext(ctx, svc.db.Rebind(
		`SELECT status, cancel_reason, booked_at, guests, total_amount FROM member_reservations WHERE reservation_id = ?`),
		reservationID).Scan(&r.status, &reason, &booked, &guests, &amount)
	if err == sql.ErrNoRows {
		return r, false, nil
	}
	r.reason, r.booked, r.guests, r.amount = reason.String, booked.Valid, guests.Int64, amount.String
	return r, err == nil, err
}

func count(ctx context.Context, t *testing.T, svc *Service, query string, args ...any) int {
	t.Helper()
	var n int
	if err := svc.db.QueryRowContext(ctx, svc.db.Rebind(query), args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestReservationHistory pins the consumer: ReservationCreated adds the
// stay to the member's history and ReservationCancelled marks it
// cancelled; the same event delivered twice changes nothing (one history
// row, one processed id per event); and an old ReservationCreated
// redelivered after the cancellation does not bring the stay back.
func TestReservationHistory(t *testing.T) {
	t.Parallel()
	for _, b := range sqldbtest.Backends(os.Getenv(apptest.EnvPostgresDSN)) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			svc, _, _, kafka := newService(t, b)
			apptest.Run(t, svc)

			producer, err := app.NewProducer(kafka, "/services/reservation", app.Telemetry{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(producer.Close)
			record := func(typ string, evt any) *kgo.Record {
				t.Helper()
				var rec *kgo.Record
				var err error
				switch e := evt.(type) {
				case *memberv1.ReservationCreated:
					rec, err = events.NewRecord(ctx, producer.Events(), memberv1.ReservationCreatedEvent, e)
				case *memberv1.ReservationCancelled:
					rec, err = events.NewRecord(ctx, producer.Events(), memberv1.ReservationCancelledEvent, e)
				}
				if err != nil {
					t.Fatalf("%s record: %v", typ, err)
				}
				return rec
			}
			send := func(recs ...*kgo.Record) {
				t.Helper()
				// Records are sent one by one, each a fresh copy of
				// the same bytes and headers: a redelivery.
				for _, r := range recs {
					cp := &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: r.Headers}
					if err := producer.Send(ctx, cp); err != nil {
						t.Fatalf("send: %v", err)
					}
				}
			}

			rid := uuid.NewString()
			day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
			created := record("created", &memberv1.ReservationCreated{
				ReservationID: rid, MemberID: ActiveMemberID, RoomID: uuid.NewString(),
				CheckIn: day("2025-07-01"), CheckOut: day("2025-07-04"), Guests: 2,
				TotalPrice: memberv1.Money{Amount: big.NewRat(5400000, 100), Currency: "JPY"},
				CreatedAt:  time.Now().UTC().Truncate(time.Millisecond),
			})
			send(created, created)
			apptest.Wait(t, waitTimeout, "the stay in the history", func() (bool, error) {
				_, ok, err := readHistory(ctx, svc, rid)
				return ok, err
			})

			reason := func(s string) *memberv1.ReservationCancelled {
				return &memberv1.ReservationCancelled{
					ReservationID: rid, MemberID: ActiveMemberID, RoomID: uuid.NewString(),
					CheckIn: day("2025-07-01"), CheckOut: day("2025-07-04"), Reason: &s,
					CancelledAt: time.Now().UTC().Truncate(time.Millisecond),
				}
			}
			cancelled := record("cancelled", reason("change of plans"))
			// The old ReservationCreated comes again after the
			// cancellation; a last event on the same key (same
			// partition, consumed in order) tells when both were
			// handled.
			marker := record("marker", reason("marker"))
			send(cancelled, created, marker)
			apptest.Wait(t, waitTimeout, "the marker event", func() (bool, error) {
				r, _, err := readHistory(ctx, svc, rid)
				return r.reason == "marker", err
			})

			r, _, err := readHistory(ctx, svc, rid)
			if err != nil {
				t.Fatal(err)
			}
			if r.status != "cancelled" || !r.booked || r.guests != 2 || r.amount != "54000.00" {
				t.Errorf("history row = %+v, want cancelled, booked, 2 guests, 54000.00", r)
			}
			if n := count(ctx, t, svc, `SELECT COUNT(*) FROM member_reservations WHERE member_id = ?`, ActiveMemberID); n != 1 {
				t.Errorf("%d history rows for the member, want 1", n)
			}
			if n := count(ctx, t, svc, `SELECT COUNT(*) FROM keiyaku_processed_events`); n != 3 {
				t.Errorf("%d processed event ids, want 3 (created, cancelled, marker)", n)
			}
		})
	}
}
