package reservation

import (
	"context"
	"errors"
	"math/big"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	memberv1 "github.com/keiyaku/keiyaku/gen/member/v1"
	reservationv1 "github.com/keiyaku/keiyaku/gen/reservation/v1"
	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/app/apptest"
	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/codec"
	"github.com/keiyaku/keiyaku/runtime/httpserver"
	"github.com/keiyaku/keiyaku/runtime/httpserver/httpservertest"
	"github.com/keiyaku/keiyaku/runtime/outbox"
	"github.com/keiyaku/keiyaku/runtime/resilience"
	"github.com/keiyaku/keiyaku/runtime/sqldb"
	"github.com/keiyaku/keiyaku/runtime/sqldb/sqldbtest"
)

// waitTimeout bounds every wait for an asynchronous effect.
const waitTimeout = 20 * time.Second

// The members and rooms the fake neighbours know.
const (
	activeMember    = "3f1c2a9e-8b7d-4e6f-9a01-2b3c4d5e6f70"
	activeMember2   = "5a7d2c1b-3e4f-4a6b-8c9d-0e1f2a3b4c5d"
	suspendedMember = "8b9c0d1e-2f3a-4b5c-9d6e-7f8a9b0c1d2e"
	withdrawnMember = "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"
	unknownMember   = "0d6c7b8a-0000-4000-8000-000000000000"

	doubleRoom  = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
	suiteRoom   = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
	takenRoom   = "4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8"
	unknownRoom = "00000000-0000-4000-8000-000000000001"
)

type fixture struct {
	svc        *Service
	client     *reservationv1.ClientWithResponses
	kafka      app.KafkaConfig
	room       *fakeRoom
	memberGate *gate
	roomGate   *gate
}

