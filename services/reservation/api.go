package reservation

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/twmb/franz-go/pkg/kgo"

	memberv1 "github.com/keiyaku/keiyaku/gen/member/v1"
	reservationv1 "github.com/keiyaku/keiyaku/gen/reservation/v1"
	roomv1 "github.com/keiyaku/keiyaku/gen/room/v1"
	"github.com/keiyaku/keiyaku/runtime/outbox"
	"github.com/keiyaku/keiyaku/runtime/problem"
	"github.com/keiyaku/keiyaku/runtime/resilience"
	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

// MaxNights is the longest stay a reservation may book.
const MaxNights = 365

// idNamespace is the UUID namespace of reservation ids derived from
// Idempotency-Keys.
var idNamespace = uuid.MustParse("b0a7c1e2-5d4f-4e3a-9c8b-7a6f5e4d3c2b")

// api implements the operations of contracts/reservation/v1.
type api struct {
	db      *sqldb.DB
	outbox  *outbox.Store
	relay   *outbox.Relay
	events  *reservationv1.Publisher
	members *memberv1.ClientWithResponses
	rooms   *roomv1.ClientWithResponses
	now     func() time.Time
	log     *slog.Logger
}

var _ reservationv1.StrictServerInterface = (*api)(nil)

// EarliestCheckIn is the earliest check-in date accepted at now: the date
// of now in the last time zone on Earth (UTC-12). A date before it is in
// the past everywhere; a date that is still today somewhere is accepted.
func EarliestCheckIn(now time.Time) time.Time {
	y, m, d := now.UTC().Add(-12 * time.Hour).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// CreateReservation checks the member, holds the room, and stores the
// reservation with its ReservationCreated event (see the package
// documentation).
func (a *api) CreateReservation(ctx context.Context, req reservationv1.CreateReservationRequestObject) (reservationv1.CreateReservationResponseObject, error) {
	body := req.Body
	in, out := body.CheckIn.Time, body.CheckOut.Time
	if !out.After(in) {
		return nil, problem.BadRequest("checkOut must be after checkIn",
			problem.FieldError{Field: "body.checkOut", Reason: "must be after checkIn"})
	}
	if earliest := EarliestCheckIn(a.now()); in.Before(earliest) {
		return nil, problem.BadRequest("checkIn is in the past",
			problem.FieldError{Field: "body.checkIn", Reason: "must not be in the past"})
	}
	nights := int64(out.Sub(in).Hours() / 24)
	if nights > MaxNights {
		return nil, problem.Unprocessable(fmt.Sprintf("a stay may last at most %d nights; this one lasts %d", MaxNights, nights),
			problem.FieldError{Field: "body.checkOut", Reason: fmt.Sprintf("must be at most %d nights after checkIn", MaxNights)})
	}
	id := reservationID(req.Params.IdempotencyKey, body)
	// The key was used before, its record expired, and the request is
	// the same: answer the reservation it made.
	if r, ok, err := a.get(ctx, a.db.Reader(), id.String()); err != nil {
		return nil, err
	} else if ok {
		return created(r)
	}

	if err := a.checkMember(ctx, body.MemberId); err != nil {
		return nil, err
	}
	room, err := a.getRoom(ctx, body.RoomId)
	if err != nil {
		return nil, err
	}
	if body.Guests > room.Capacity {
		return nil, problem.Unprocessable(fmt.Sprintf("room %s holds at most %d guests", body.RoomId, room.Capacity),
			problem.FieldError{Field: "body.guests", Reason: fmt.Sprintf("must be at most %d for this room", room.Capacity)})
	}
	rate, ok := new(big.Rat).SetString(room.NightlyRate.Amount)
	if !ok {
		return nil, fmt.Errorf("room %s: nightly rate %q is not a decimal", body.RoomId, room.NightlyRate.Amount)
	}
	total := new(big.Rat).Mul(rate, new(big.Rat).SetInt64(nights))
	hold, err := a.holdRoom(ctx, id, body)
	if err != nil {
		return nil, err
	}

	r := row{
		id: id.String(), memberID: body.MemberId.String(), roomID: body.RoomId.String(), holdID: hold.String(),
		checkIn: in.Format(time.DateOnly), checkOut: out.Format(time.DateOnly), guests: body.Guests,
		amount: total.FloatString(2), currency: room.NightlyRate.Currency,
		status: string(reservationv1.ReservationStatusConfirmed), createdAt: a.now().UTC().UnixMilli(),
	}
	rec, err := a.events.ReservationCreatedRecord(ctx, &reservationv1.ReservationCreated{
		ReservationID: r.id, MemberID: r.memberID, RoomID: r.roomID,
		CheckIn: in.UTC(), CheckOut: out.UTC(), Guests: body.Guests,
		TotalPrice: reservationv1.Money{Amount: total, Currency: r.currency},
		CreatedAt:  time.UnixMilli(r.createdAt).UTC(),
	})
	if err != nil {
		return nil, fmt.Errorf("reservation %s: %w", r.id, err)
	}
	err = a.db.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := a.insert(ctx, tx, r); err != nil {
			return err
		}
		return a.outbox.Add(ctx, tx, rec)
	})
	if err != nil {
		return nil, fmt.Errorf("store reservation %s: %w", r.id, err)
	}
	a.relay.Notify()
	a.log.InfoContext(ctx, "reservation created", "reservation_id", r.id, "member_id", r.memberID, "room_id", r.roomID, "hold_id", r.holdID)
	return created(r)
}

