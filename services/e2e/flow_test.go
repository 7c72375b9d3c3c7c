package e2e_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	reservationv1 "github.com/keiyaku/keiyaku/gen/reservation/v1"
	"github.com/keiyaku/keiyaku/services/demo/stack"
	"github.com/keiyaku/keiyaku/services/member"
	"github.com/keiyaku/keiyaku/services/room"
)

// TestFlow pins the whole flow of the reference system over real TCP: a
// reservation is decided by the synchronous checks (an active member, a
// free room; a suspended member is 422, a taken night 409, an unknown room
// 404), its ReservationCreated event reaches the three consumers (the
// member's history, the room's confirmed hold, a confirmation e-mail
// visible through the notification API), all of it under the trace id of
// the request; the same Idempotency-Key replays the answer; and a
// cancellation frees the room and sends its own e-mail.
func TestFlow(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			rec := tracetest.NewSpanRecorder()
			sys := start(t, b, stack.WithSpanProcessor(rec))
			ctx := t.Context()
			in, out := day(2031, 3, 1), day(2031, 3, 4)
			want := stack.Booking{Member: member.ActiveMemberID, Room: room.DoubleRoomID, CheckIn: in, CheckOut: out, Guests: 2}

			refusals := []struct {
				name string
				b    stack.Booking
				want int
			}{
				{"suspended member", stack.Booking{Member: member.SuspendedMemberID, Room: room.DoubleRoomID, CheckIn: in, CheckOut: out, Guests: 2}, http.StatusUnprocessableEntity},
				{"unknown member", stack.Booking{Member: uuid.NewString(), Room: room.DoubleRoomID, CheckIn: in, CheckOut: out, Guests: 2}, http.StatusNotFound},
				{"unknown room", stack.Booking{Member: member.ActiveMemberID, Room: uuid.NewString(), CheckIn: in, CheckOut: out, Guests: 2}, http.StatusNotFound},
				{"too many guests", stack.Booking{Member: member.ActiveMemberID, Room: room.SingleRoomID, CheckIn: in, CheckOut: out, Guests: 2}, http.StatusUnprocessableEntity},
				{"check-out before check-in", stack.Booking{Member: member.ActiveMemberID, Room: room.DoubleRoomID, CheckIn: out, CheckOut: in, Guests: 2}, http.StatusBadRequest},
			}
			for _, r := range refusals {
				res, err := sys.client.Book(ctx, uuid.NewString(), r.b)
				if err != nil {
					t.Fatal(err)
				}
				if res.Status != r.want {
					t.Errorf("%s: %d %s, want %d", r.name, res.Status, res.Problem, r.want)
				}
			}

			key := uuid.NewString()
			res, err := sys.client.Book(ctx, key, want)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != http.StatusCreated || res.Header.Get("Location") != "/reservations/"+res.ID {
				t.Fatalf("book: %d %s, Location %q", res.Status, res.Problem, res.Header.Get("Location"))
			}
			id := res.ID
			taken, err := sys.client.Book(ctx, uuid.NewString(), stack.Booking{
				Member: member.OtherActiveMemberID, Room: room.DoubleRoomID, CheckIn: day(2031, 3, 3), CheckOut: day(2031, 3, 5), Guests: 1,
			})
			if err != nil {
				t.Fatal(err)
			}
			if taken.Status != http.StatusConflict {
				t.Errorf("an overlapping stay: %d %s, want 409", taken.Status, taken.Problem)
			}
			replay, err := sys.client.Book(ctx, key, want)
			if err != nil {
				t.Fatal(err)
			}
			if replay.Status != http.StatusCreated || replay.ID != id || replay.Header.Get("Idempotent-Replayed") != "true" {
				t.Errorf("same key and body again: %d, id %s, replayed %q; want 201, %s, true", replay.Status, replay.ID, replay.Header.Get("Idempotent-Replayed"), id)
			}
			other := want
			other.Guests = 1
			if res, err := sys.client.Book(ctx, key, other); err != nil || res.Status != http.StatusUnprocessableEntity {
				t.Errorf("same key, another body: %d, %v; want 422", res.Status, err)
			}

			sys.settle(t, settleTimeout)
			free, err := sys.client.Available(ctx, room.DoubleRoomID, in, out)
			if err != nil {
				t.Fatal(err)
			}
			if free {
				t.Error("the room is still free after its reservation")
			}
			ns, err := sys.client.Notifications(ctx, member.ActiveMemberID)
			if err != nil {
				t.Fatal(err)
			}
			if len(ns) != 1 || ns[0].ReservationId.String() != id || ns[0].Kind != "reservation-confirmed" {
				t.Errorf("notifications = %+v, want one confirmation of %s", ns, id)
			}
			mem := sys.audit(t, stack.Member)
			if n := count(t, mem, `SELECT COUNT(*) FROM member_reservations WHERE reservation_id = ? AND member_id = ? AND status = 'confirmed' AND guests = 2 AND total_amount = '54000.00'`,
				id, member.ActiveMemberID); n != 1 {
				t.Errorf("member history rows for %s: %d, want 1 confirmed stay of 2 guests at 54000.00", id, n)
			}
			assertOneTrace(t, rec, id)

			cancel, err := sys.client.ReservationAPI.CancelReservationWithResponse(ctx, uuid.MustParse(id), reservationv1.CancelReservationRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if cancel.JSON200 == nil || cancel.JSON200.Status != reservationv1.ReservationStatusCancelled {
				t.Fatalf("cancel: %d %s", cancel.StatusCode(), cancel.Body)
			}
			sys.settle(t, settleTimeout)
			if free, err := sys.client.Available(ctx, room.DoubleRoomID, in, out); err != nil || !free {
				t.Errorf("after the cancellation the room is free = %v (%v), want true", free, err)
			}
			ns, err = sys.client.Notifications(ctx, member.ActiveMemberID)
			if err != nil {
				t.Fatal(err)
			}
			if len(ns) != 2 || ns[0].Kind != "reservation-cancelled" || ns[0].ReservationId.String() != id {
				t.Errorf("notifications after the cancellation = %+v, want the cancellation first, then the confirmation", ns)
			}
			if n := count(t, mem, `SELECT COUNT(*) FROM member_reservations WHERE reservation_id = ? AND status = 'cancelled'`, id); n != 1 {
				t.Errorf("member history: %d cancelled rows for %s, want 1", n, id)
			}
			if err := sys.Err(); err != nil {
				t.Error(err)
			}
		})
	}
}

// assertOneTrace checks that the request that made reservation id and the
// handling of its event in the three consumers share one trace id, with
// spans from all four services.
func assertOneTrace(t *testing.T, rec *tracetest.SpanRecorder, id string) {
	t.Helper()
	var traceID trace.TraceID
	for _, s := range rec.Ended() {
		if s.SpanKind() == trace.SpanKindConsumer && serviceName(s.Resource().Attributes()) == stack.Member {
			traceID = s.SpanContext().TraceID()
		}
	}
	if !traceID.IsValid() {
		t.Fatal("no consumer span of member was recorded")
	}
	seen := map[string]bool{}
	for _, s := range rec.Ended() {
		if s.SpanContext().TraceID() == traceID {
			seen[serviceName(s.Resource().Attributes())] = true
		}
	}
	for _, svc := range stack.Services {
		if !seen[svc] {
			t.Errorf("trace %s (reservation %s) has no span of %s; it has %v", traceID, id, svc, seen)
		}
	}
}

// serviceName returns the service.name among a resource's attributes.
func serviceName(attrs []attribute.KeyValue) string {
	for _, kv := range attrs {
		if kv.Key == "service.name" {
			return kv.Value.AsString()
		}
	}
	return ""
}