// newFixture builds a reservation service on a fresh database of b and an
// embedded broker, with the fake member and room services as neighbours
// (retries back off by a millisecond, so that failures are quick), and a
// generated client whose every answer is checked against
// contracts/reservation/v1. The service is not run: its relay publishes
// nothing unless the test runs it.
func newFixture(t *testing.T, b sqldbtest.Backend, opts ...Option) *fixture {
	t.Helper()
	f := &fixture{kafka: apptest.Broker(t, reservationv1.TopicPartitions), room: newFakeRoom()}
	members, mg := serveMember(t, &fakeMember{statuses: map[string]memberv1.MemberStatus{
		activeMember:    memberv1.MemberStatusActive,
		activeMember2:   memberv1.MemberStatusActive,
		suspendedMember: memberv1.MemberStatusSuspended,
		withdrawnMember: memberv1.MemberStatusWithdrawn,
	}})
	rooms, rg := serveRoom(t, f.room)
	f.memberGate, f.roomGate = mg, rg
	fast := resilience.WithBackoff(time.Millisecond, 2*time.Millisecond)
	svc, err := New(t.Context(), Config{
		ListenAddr: "127.0.0.1:0", DatabaseURL: b.DSN(t), Kafka: f.kafka,
		MemberURL: members.URL, RoomURL: rooms.URL,
	}, append([]Option{WithClock(testClock), WithMemberClientOptions(fast), WithRoomClientOptions(fast),
		WithRelayOptions(outbox.WithPollInterval(5 * time.Millisecond))}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.svc = svc
	spec, err := reservationv1.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	srv := httpservertest.NewServer(t, spec, svc.Handler())
	if f.client, err = reservationv1.NewClientWithResponses(srv.URL); err != nil {
		t.Fatal(err)
	}
	return f
}

func request(member, room, in, out string, guests int32) reservationv1.CreateReservationRequest {
	return reservationv1.CreateReservationRequest{
		MemberId: uuid.MustParse(member), RoomId: uuid.MustParse(room),
		CheckIn: date(in), CheckOut: date(out), Guests: guests,
	}
}

func (f *fixture) create(t *testing.T, key string, body reservationv1.CreateReservationRequest, editors ...reservationv1.RequestEditorFn) *reservationv1.CreateReservationResponse {
	t.Helper()
	resp, err := f.client.CreateReservationWithResponse(t.Context(),
		&reservationv1.CreateReservationParams{IdempotencyKey: key}, body, editors...)
	if err != nil {
		t.Fatalf("CreateReservation: %v", err)
	}
	return resp
}

func (f *fixture) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := f.svc.db.QueryRowContext(t.Context(), f.svc.db.Rebind(query), args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// newKey returns a fresh Idempotency-Key.
// testStart and testClock give the service a clock that starts at
// 2025-06-01 09:00 UTC and runs: the fixed dates of the tests are in its
// future (check-in dates in the past are refused).
var testStart = time.Now()

func testClock() time.Time {
	return time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC).Add(time.Since(testStart))
}

func newKey() string { return "key-" + uuid.NewString() }

// TestCreateReservation pins the decisions of POST /reservations: an
// active member and a free room give 201 with the reservation and its
// Location; a suspended or withdrawn member 422 and an unknown one 404,
// before the room is touched; an unknown room 404, a taken room 409, too
// many guests 422, inverted dates and a check-in in the past 400 and an
// over-long stay 422. Only the
// 201 stores a reservation and an event.
func TestCreateReservation(t *testing.T) {
	t.Parallel()
	for _, b := range sqldbtest.Backends(os.Getenv(apptest.EnvPostgresDSN)) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			t.Cleanup(func() { _ = f.svc.Close() })
			tests := []struct {
				name     string
				body     reservationv1.CreateReservationRequest
				want     int
				wantHold bool // whether the room was asked for a hold
			}{
				{"active member, free room", request(activeMember, doubleRoom, "2025-07-01", "2025-07-04", 2), http.StatusCreated, true},
				{"suspended member", request(suspendedMember, doubleRoom, "2025-07-01", "2025-07-04", 2), http.StatusUnprocessableEntity, false},
				{"withdrawn member", request(withdrawnMember, doubleRoom, "2025-07-01", "2025-07-04", 2), http.StatusUnprocessableEntity, false},
				{"unknown member", request(unknownMember, doubleRoom, "2025-07-01", "2025-07-04", 2), http.StatusNotFound, false},
				{"unknown room", request(activeMember, unknownRoom, "2025-07-01", "2025-07-04", 2), http.StatusNotFound, false},
				{"room taken", request(activeMember, takenRoom, "2025-07-01", "2025-07-04", 2), http.StatusConflict, true},
				{"too many guests", request(activeMember, doubleRoom, "2025-08-01", "2025-08-04", 3), http.StatusUnprocessableEntity, false},
				{"checkOut = checkIn", request(activeMember, doubleRoom, "2025-07-01", "2025-07-01", 2), http.StatusBadRequest, false},
				{"checkOut before checkIn", request(activeMember, doubleRoom, "2025-07-04", "2025-07-01", 2), http.StatusBadRequest, false},
				// The clock says 2025-06-01 09:00 UTC: 2025-05-31 is still
				// today in UTC-12, 2025-05-30 is over everywhere.
				{"checkIn in the past", request(activeMember, doubleRoom, "2025-05-30", "2025-06-02", 2), http.StatusBadRequest, false},
				{"checkIn still today somewhere", request(activeMember, doubleRoom, "2025-05-31", "2025-06-01", 2), http.StatusCreated, true},
				{"366 nights", request(activeMember, doubleRoom, "2025-07-01", "2026-07-02", 2), http.StatusUnprocessableEntity, false},
			}
			for _, tc := range tests {
				holdsBefore := len(f.room.holdRequests())
				resp := f.create(t, newKey(), tc.body)
				if resp.StatusCode() != tc.want {
					t.Fatalf("%s: %d, want %d: %s", tc.name, resp.StatusCode(), tc.want, resp.Body)
				}
				if held := len(f.room.holdRequests()) > holdsBefore; held != tc.wantHold {
					t.Errorf("%s: room asked for a hold = %v, want %v", tc.name, held, tc.wantHold)
				}
				if tc.want != http.StatusCreated {
					if ct := resp.HTTPResponse.Header.Get("Content-Type"); ct != "application/problem+json" {
						t.Errorf("%s: Content-Type %q, want a problem", tc.name, ct)
					}
					continue
				}
				r := resp.JSON201
				if r.Status != reservationv1.ReservationStatusConfirmed || r.Guests != 2 || r.MemberId != tc.body.MemberId || r.CancelledAt != nil {
					t.Errorf("%s: reservation = %+v", tc.name, r)
				}
				if loc := resp.HTTPResponse.Header.Get("Location"); loc != "/reservations/"+r.Id.String() {
					t.Errorf("%s: Location %q", tc.name, loc)
				}
				got, err := f.client.GetReservationWithResponse(t.Context(), r.Id)
				if err != nil {
					t.Fatal(err)
				}
				if got.JSON200 == nil || got.JSON200.Id != r.Id || !got.JSON200.CreatedAt.Equal(r.CreatedAt) {
					t.Errorf("%s: GET = %d %s", tc.name, got.StatusCode(), got.Body)
				}
			}
			if n := f.count(t, `SELECT COUNT(*) FROM reservations`); n != 2 {
				t.Errorf("%d reservations stored, want 2", n)
			}
			if n := f.count(t, `SELECT COUNT(*) FROM keiyaku_outbox`); n != 2 {
				t.Errorf("%d events in the outbox, want 2", n)
			}
			got, err := f.client.GetReservationWithResponse(t.Context(), uuid.New())
			if err != nil {
				t.Fatal(err)
			}
			if got.StatusCode() != http.StatusNotFound || got.ApplicationproblemJSON404 == nil {
				t.Errorf("GET of an unknown reservation: %d %s, want a 404 problem", got.StatusCode(), got.Body)
			}
		})
	}
}