// GetReservation answers the reservation, or 404.
func (a *api) GetReservation(ctx context.Context, req reservationv1.GetReservationRequestObject) (reservationv1.GetReservationResponseObject, error) {
	r, ok, err := a.get(ctx, a.db.Reader(), req.ReservationId.String())
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound(req.ReservationId)
	}
	out, err := r.api()
	if err != nil {
		return nil, err
	}
	return reservationv1.GetReservation200JSONResponse(out), nil
}

// CancelReservation cancels a confirmed reservation and stores its
// ReservationCancelled event in the same transaction, then releases the
// room hold (best effort: the room service also releases it when the event
// reaches it). An unknown reservation is 404, a cancelled one 409.
func (a *api) CancelReservation(ctx context.Context, req reservationv1.CancelReservationRequestObject) (reservationv1.CancelReservationResponseObject, error) {
	id := req.ReservationId.String()
	var reason *string
	if req.Body != nil && req.Body.Reason != nil {
		reason = req.Body.Reason
	}
	var r row
	err := a.db.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var ok bool
		var err error
		r, ok, err = a.get(ctx, tx, id)
		if err != nil {
			return err
		}
		if !ok {
			return notFound(req.ReservationId)
		}
		if r.status == string(reservationv1.ReservationStatusCancelled) {
			return problem.Conflict(fmt.Sprintf("reservation %s is already cancelled", id))
		}
		at := a.now().UTC().UnixMilli()
		res, err := tx.ExecContext(ctx, a.db.Rebind(`UPDATE reservations SET status = ?, cancelled_at = ?, cancel_reason = ?
WHERE id = ? AND status = ?`),
			string(reservationv1.ReservationStatusCancelled), at, reason, id, string(reservationv1.ReservationStatusConfirmed))
		if err != nil {
			return fmt.Errorf("cancel reservation %s: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("cancel reservation %s: %w", id, err)
		} else if n == 0 {
			return problem.Conflict(fmt.Sprintf("reservation %s is already cancelled", id))
		}
		r.status, r.cancelledAt, r.cancelReason = string(reservationv1.ReservationStatusCancelled), &at, reason
		rec, err := a.cancelledRecord(ctx, r)
		if err != nil {
			return err
		}
		return a.outbox.Add(ctx, tx, rec)
	})
	if err != nil {
		return nil, err
	}
	a.relay.Notify()
	a.log.InfoContext(ctx, "reservation cancelled", "reservation_id", id, "member_id", r.memberID, "room_id", r.roomID)
	a.releaseHold(ctx, r)
	out, err := r.api()
	if err != nil {
		return nil, err
	}
	return reservationv1.CancelReservation200JSONResponse(out), nil
}

