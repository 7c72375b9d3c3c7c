package reservation

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"

	reservationv1 "github.com/keiyaku/keiyaku/gen/reservation/v1"
)

// querier is what a *sql.DB and a *sql.Tx share.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// row is a row of reservations: dates as "YYYY-MM-DD", instants in Unix
// milliseconds, money as a decimal string.
type row struct {
	id, memberID, roomID, holdID string
	checkIn, checkOut            string
	guests                       int32
	amount, currency             string
	status                       string
	createdAt                    int64
	cancelledAt                  *int64
	cancelReason                 *string
}

const rowColumns = `id, member_id, room_id, hold_id, check_in, check_out, guests, total_amount, currency,
	status, created_at, cancelled_at, cancel_reason`

// get reads the reservation with the given id; ok is false when there is
// none.
func (a *api) get(ctx context.Context, q querier, id string) (r row, ok bool, err error) {
	var (
		cancelledAt sql.NullInt64
		reason      sql.NullString
	)
	err = q.QueryRowContext(ctx, a.db.Rebind(`SELECT `+rowColumns+` FROM reservations WHERE id = ?`), id).Scan(
		&r.id, &r.memberID, &r.roomID, &r.holdID, &r.checkIn, &r.checkOut, &r.guests, &r.amount, &r.currency,
		&r.status, &r.createdAt, &cancelledAt, &reason)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("read reservation %s: %w", id, err)
	}
	if cancelledAt.Valid {
		r.cancelledAt = &cancelledAt.Int64
	}
	if reason.Valid {
		r.cancelReason = &reason.String
	}
	return r, true, nil
}

// insert adds r in tx.
func (a *api) insert(ctx context.Context, tx *sql.Tx, r row) error {
	_, err := tx.ExecContext(ctx, a.db.Rebind(`INSERT INTO reservations (`+rowColumns+`)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		r.id, r.memberID, r.roomID, r.holdID, r.checkIn, r.checkOut, r.guests, r.amount, r.currency,
		r.status, r.createdAt, r.cancelledAt, r.cancelReason)
	if err != nil {
		return fmt.Errorf("insert reservation %s: %w", r.id, err)
	}
	return nil
}

// api returns r as the contract's Reservation.
func (r row) api() (reservationv1.Reservation, error) {
	var out reservationv1.Reservation
	var errs []error
	parseID := func(s string) openapi_types.UUID {
		u, err := uuid.Parse(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("id %q: %w", s, err))
		}
		return u
	}
	parseDate := func(s string) openapi_types.Date {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			errs = append(errs, fmt.Errorf("date %q: %w", s, err))
		}
		return openapi_types.Date{Time: d}
	}
	out.Id, out.MemberId, out.RoomId = parseID(r.id), parseID(r.memberID), parseID(r.roomID)
	out.CheckIn, out.CheckOut = parseDate(r.checkIn), parseDate(r.checkOut)
	out.Guests = r.guests
	out.Status = reservationv1.ReservationStatus(r.status)
	out.CreatedAt = time.UnixMilli(r.createdAt).UTC()
	if r.cancelledAt != nil {
		t := time.UnixMilli(*r.cancelledAt).UTC()
		out.CancelledAt = &t
	}
	if err := errors.Join(errs...); err != nil {
		return out, fmt.Errorf("reservation %s: %w", r.id, err)
	}
	return out, nil
}