// TestMemberDown pins the member fallback: when the member service is
// down, the last good answer for the member (a few seconds old, well
// within keiyaku.yaml's 5 minutes) decides and the reservation is made —
// also once the member client's breaker is open and nothing reaches the
// member service; for a member never seen there is nothing to fall back on
// and the answer is 503.
func TestMemberDown(t *testing.T) {
	t.Parallel()
	for _, b := range sqldbtest.Backends(os.Getenv(apptest.EnvPostgresDSN)) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			t.Cleanup(func() { _ = f.svc.Close() })
			if resp := f.create(t, newKey(), request(activeMember, doubleRoom, "2025-07-01", "2025-07-04", 2)); resp.StatusCode() != http.StatusCreated {
				t.Fatalf("first reservation: %d %s", resp.StatusCode(), resp.Body)
			}

			f.memberGate.down.Store(true)
			hits := f.memberGate.hits.Load()
			resp := f.create(t, newKey(), request(activeMember, doubleRoom, "2025-07-10", "2025-07-12", 1))
			if resp.StatusCode() != http.StatusCreated {
				t.Fatalf("with a fresh last-good member: %d %s, want 201", resp.StatusCode(), resp.Body)
			}
			if f.memberGate.hits.Load() == hits {
				t.Errorf("the member service was not called before falling back")
			}
			resp = f.create(t, newKey(), request(activeMember2, doubleRoom, "2025-07-20", "2025-07-22", 1))
			if resp.StatusCode() != http.StatusServiceUnavailable || resp.ApplicationproblemJSON503 == nil {
				t.Fatalf("without a last-good member: %d %s, want a 503 problem", resp.StatusCode(), resp.Body)
			}
			// Six failed attempts in a row: the member breaker is open
			// (5 in a row), the last good answer still decides.
			hits = f.memberGate.hits.Load()
			for i := range 3 {
				in := date("2025-08-01").AddDate(0, 0, 2*i).Format(time.DateOnly)
				out := date("2025-08-02").AddDate(0, 0, 2*i).Format(time.DateOnly)
				if resp := f.create(t, newKey(), request(activeMember, doubleRoom, in, out, 1)); resp.StatusCode() != http.StatusCreated {
					t.Fatalf("breaker open, fresh last-good member: %d %s, want 201", resp.StatusCode(), resp.Body)
				}
			}
			if n := f.memberGate.hits.Load() - hits; n != 0 {
				t.Errorf("%d requests reached the member service with its breaker open, want 0", n)
			}
			if n := f.count(t, `SELECT COUNT(*) FROM reservations`); n != 5 {
				t.Errorf("%d reservations, want 5", n)
			}
		})
	}
}