func (a *api) cancelledRecord(ctx context.Context, r row) (*kgo.Record, error) {
	in, err := time.Parse(time.DateOnly, r.checkIn)
	if err != nil {
		return nil, fmt.Errorf("reservation %s: check_in %q: %w", r.id, r.checkIn, err)
	}
	out, err := time.Parse(time.DateOnly, r.checkOut)
	if err != nil {
		return nil, fmt.Errorf("reservation %s: check_out %q: %w", r.id, r.checkOut, err)
	}
	rec, err := a.events.ReservationCancelledRecord(ctx, &reservationv1.ReservationCancelled{
		ReservationID: r.id, MemberID: r.memberID, RoomID: r.roomID, CheckIn: in, CheckOut: out,
		Reason: r.cancelReason, CancelledAt: time.UnixMilli(*r.cancelledAt).UTC(),
	})
	if err != nil {
		return nil, fmt.Errorf("reservation %s: %w", r.id, err)
	}
	return rec, nil
}

// checkMember asks the member service whether the member may book: nil for
// an active member, a 422 problem for a suspended or withdrawn one, 404
// for an unknown one, 503 when the member service cannot answer and no
// recent answer is at hand.
func (a *api) checkMember(ctx context.Context, id openapi_types.UUID) error {
	resp, err := a.members.GetMemberWithResponse(ctx, id)
	if err != nil {
		a.log.WarnContext(ctx, "member service unavailable, and no last good answer for the member", "member_id", id, "error", err)
		return problem.Unavailable("member service is unavailable")
	}
	switch code := resp.StatusCode(); {
	case code == http.StatusOK && resp.JSON200 != nil:
		m := resp.JSON200
		if resilience.IsFallback(resp.HTTPResponse) {
			a.log.WarnContext(ctx, "member service unavailable: using its last good answer",
				"member_id", id, "status", m.Status, "age_seconds", resp.HTTPResponse.Header.Get("Age"))
		}
		if m.Status != memberv1.MemberStatusActive {
			return problem.Unprocessable(fmt.Sprintf("member %s is not active (status %s)", id, m.Status),
				problem.FieldError{Field: "body.memberId", Reason: "must be an active member"})
		}
		return nil
	case code == http.StatusNotFound:
		return problem.NotFound(fmt.Sprintf("member %s was not found", id))
	case code >= 500:
		a.log.WarnContext(ctx, "member service failed", "member_id", id, "status", code)
		return problem.Unavailable("member service is unavailable")
	default:
		return fmt.Errorf("member service answered GET /members/%s with %d %s: %s", id, code, resp.HTTPResponse.Header.Get("Content-Type"), truncate(resp.Body))
	}
}

// getRoom asks the room service for the room: 404 for an unknown room,
// 503 when the room service cannot answer.
func (a *api) getRoom(ctx context.Context, id openapi_types.UUID) (*roomv1.Room, error) {
	resp, err := a.rooms.GetRoomWithResponse(ctx, id)
	if err != nil {
		a.log.WarnContext(ctx, "room service unavailable", "room_id", id, "error", err)
		return nil, problem.Unavailable("room service is unavailable")
	}
	switch code := resp.StatusCode(); {
	case code == http.StatusOK && resp.JSON200 != nil:
		return resp.JSON200, nil
	case code == http.StatusNotFound:
		return nil, problem.NotFound(fmt.Sprintf("room %s was not found", id))
	case code >= 500:
		a.log.WarnContext(ctx, "room service failed", "room_id", id, "status", code)
		return nil, problem.Unavailable("room service is unavailable")
	default:
		return nil, fmt.Errorf("room service answered GET /rooms/%s with %d: %s", id, code, truncate(resp.Body))
	}
}

