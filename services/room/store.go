package room

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

// dateLayout is how calendar dates are stored: text order is date order.
const dateLayout = time.DateOnly

// Hold statuses, as stored and as in the contract.
const (
	statusHeld      = "held"
	statusConfirmed = "confirmed"
	statusReleased  = "released"
)

// activeHold is the condition of a hold that blocks its nights; its one
// parameter is the current time in Unix milliseconds.
const activeHold = `(status = 'confirmed' OR (status = 'held' AND expires_at > ?))`

// querier is what a *sql.DB and a *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// store is the room service's data access. Dates are "YYYY-MM-DD"
// strings here; instants are Unix milliseconds.
type store struct {
	db  *sqldb.DB
	now func() time.Time
}

// roomRow is a row of rooms.
type roomRow struct {
	id, number, typ  string
	capacity         int32
	amount, currency string
}

// holdRow is a row of holds.
type holdRow struct {
	id, roomID, reservationID string
	checkIn, checkOut, status string
	expiresAt                 int64
}

// room returns the room with the given id; ok is false when there is none.
// forUpdate locks the row until the end of q's transaction on PostgreSQL
// (SQLite's transactions hold the whole database already).
func (s *store) room(ctx context.Context, q querier, id string, forUpdate bool) (r roomRow, ok bool, err error) {
	query := `SELECT id, number, type, capacity, rate_amount, currency FROM rooms WHERE id = ?`
	if forUpdate && s.db.Dialect == sqldb.Postgres {
		query += ` FOR UPDATE`
	}
	err = q.QueryRowContext(ctx, s.db.Rebind(query), id).
		Scan(&r.id, &r.number, &r.typ, &r.capacity, &r.amount, &r.currency)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("read room %s: %w", id, err)
	}
	return r, true, nil
}

// overlapping counts the active holds of room that block any night of
// [checkIn, checkOut), leaving out those of the reservation except (none
// when empty).
func (s *store) overlapping(ctx context.Context, q querier, roomID, checkIn, checkOut string, now int64, except string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, s.db.Rebind(`SELECT COUNT(*) FROM holds
WHERE room_id = ? AND check_in < ? AND check_out > ? AND reservation_id <> ? AND `+activeHold),
		roomID, checkOut, checkIn, except, now).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count holds of room %s: %w", roomID, err)
	}
	return n, nil
}

// activeHoldOf returns the active hold of reservation on room for exactly
// these dates, if there is one.
func (s *store) activeHoldOf(ctx context.Context, q querier, roomID, reservationID, checkIn, checkOut string, now int64) (h holdRow, ok bool, err error) {
	err = q.QueryRowContext(ctx, s.db.Rebind(`SELECT id, room_id, reservation_id, check_in, check_out, status, expires_at FROM holds
WHERE room_id = ? AND reservation_id = ? AND check_in = ? AND check_out = ? AND `+activeHold),
		roomID, reservationID, checkIn, checkOut, now).
		Scan(&h.id, &h.roomID, &h.reservationID, &h.checkIn, &h.checkOut, &h.status, &h.expiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return h, false, nil
	}
	if err != nil {
		return h, false, fmt.Errorf("read hold of reservation %s: %w", reservationID, err)
	}
	return h, true, nil
}

// insertHold adds h.
func (s *store) insertHold(ctx context.Context, q querier, h holdRow, now int64) error {
	_, err := q.ExecContext(ctx, s.db.Rebind(`INSERT INTO holds
	(id, room_id, reservation_id, check_in, check_out, status, expires_at, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		h.id, h.roomID, h.reservationID, h.checkIn, h.checkOut, h.status, h.expiresAt, now, now)
	if err != nil {
		return fmt.Errorf("insert hold %s: %w", h.id, err)
	}
	return nil
}

// newHoldID returns a fresh hold id.
func newHoldID() string { return uuid.NewString() }

// millis returns t in Unix milliseconds.
func millis(t time.Time) int64 { return t.UnixMilli() }
