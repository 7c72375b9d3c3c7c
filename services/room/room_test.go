package room

import (
	"math/big"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/twmb/franz-go/pkg/kgo"

	roomv1 "github.com/keiyaku/keiyaku/gen/room/v1"
	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/app/apptest"
	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/httpserver"
	"github.com/keiyaku/keiyaku/runtime/httpserver/httpservertest"
	"github.com/keiyaku/keiyaku/runtime/sqldb/sqldbtest"
)

// waitTimeout bounds every wait for an asynchronous effect.
const waitTimeout = 20 * time.Second

// clock is a settable clock for WithClock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	svc    *Service
	client *roomv1.ClientWithResponses
	url    string
	kafka  app.KafkaConfig
	clock  *clock
}

// newFixture builds a room service on a fresh database of b, an embedded
// broker and a settable clock, and a generated client whose every answer
// is checked against contracts/room/v1.
func newFixture(t *testing.T, b sqldbtest.Backend, opts ...Option) *fixture {
	t.Helper()
	f := &fixture{kafka: apptest.Broker(t, roomv1.TopicPartitions), clock: &clock{t: time.Date(2025, 6, 20, 10, 0, 0, 0, time.UTC)}}
	svc, err := New(t.Context(), Config{ListenAddr: "127.0.0.1:0", DatabaseURL: b.DSN(t), Kafka: f.kafka, DemoData: true},
		append([]Option{WithClock(f.clock.now)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.svc = svc
	spec, err := roomv1.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	srv := httpservertest.NewServer(t, spec, svc.Handler())
	f.url = srv.URL
	if f.client, err = roomv1.NewClientWithResponses(srv.URL); err != nil {
		t.Fatal(err)
	}
	return f
}

func date(s string) openapi_types.Date {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return openapi_types.Date{Time: d}
}

// hold asks for a hold of room for a new reservation with a new key.
func (f *fixture) hold(t *testing.T, room, in, out string) *roomv1.CreateRoomHoldResponse {
	t.Helper()
	return f.holdFor(t, room, uuid.NewString(), uuid.NewString(), in, out)
}

func (f *fixture) holdFor(t *testing.T, room, reservation, key, in, out string) *roomv1.CreateRoomHoldResponse {
	t.Helper()
	resp, err := f.client.CreateRoomHoldWithResponse(t.Context(), uuid.MustParse(room),
		&roomv1.CreateRoomHoldParams{IdempotencyKey: key},
		roomv1.HoldRequest{ReservationId: uuid.MustParse(reservation), CheckIn: date(in), CheckOut: date(out)})
	if err != nil {
		t.Fatalf("CreateRoomHold: %v", err)
	}
	return resp
}

func (f *fixture) available(t *testing.T, room, in, out string) bool {
	t.Helper()
	resp, err := f.client.GetRoomAvailabilityWithResponse(t.Context(), uuid.MustParse(room),
		&roomv1.GetRoomAvailabilityParams{CheckIn: date(in), CheckOut: date(out)})
	if err != nil {
		t.Fatalf("GetRoomAvailability: %v", err)
	}
	if resp.JSON200 == nil {
		t.Fatalf("GetRoomAvailability %s %s..%s: status %d: %s", room, in, out, resp.StatusCode(), resp.Body)
	}
	return resp.JSON200.Available
}

func (f *fixture) release(t *testing.T, room string, hold openapi_types.UUID) int {
	t.Helper()
	resp, err := f.client.ReleaseRoomHoldWithResponse(t.Context(), uuid.MustParse(room), hold)
	if err != nil {
		t.Fatalf("ReleaseRoomHold: %v", err)
	}
	return resp.StatusCode()
}

// TestGetRoom pins the seeded inventory and the 404 of an unknown room.
func TestGetRoom(t *testing.T) {
	t.Parallel()
	for _, b := range sqldbtest.Backends(os.Getenv(apptest.EnvPostgresDSN)) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			t.Cleanup(func() { _ = f.svc.Close() })
			tests := []struct {
				id       string
				status   int
				typ      roomv1.RoomType
				capacity int32
				rate     string
			}{
				{DoubleRoomID, 200, roomv1.RoomTypeDouble, 2, "18000.00"},
				{SingleRoomID, 200, roomv1.RoomTypeSingle, 1, "9500.00"},
				{TwinRoomID, 200, roomv1.RoomTypeTwin, 2, "16000.00"},
				{SuiteRoomID, 200, roomv1.RoomTypeSuite, 4, "52000.00"},
				{"00000000-0000-4000-8000-000000000001", 404, "", 0, ""},
			}
			for _, tc := range tests {
				resp, err := f.client.GetRoomWithResponse(t.Context(), uuid.MustParse(tc.id))
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode() != tc.status {
					t.Fatalf("GetRoom %s: %d, want %d", tc.id, resp.StatusCode(), tc.status)
				}
				if tc.status != 200 {
					continue
				}
				r := resp.JSON200
				if r.Type != tc.typ || r.Capacity != tc.capacity || r.NightlyRate.Amount != tc.rate || r.NightlyRate.Currency != "JPY" {
					t.Errorf("GetRoom %s = %+v", tc.id, r)
				}
			}
		})
	}
}