// TestRetryAfterUnavailable pins what the 503 of the contract promises:
// "retry later with the same Idempotency-Key". A 503 is not stored, so
// once the member service is back the same key makes the reservation.
func TestRetryAfterUnavailable(t *testing.T) {
	t.Parallel()
	for _, b := range sqldbtest.Backends(os.Getenv(apptest.EnvPostgresDSN)) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			// Without a breaker, so that the member service is called
			// again as soon as it is back.
			f := newFixture(t, b, WithMemberClientOptions(resilience.WithoutBreaker()))
			t.Cleanup(func() { _ = f.svc.Close() })
			key := newKey()
			body := request(activeMember2, doubleRoom, "2025-07-20", "2025-07-22", 1)
			f.memberGate.down.Store(true)
			if resp := f.create(t, key, body); resp.StatusCode() != http.StatusServiceUnavailable {
				t.Fatalf("member down: %d %s, want 503", resp.StatusCode(), resp.Body)
			}
			f.memberGate.down.Store(false)
			resp := f.create(t, key, body)
			if resp.StatusCode() != http.StatusCreated || resp.HTTPResponse.Header.Get(httpserver.ReplayedHeader) != "" {
				t.Errorf("retry with the same key once the member service is back: %d %s, want a fresh 201", resp.StatusCode(), resp.Body)
			}
		})
	}
}

// TestRoomDown pins the room policy: no fallback, a 503 problem (never a
// 500) when the room service is down, and once the circuit breaker has
// opened, 503 at once without any request reaching the room service.
func TestRoomDown(t *testing.T) {
	t.Parallel()
	for _, b := range sqldbtest.Backends(os.Getenv(apptest.EnvPostgresDSN)) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			t.Cleanup(func() { _ = f.svc.Close() })
			f.roomGate.down.Store(true)
			create := func() {
				t.Helper()
				resp := f.create(t, newKey(), request(activeMember, doubleRoom, "2025-07-01", "2025-07-04", 2))
				if resp.StatusCode() != http.StatusServiceUnavailable || resp.ApplicationproblemJSON503 == nil {
					t.Fatalf("room down: %d %s, want a 503 problem", resp.StatusCode(), resp.Body)
				}
			}
			// RoomPolicy: 2 attempts per call, the breaker opens after 3
			// failures in a row, so it is open after two calls.
			create()
			create()
			opened := f.roomGate.hits.Load()
			if opened == 0 || opened > 3 {
				t.Fatalf("%d requests reached the room service in two calls, want 1 to 3", opened)
			}
			for range 10 {
				create()
			}
			if n := f.roomGate.hits.Load(); n != opened {
				t.Errorf("%d more requests reached the room service with its breaker open, want 0", n-opened)
			}
			if n := f.count(t, `SELECT COUNT(*) FROM reservations`); n != 0 {
				t.Errorf("%d reservations stored, want 0", n)
			}
		})
	}
}