// holdRoom holds the room for the reservation, with an Idempotency-Key
// derived from the reservation id, and returns the hold id: 409 when a
// night is taken, 404 for an unknown room, 503 when the room service
// cannot answer.
func (a *api) holdRoom(ctx context.Context, id uuid.UUID, body *reservationv1.CreateReservationRequest) (openapi_types.UUID, error) {
	resp, err := a.rooms.CreateRoomHoldWithResponse(ctx, body.RoomId,
		&roomv1.CreateRoomHoldParams{IdempotencyKey: holdKey(id)},
		roomv1.HoldRequest{ReservationId: id, CheckIn: body.CheckIn, CheckOut: body.CheckOut})
	if err != nil {
		a.log.WarnContext(ctx, "room service unavailable", "room_id", body.RoomId, "error", err)
		return uuid.Nil, problem.Unavailable("room service is unavailable")
	}
	switch code := resp.StatusCode(); {
	case code == http.StatusCreated && resp.JSON201 != nil:
		return resp.JSON201.Id, nil
	case code == http.StatusConflict:
		return uuid.Nil, problem.Conflict(fmt.Sprintf("room %s is not available from %s to %s",
			body.RoomId, body.CheckIn.Format(time.DateOnly), body.CheckOut.Format(time.DateOnly)))
	case code == http.StatusNotFound:
		return uuid.Nil, problem.NotFound(fmt.Sprintf("room %s was not found", body.RoomId))
	case code >= 500:
		a.log.WarnContext(ctx, "room service failed to hold the room", "room_id", body.RoomId, "status", code)
		return uuid.Nil, problem.Unavailable("room service is unavailable")
	default:
		return uuid.Nil, fmt.Errorf("room service answered the hold of room %s with %d: %s", body.RoomId, code, truncate(resp.Body))
	}
}

// releaseHold releases the reservation's hold, logging a failure: the
// room service releases it anyway when the ReservationCancelled event
// reaches it.
func (a *api) releaseHold(ctx context.Context, r row) {
	roomID, err1 := uuid.Parse(r.roomID)
	holdID, err2 := uuid.Parse(r.holdID)
	if err := errors.Join(err1, err2); err != nil {
		a.log.ErrorContext(ctx, "reservation with malformed ids", "reservation_id", r.id, "error", err)
		return
	}
	resp, err := a.rooms.ReleaseRoomHoldWithResponse(ctx, roomID, holdID)
	switch {
	case err != nil:
		a.log.WarnContext(ctx, "hold not released now; the ReservationCancelled event will release it",
			"reservation_id", r.id, "hold_id", r.holdID, "error", err)
	case resp.StatusCode() != http.StatusNoContent && resp.StatusCode() != http.StatusNotFound:
		a.log.WarnContext(ctx, "hold not released now; the ReservationCancelled event will release it",
			"reservation_id", r.id, "hold_id", r.holdID, "status", resp.StatusCode())
	}
}

// reservationID derives the id of the reservation a request creates from
// its Idempotency-Key and what it asks for, so that a retry of the same
// request creates, and holds the room for, the same reservation.
func reservationID(key string, b *reservationv1.CreateReservationRequest) uuid.UUID {
	name := key + "\n" + b.MemberId.String() + "\n" + b.RoomId.String() + "\n" +
		b.CheckIn.Format(time.DateOnly) + "\n" + b.CheckOut.Format(time.DateOnly) + "\n" + strconv.Itoa(int(b.Guests))
	return uuid.NewSHA1(idNamespace, []byte(name))
}

// holdKey is the Idempotency-Key of the hold of reservation id.
func holdKey(id uuid.UUID) string { return "rsv-" + id.String() }

func created(r row) (reservationv1.CreateReservationResponseObject, error) {
	out, err := r.api()
	if err != nil {
		return nil, err
	}
	loc := "/reservations/" + r.id
	return reservationv1.CreateReservation201JSONResponse{
		Body:    out,
		Headers: reservationv1.CreateReservation201ResponseHeaders{Location: &loc},
	}, nil
}

func notFound(id openapi_types.UUID) *problem.Problem {
	return problem.NotFound(fmt.Sprintf("reservation %s was not found", id))
}

// truncate bounds a neighbour's body quoted in an error.
func truncate(b []byte) string {
	const max = 256
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}
