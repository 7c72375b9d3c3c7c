package room

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"

	roomv1 "github.com/keiyaku/keiyaku/gen/room/v1"
	"github.com/keiyaku/keiyaku/runtime/problem"
)

// api implements the operations of contracts/room/v1.
type api struct {
	store   *store
	holdTTL time.Duration
}

var _ roomv1.StrictServerInterface = (*api)(nil)

// GetRoom answers the room, or 404.
func (a *api) GetRoom(ctx context.Context, req roomv1.GetRoomRequestObject) (roomv1.GetRoomResponseObject, error) {
	id := req.RoomId.String()
	r, ok, err := a.store.room(ctx, a.store.db.Reader(), id, false)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, roomNotFound(id)
	}
	return roomv1.GetRoom200JSONResponse{
		Id:          req.RoomId,
		Number:      r.number,
		Type:        roomv1.RoomType(r.typ),
		Capacity:    r.capacity,
		NightlyRate: roomv1.Money{Amount: r.amount, Currency: r.currency},
	}, nil
}

// GetRoomAvailability answers whether no active hold overlaps the range,
// read from the database at the time of the request.
func (a *api) GetRoomAvailability(ctx context.Context, req roomv1.GetRoomAvailabilityRequestObject) (roomv1.GetRoomAvailabilityResponseObject, error) {
	id := req.RoomId.String()
	in, out := req.Params.CheckIn, req.Params.CheckOut
	if !out.After(in.Time) {
		return nil, problem.BadRequest("checkOut must be after checkIn",
			problem.FieldError{Field: "query.checkOut", Reason: "must be after checkIn"})
	}
	if _, ok, err := a.store.room(ctx, a.store.db.Reader(), id, false); err != nil {
		return nil, err
	} else if !ok {
		return nil, roomNotFound(id)
	}
	n, err := a.store.overlapping(ctx, a.store.db.Reader(), id, day(in), day(out), millis(a.store.now()), "")
	if err != nil {
		return nil, err
	}
	return roomv1.GetRoomAvailability200JSONResponse{
		RoomId: req.RoomId, CheckIn: in, CheckOut: out, Available: n == 0,
	}, nil
}

// CreateRoomHold holds the room for the reservation: 201 with a hold that
// expires after the hold TTL, 409 when any night overlaps an active hold
// of another reservation, 404 for an unknown room. An active hold of the
// same reservation for the same nights is answered again rather than
// refused, so a retry with a new Idempotency-Key does not lock the
// reservation out of its own room. The check and the insert are one
// transaction, with the room row locked on PostgreSQL, so two requests
// never both win the same night.
func (a *api) CreateRoomHold(ctx context.Context, req roomv1.CreateRoomHoldRequestObject) (roomv1.CreateRoomHoldResponseObject, error) {
	id := req.RoomId.String()
	body := req.Body
	if !body.CheckOut.After(body.CheckIn.Time) {
		return nil, problem.BadRequest("checkOut must be after checkIn",
			problem.FieldError{Field: "body.checkOut", Reason: "must be after checkIn"})
	}
	in, out := day(body.CheckIn), day(body.CheckOut)
	now := a.store.now()
	h := holdRow{
		id: newHoldID(), roomID: id, reservationID: body.ReservationId.String(),
		checkIn: in, checkOut: out, status: statusHeld, expiresAt: millis(now.Add(a.holdTTL)),
	}
	err := a.store.db.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, ok, err := a.store.room(ctx, tx, id, true); err != nil {
			return err
		} else if !ok {
			return roomNotFound(id)
		}
		if prev, ok, err := a.store.activeHoldOf(ctx, tx, id, h.reservationID, in, out, millis(now)); err != nil {
			return err
		} else if ok {
			h = prev
			return nil
		}
		n, err := a.store.overlapping(ctx, tx, id, in, out, millis(now), "")
		if err != nil {
			return err
		}
		if n > 0 {
			return problem.Conflict(fmt.Sprintf("room %s is not available from %s to %s", id, in, out))
		}
		return a.store.insertHold(ctx, tx, h, millis(now))
	})
	if err != nil {
		return nil, err
	}
	hold, err := h.api()
	if err != nil {
		return nil, err
	}
	return roomv1.CreateRoomHold201JSONResponse(hold), nil
}

// ReleaseRoomHold releases the hold so that it no longer blocks the room:
// 204, also when it was released already; 404 when the room has no such
// hold.
func (a *api) ReleaseRoomHold(ctx context.Context, req roomv1.ReleaseRoomHoldRequestObject) (roomv1.ReleaseRoomHoldResponseObject, error) {
	roomID, holdID := req.RoomId.String(), req.HoldId.String()
	err := a.store.db.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var status string
		err := tx.QueryRowContext(ctx, a.store.db.Rebind(`SELECT status FROM holds WHERE id = ? AND room_id = ?`),
			holdID, roomID).Scan(&status)
		if err == sql.ErrNoRows {
			return problem.NotFound(fmt.Sprintf("hold %s of room %s was not found", holdID, roomID))
		}
		if err != nil {
			return fmt.Errorf("read hold %s: %w", holdID, err)
		}
		if status == statusReleased {
			return nil
		}
		if _, err := tx.ExecContext(ctx, a.store.db.Rebind(`UPDATE holds SET status = ?, updated_at = ? WHERE id = ?`),
			statusReleased, millis(a.store.now()), holdID); err != nil {
			return fmt.Errorf("release hold %s: %w", holdID, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return roomv1.ReleaseRoomHold204Response{}, nil
}

// api returns h as the contract's Hold.
func (h holdRow) api() (roomv1.Hold, error) {
	var out roomv1.Hold
	var err error
	parse := func(field, s string) openapi_types.Date {
		d, perr := time.Parse(dateLayout, s)
		if perr != nil && err == nil {
			err = fmt.Errorf("hold %s: %s %q: %w", h.id, field, s, perr)
		}
		return openapi_types.Date{Time: d}
	}
	ids := []struct {
		dst *openapi_types.UUID
		s   string
	}{{&out.Id, h.id}, {&out.RoomId, h.roomID}, {&out.ReservationId, h.reservationID}}
	for _, id := range ids {
		u, perr := uuid.Parse(id.s)
		if perr != nil && err == nil {
			err = fmt.Errorf("hold %s: id %q: %w", h.id, id.s, perr)
		}
		*id.dst = u
	}
	out.CheckIn = parse("check_in", h.checkIn)
	out.CheckOut = parse("check_out", h.checkOut)
	out.Status = roomv1.HoldStatus(h.status)
	out.ExpiresAt = time.UnixMilli(h.expiresAt).UTC()
	return out, err
}

func roomNotFound(id string) *problem.Problem {
	return problem.NotFound(fmt.Sprintf("room %s was not found", id))
}

// day formats a contract date as stored.
func day(d openapi_types.Date) string { return d.Format(dateLayout) }