// TestIdempotentRetry pins Idempotency-Key on POST /reservations: a retry
// with the same key and body replays the first answer — one reservation,
// one hold, one event — and the same key with another body is 422.
func TestIdempotentRetry(t *testing.T) {
	t.Parallel()
	for _, b := range sqldbtest.Backends(os.Getenv(apptest.EnvPostgresDSN)) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			t.Cleanup(func() { _ = f.svc.Close() })
			key := newKey()
			body := request(activeMember, suiteRoom, "2025-09-01", "2025-09-03", 4)
			first := f.create(t, key, body)
			again := f.create(t, key, body)
			if first.JSON201 == nil || again.JSON201 == nil {
				t.Fatalf("%d %s / %d %s", first.StatusCode(), first.Body, again.StatusCode(), again.Body)
			}
			if again.HTTPResponse.Header.Get(httpserver.ReplayedHeader) != "true" || again.JSON201.Id != first.JSON201.Id ||
				again.HTTPResponse.Header.Get("Location") != first.HTTPResponse.Header.Get("Location") {
				t.Errorf("retry: %+v (replayed %q), want the replay of %+v", again.JSON201, again.HTTPResponse.Header.Get(httpserver.ReplayedHeader), first.JSON201)
			}
			body.Guests = 3
			if s := f.create(t, key, body).StatusCode(); s != http.StatusUnprocessableEntity {
				t.Errorf("same key, other body: %d, want 422", s)
			}
			if n := f.count(t, `SELECT COUNT(*) FROM reservations`); n != 1 {
				t.Errorf("%d reservations, want 1", n)
			}
			if n := f.count(t, `SELECT COUNT(*) FROM keiyaku_outbox`); n != 1 {
				t.Errorf("%d events, want 1", n)
			}
			if n := len(f.room.holdRequests()); n != 1 {
				t.Errorf("%d hold requests, want 1", n)
			}
		})
	}
}

// failOutbox makes the transactions that add to the outbox fail, until
// the returned function is called: on PostgreSQL at COMMIT (a deferred
// constraint trigger), on SQLite, which has none, at the insert.
func failOutbox(t *testing.T, db *sqldb.DB) (restore func()) {
	t.Helper()
	ctx := context.Background()
	var create, drop []string
	switch db.Dialect {
	case sqldb.SQLite:
		create = []string{`CREATE TRIGGER outbox_fails BEFORE INSERT ON keiyaku_outbox BEGIN SELECT RAISE(ABORT, 'outbox unavailable'); END`}
		drop = []string{`DROP TRIGGER outbox_fails`}
	default:
		create = []string{
			`CREATE FUNCTION outbox_fails() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'outbox unavailable'; END $$ LANGUAGE plpgsql`,
			`CREATE CONSTRAINT TRIGGER outbox_fails AFTER INSERT ON keiyaku_outbox
				DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION outbox_fails()`,
		}
		drop = []string{`DROP TRIGGER outbox_fails ON keiyaku_outbox`, `DROP FUNCTION outbox_fails()`}
	}
	for _, q := range create {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return func() {
		for _, q := range drop {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
}

// TestOutboxSameTransaction pins the transactional outbox: the
// ReservationCreated record is written in the transaction of the
// reservation, so when that transaction fails — at the commit, on
// PostgreSQL — neither is stored (500, the Idempotency-Key released), and
// the retry with the same key stores both, once, on the hold placed the
// first time.
func TestOutboxSameTransaction(t *testing.T) {
	t.Parallel()
	for _, b := range sqldbtest.Backends(os.Getenv(apptest.EnvPostgresDSN)) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			t.Cleanup(func() { _ = f.svc.Close() })
			key := newKey()
			body := request(activeMember, doubleRoom, "2025-10-01", "2025-10-05", 2)

			restore := failOutbox(t, f.svc.db)
			resp := f.create(t, key, body)
			if resp.StatusCode() != http.StatusInternalServerError || resp.ApplicationproblemJSON500 == nil {
				t.Fatalf("with the outbox failing: %d %s, want a 500 problem", resp.StatusCode(), resp.Body)
			}
			if n := f.count(t, `SELECT COUNT(*) FROM reservations`); n != 0 {
				t.Errorf("%d reservations stored without their event, want 0", n)
			}
			if n := f.count(t, `SELECT COUNT(*) FROM keiyaku_outbox`); n != 0 {
				t.Errorf("%d events stored, want 0", n)
			}
			restore()

			resp = f.create(t, key, body)
			if resp.JSON201 == nil {
				t.Fatalf("retry: %d %s, want 201", resp.StatusCode(), resp.Body)
			}
			id := resp.JSON201.Id.String()
			if n := f.count(t, `SELECT COUNT(*) FROM reservations WHERE id = ?`, id); n != 1 {
				t.Errorf("%d reservations %s, want 1", n, id)
			}
			if n := f.count(t, `SELECT COUNT(*) FROM keiyaku_outbox WHERE topic = ?`, reservationv1.ReservationCreatedEvent.Topic); n != 1 {
				t.Errorf("%d events, want 1", n)
			}
			pending, err := f.svc.outbox.Pending(t.Context())
			if err != nil || pending != 1 {
				t.Errorf("Pending() = %d, %v; want 1 (the relay is not running)", pending, err)
			}
			reqs := f.room.holdRequests()
			if len(reqs) != 2 || reqs[0] != reqs[1] || reqs[0] != "rsv-"+id || f.room.holdCount() != 1 {
				t.Errorf("hold requests %v (%d holds), want two with key rsv-%s and one hold", reqs, f.room.holdCount(), id)
			}
		})
	}
}