// TestHoldOverlap pins the rule of availability: a stay occupies the
// nights [checkIn, checkOut), so a hold is refused (409) exactly when one
// of its nights is held already — a stay that ends the day another begins
// does not overlap — and availability answers the same as the hold would.
func TestHoldOverlap(t *testing.T) {
	t.Parallel()
	for _, b := range sqldbtest.Backends(os.Getenv(apptest.EnvPostgresDSN)) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			t.Cleanup(func() { _ = f.svc.Close() })
			if resp := f.hold(t, DoubleRoomID, "2025-07-10", "2025-07-13"); resp.JSON201 == nil {
				t.Fatalf("first hold: %d %s", resp.StatusCode(), resp.Body)
			}
			tests := []struct {
				name    string
				in, out string
				want    int
			}{
				{"same nights", "2025-07-10", "2025-07-13", http.StatusConflict},
				{"first night", "2025-07-09", "2025-07-11", http.StatusConflict},
				{"last night", "2025-07-12", "2025-07-14", http.StatusConflict},
				{"inside", "2025-07-11", "2025-07-12", http.StatusConflict},
				{"around", "2025-07-08", "2025-07-15", http.StatusConflict},
				{"ends on check-in", "2025-07-08", "2025-07-10", http.StatusCreated},
				{"starts on check-out", "2025-07-13", "2025-07-15", http.StatusCreated},
			}
			for _, tc := range tests {
				avail := f.available(t, DoubleRoomID, tc.in, tc.out)
				if avail != (tc.want == http.StatusCreated) {
					t.Errorf("%s: available = %v before the hold, want %v", tc.name, avail, !avail)
				}
				resp := f.hold(t, DoubleRoomID, tc.in, tc.out)
				if resp.StatusCode() != tc.want {
					t.Fatalf("%s: hold %s..%s: %d, want %d: %s", tc.name, tc.in, tc.out, resp.StatusCode(), tc.want, resp.Body)
				}
				if tc.want == http.StatusConflict {
					if p := resp.ApplicationproblemJSON409; p == nil || p.Detail == nil {
						t.Errorf("%s: 409 without a problem detail: %s", tc.name, resp.Body)
					}
					continue
				}
				h := resp.JSON201
				if h.Status != roomv1.HoldStatusHeld || !h.ExpiresAt.Equal(f.clock.now().Add(DefaultHoldTTL)) {
					t.Errorf("%s: hold = %+v, want held until now+%v", tc.name, h, DefaultHoldTTL)
				}
				// Release it so the next case sees only the first hold;
				// a second release changes nothing.
				for range 2 {
					if s := f.release(t, DoubleRoomID, h.Id); s != http.StatusNoContent {
						t.Fatalf("%s: release: %d", tc.name, s)
					}
				}
				if !f.available(t, DoubleRoomID, tc.in, tc.out) {
					t.Errorf("%s: not available after the release", tc.name)
				}
			}
		})
	}
}

// TestHoldErrors pins the answers to requests that cannot be served:
// inverted dates are 400, an unknown room or hold 404, a missing
// Idempotency-Key 400, each a problem the contract documents.
func TestHoldErrors(t *testing.T) {
	t.Parallel()
	for _, b := range sqldbtest.Backends(os.Getenv(apptest.EnvPostgresDSN)) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			t.Cleanup(func() { _ = f.svc.Close() })
			unknown := "00000000-0000-4000-8000-000000000002"
			if s := f.hold(t, DoubleRoomID, "2025-07-04", "2025-07-04").StatusCode(); s != http.StatusBadRequest {
				t.Errorf("hold with checkOut = checkIn: %d, want 400", s)
			}
			if s := f.hold(t, DoubleRoomID, "2025-07-05", "2025-07-04").StatusCode(); s != http.StatusBadRequest {
				t.Errorf("hold with checkOut before checkIn: %d, want 400", s)
			}
			if s := f.hold(t, unknown, "2025-07-01", "2025-07-04").StatusCode(); s != http.StatusNotFound {
				t.Errorf("hold of an unknown room: %d, want 404", s)
			}
			resp, err := f.client.GetRoomAvailabilityWithResponse(t.Context(), uuid.MustParse(DoubleRoomID),
				&roomv1.GetRoomAvailabilityParams{CheckIn: date("2025-07-04"), CheckOut: date("2025-07-01")})
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode() != http.StatusBadRequest || resp.ApplicationproblemJSON400 == nil {
				t.Errorf("availability with inverted dates: %d %s, want a 400 problem", resp.StatusCode(), resp.Body)
			} else if errs := resp.ApplicationproblemJSON400.Errors; errs == nil || len(*errs) != 1 || (*errs)[0].Field != "query.checkOut" {
				t.Errorf("availability with inverted dates: errors = %v, want query.checkOut", errs)
			}
			resp2, err := f.client.GetRoomAvailabilityWithResponse(t.Context(), uuid.MustParse(unknown),
				&roomv1.GetRoomAvailabilityParams{CheckIn: date("2025-07-01"), CheckOut: date("2025-07-04")})
			if err != nil {
				t.Fatal(err)
			}
			if resp2.StatusCode() != http.StatusNotFound {
				t.Errorf("availability of an unknown room: %d, want 404", resp2.StatusCode())
			}
			if s := f.release(t, DoubleRoomID, uuid.New()); s != http.StatusNotFound {
				t.Errorf("release of an unknown hold: %d, want 404", s)
			}
			// A hold of another room is not found through this room.
			h := f.hold(t, TwinRoomID, "2025-07-01", "2025-07-04").JSON201
			if s := f.release(t, DoubleRoomID, h.Id); s != http.StatusNotFound {
				t.Errorf("release through the wrong room: %d, want 404", s)
			}
			// No Idempotency-Key: the contract requires it.
			res, err := f.client.CreateRoomHoldWithResponse(t.Context(), uuid.MustParse(DoubleRoomID),
				&roomv1.CreateRoomHoldParams{},
				roomv1.HoldRequest{ReservationId: uuid.New(), CheckIn: date("2025-08-01"), CheckOut: date("2025-08-02")})
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode() != http.StatusBadRequest {
				t.Errorf("hold without Idempotency-Key: %d, want 400", res.StatusCode())
			}
		})
	}
}