// TestEvents pins what reaches Kafka: the relay publishes
// ReservationCreated and, after POST /cancel, ReservationCancelled, keyed
// by the reservation id and in that order, as CloudEvents from
// /services/reservation carrying the trace id of the request that caused
// them — the same trace id the calls to the member and room services
// carried. Cancelling releases the hold, also answers 200 while the room
// service is down, and a second cancel is 409.
func TestEvents(t *testing.T) {
	t.Parallel()
	for _, b := range sqldbtest.Backends(os.Getenv(apptest.EnvPostgresDSN)) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			f := newFixture(t, b)
			apptest.Run(t, f.svc)
			traceID := "4bf92f3577b34da6a3ce929d0e0e4736"
			withTrace := func(_ context.Context, r *http.Request) error {
				r.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
				return nil
			}
			resp := f.create(t, newKey(), request(activeMember, suiteRoom, "2025-12-30", "2026-01-02", 3), withTrace)
			if resp.JSON201 == nil {
				t.Fatalf("create: %d %s", resp.StatusCode(), resp.Body)
			}
			id := resp.JSON201.Id

			f.roomGate.down.Store(true)
			reason := "change of plans"
			cancel, err := f.client.CancelReservationWithResponse(ctx, id, reservationv1.CancelReservationRequest{Reason: &reason}, withTrace)
			if err != nil {
				t.Fatal(err)
			}
			if cancel.JSON200 == nil || cancel.JSON200.Status != reservationv1.ReservationStatusCancelled || cancel.JSON200.CancelledAt == nil {
				t.Fatalf("cancel with the room service down: %d %s, want 200 cancelled", cancel.StatusCode(), cancel.Body)
			}
			f.roomGate.down.Store(false)
			again, err := f.client.CancelReservationWithResponse(ctx, id, reservationv1.CancelReservationRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if again.StatusCode() != http.StatusConflict || again.ApplicationproblemJSON409 == nil {
				t.Errorf("second cancel: %d %s, want a 409 problem", again.StatusCode(), again.Body)
			}
			unknown, err := f.client.CancelReservationWithResponse(ctx, uuid.New(), reservationv1.CancelReservationRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if unknown.StatusCode() != http.StatusNotFound {
				t.Errorf("cancel of an unknown reservation: %d, want 404", unknown.StatusCode())
			}

			recs := consume(t, f.kafka, reservationv1.ReservationCreatedEvent.Topic, id.String(), 2)
			types := []string{header(recs[0], events.HeaderType), header(recs[1], events.HeaderType)}
			if !slices.Equal(types, []string{reservationv1.ReservationCreatedEvent.Name, reservationv1.ReservationCancelledEvent.Name}) {
				t.Fatalf("event types %v, want created then cancelled", types)
			}
			for _, r := range recs {
				if src := header(r, events.HeaderSource); src != Source {
					t.Errorf("ce_source %q, want %q", src, Source)
				}
				if tp := header(r, "traceparent"); !strings.Contains(tp, traceID) {
					t.Errorf("%s traceparent %q, want trace id %s", header(r, events.HeaderType), tp, traceID)
				}
			}
			for name, g := range map[string]*gate{"member": f.memberGate, "room": f.roomGate} {
				tps := g.traceparents()
				if len(tps) == 0 || !strings.Contains(tps[0], traceID) {
					t.Errorf("the first call to %s carried traceparent %q, want trace id %s", name, tps, traceID)
				}
			}

			dec := decoder(t, f.kafka)
			var created reservationv1.ReservationCreated
			if err := dec.Decode(ctx, recs[0].Value, reservationv1.ReservationCreatedSchema, &created); err != nil {
				t.Fatal(err)
			}
			// 3 nights of the suite at 52000.50.
			if created.ReservationID != id.String() || created.Guests != 3 || created.TotalPrice.Currency != "JPY" ||
				created.TotalPrice.Amount.Cmp(big.NewRat(15600150, 100)) != 0 || !created.CheckIn.Equal(date("2025-12-30").Time) {
				t.Errorf("ReservationCreated = %+v (total %v)", created, created.TotalPrice.Amount)
			}
			var cancelled reservationv1.ReservationCancelled
			if err := dec.Decode(ctx, recs[1].Value, reservationv1.ReservationCancelledSchema, &cancelled); err != nil {
				t.Fatal(err)
			}
			if cancelled.ReservationID != id.String() || cancelled.Reason == nil || *cancelled.Reason != reason ||
				!cancelled.CancelledAt.Equal(cancel.JSON200.CancelledAt.Truncate(time.Millisecond)) {
				t.Errorf("ReservationCancelled = %+v", cancelled)
			}
			apptest.Wait(t, waitTimeout, "the outbox to be sent", func() (bool, error) {
				n, err := f.svc.outbox.Pending(ctx)
				return n == 0, err
			})

			// The hold of the first reservation was not released while
			// the room service was down; a second one is released at
			// once.
			resp = f.create(t, newKey(), request(activeMember, doubleRoom, "2026-02-01", "2026-02-03", 1))
			if resp.JSON201 == nil {
				t.Fatalf("create: %d %s", resp.StatusCode(), resp.Body)
			}
			if _, err := f.client.CancelReservationWithResponse(ctx, resp.JSON201.Id, reservationv1.CancelReservationRequest{}); err != nil {
				t.Fatal(err)
			}
			if n := len(f.room.releasedHolds()); n != 1 {
				t.Errorf("%d holds released, want 1", n)
			}
		})
	}
}

// consume reads topic from the start until it has n records with key.
func consume(t *testing.T, kafka app.KafkaConfig, topic, key string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka.Client.Brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d records with key %s after %v, want %d", len(out), key, waitTimeout, n)
		}
		for _, e := range fetches.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) {
				t.Fatalf("fetch: %v", e.Err)
			}
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if string(r.Key) == key {
				out = append(out, r)
			}
		})
	}
	return out
}

// decoder reads single-object encoded values, finding writer schemas in
// the broker's schema topic, as every consumer does.
func decoder(t *testing.T, kafka app.KafkaConfig) codec.Codec {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka.Client.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	store, err := codec.NewTopicStore(cl)
	if err != nil {
		t.Fatal(err)
	}
	c, err := codec.NewSingleObject(store)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