// TestHoldIdempotencyKey pins POST /holds with an Idempotency-Key: a retry
// with the same key and body replays the first answer (the same hold, no
// second one), the same key with another body is 422, and a retry of the
// same reservation with a new key gets its own hold back rather than a
// 409 against itself.
func TestHoldIdempotencyKey(t *testing.T) {
	t.Parallel()
	for _, b := range sqldbtest.Backends(os.Getenv(apptest.EnvPostgresDSN)) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			t.Cleanup(func() { _ = f.svc.Close() })
			rid, key := uuid.NewString(), "hold-key-"+uuid.NewString()
			first := f.holdFor(t, SuiteRoomID, rid, key, "2025-09-01", "2025-09-05")
			again := f.holdFor(t, SuiteRoomID, rid, key, "2025-09-01", "2025-09-05")
			if first.JSON201 == nil || again.JSON201 == nil {
				t.Fatalf("holds: %d %s / %d %s", first.StatusCode(), first.Body, again.StatusCode(), again.Body)
			}
			if again.HTTPResponse.Header.Get(httpserver.ReplayedHeader) != "true" || again.JSON201.Id != first.JSON201.Id {
				t.Errorf("retry: hold %s (replayed %q), want the replay of %s",
					again.JSON201.Id, again.HTTPResponse.Header.Get(httpserver.ReplayedHeader), first.JSON201.Id)
			}
			if s := f.holdFor(t, SuiteRoomID, rid, key, "2025-09-01", "2025-09-06").StatusCode(); s != http.StatusUnprocessableEntity {
				t.Errorf("same key, other body: %d, want 422", s)
			}
			newKey := f.holdFor(t, SuiteRoomID, rid, uuid.NewString(), "2025-09-01", "2025-09-05")
			if newKey.JSON201 == nil || newKey.JSON201.Id != first.JSON201.Id {
				t.Errorf("same reservation, new key: %d %s, want hold %s", newKey.StatusCode(), newKey.Body, first.JSON201.Id)
			}
			var n int
			if err := f.svc.db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM holds`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Errorf("%d holds stored, want 1", n)
			}
		})
	}
}

// TestHoldExpiry pins the documented expiry: an unconfirmed hold blocks
// the room until its expiresAt, and from that instant availability
// ignores it and another reservation may hold the nights.
func TestHoldExpiry(t *testing.T) {
	t.Parallel()
	for _, b := range sqldbtest.Backends(os.Getenv(apptest.EnvPostgresDSN)) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ttl := 10 * time.Minute
			f := newFixture(t, b, WithHoldTTL(ttl))
			t.Cleanup(func() { _ = f.svc.Close() })
			h := f.hold(t, SingleRoomID, "2025-10-01", "2025-10-03").JSON201
			if h == nil || !h.ExpiresAt.Equal(f.clock.now().Add(ttl)) {
				t.Fatalf("hold = %+v, want one expiring after %v", h, ttl)
			}
			f.clock.advance(ttl - time.Millisecond)
			if f.available(t, SingleRoomID, "2025-10-02", "2025-10-04") {
				t.Errorf("available 1ms before the hold expires")
			}
			if s := f.hold(t, SingleRoomID, "2025-10-02", "2025-10-04").StatusCode(); s != http.StatusConflict {
				t.Errorf("hold 1ms before expiry: %d, want 409", s)
			}
			f.clock.advance(time.Millisecond)
			if !f.available(t, SingleRoomID, "2025-10-02", "2025-10-04") {
				t.Errorf("not available once the hold expired")
			}
			if s := f.hold(t, SingleRoomID, "2025-10-02", "2025-10-04").StatusCode(); s != http.StatusCreated {
				t.Errorf("hold after expiry: %d, want 201", s)
			}
		})
	}
}

// TestReservationEvents pins the consumer: ReservationCreated confirms
// the hold, which then never expires; ReservationCancelled releases it;
// the same event delivered again — also an old ReservationCreated after
// the cancellation — changes nothing; and a ReservationCreated without a
// hold records a confirmed booking.
func TestReservationEvents(t *testing.T) {
	t.Parallel()
	for _, b := range sqldbtest.Backends(os.Getenv(apptest.EnvPostgresDSN)) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			f := newFixture(t, b)
			apptest.Run(t, f.svc)
			producer, err := app.NewProducer(f.kafka, "/services/reservation", app.Telemetry{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(producer.Close)

			rid := uuid.NewString()
			h := f.holdFor(t, DoubleRoomID, rid, uuid.NewString(), "2025-11-01", "2025-11-04").JSON201
			if h == nil {
				t.Fatal("no hold")
			}
			status := func(holdID string) string {
				t.Helper()
				var s string
				if err := f.svc.db.QueryRowContext(ctx, f.svc.db.Rebind(`SELECT status FROM holds WHERE id = ?`), holdID).Scan(&s); err != nil {
					t.Fatal(err)
				}
				return s
			}
			in, out := date("2025-11-01").Time, date("2025-11-04").Time
			created, err := events.NewRecord(ctx, producer.Events(), roomv1.ReservationCreatedEvent, &roomv1.ReservationCreated{
				ReservationID: rid, MemberID: uuid.NewString(), RoomID: DoubleRoomID, CheckIn: in, CheckOut: out, Guests: 2,
				TotalPrice: roomv1.MoneyAvro{Amount: big.NewRat(54000, 1), Currency: "JPY"}, CreatedAt: time.Now().UTC(),
			})
			if err != nil {
				t.Fatal(err)
			}
			apptest.Send(t, producer, created, created)
			apptest.Wait(t, waitTimeout, "the hold to be confirmed", func() (bool, error) {
				return status(h.Id.String()) == statusConfirmed, nil
			})
			f.clock.advance(DefaultHoldTTL + time.Hour)
			if f.available(t, DoubleRoomID, "2025-11-02", "2025-11-03") {
				t.Errorf("a confirmed hold stopped blocking the room after its expiresAt")
			}

			cancelled, err := events.NewRecord(ctx, producer.Events(), roomv1.ReservationCancelledEvent, &roomv1.ReservationCancelled{
				ReservationID: rid, MemberID: uuid.NewString(), RoomID: DoubleRoomID, CheckIn: in, CheckOut: out, CancelledAt: time.Now().UTC(),
			})
			if err != nil {
				t.Fatal(err)
			}
			apptest.Send(t, producer, cancelled, created)
			apptest.WaitCaughtUp(t, f.kafka, roomv1.ConsumerGroup, roomv1.ReservationCreatedEvent.Topic, waitTimeout)
			if s := status(h.Id.String()); s != statusReleased {
				t.Errorf("hold is %s after the cancellation and a redelivered ReservationCreated, want released", s)
			}
			if !f.available(t, DoubleRoomID, "2025-11-01", "2025-11-04") {
				t.Errorf("not available after the cancellation")
			}

			// A reservation whose hold the room never saw is booked all
			// the same.
			lone := uuid.NewString()
			rec := func() *kgo.Record {
				r, err := events.NewRecord(ctx, producer.Events(), roomv1.ReservationCreatedEvent, &roomv1.ReservationCreated{
					ReservationID: lone, MemberID: uuid.NewString(), RoomID: TwinRoomID, CheckIn: in, CheckOut: out, Guests: 1,
					TotalPrice: roomv1.MoneyAvro{Amount: big.NewRat(48000, 1), Currency: "JPY"}, CreatedAt: time.Now().UTC(),
				})
				if err != nil {
					t.Fatal(err)
				}
				return r
			}()
			apptest.Send(t, producer, rec)
			apptest.WaitCaughtUp(t, f.kafka, roomv1.ConsumerGroup, roomv1.ReservationCreatedEvent.Topic, waitTimeout)
			if f.available(t, TwinRoomID, "2025-11-02", "2025-11-03") {
				t.Errorf("a reservation without a hold did not book the room")
			}
			var processed int
			if err := f.svc.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM keiyaku_processed_events`).Scan(&processed); err != nil {
				t.Fatal(err)
			}
			if processed != 3 {
				t.Errorf("%d processed event ids, want 3", processed)
			}
		})
	}
}
