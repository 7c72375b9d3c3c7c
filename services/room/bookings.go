package room

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"

	roomv1 "github.com/keiyaku/keiyaku/gen/room/v1"
	"github.com/keiyaku/keiyaku/runtime/events"
)

// bookings turns the reservation events into confirmed and released
// holds. Its handlers run in the transaction that records the event id
// (app.NewConsumer), which store.db.InTx joins.
type bookings struct {
	store *store
	log   *slog.Logger
}

var _ roomv1.EventHandler = (*bookings)(nil)

// OnReservationCreated confirms the held hold of the reservation, for
// good. A reservation without any hold (made when the hold was lost) gets
// a confirmed booking of its own; one whose holds were all released (it
// was cancelled before this event was handled) is left alone, its
// ReservationCancelled follows. Confirming over nights another active hold
// blocks is done anyway — the reservation exists — and logged as a double
// booking.
func (b *bookings) OnReservationCreated(ctx context.Context, env events.Envelope, evt *roomv1.ReservationCreated) error {
	in, out := evt.CheckIn.UTC().Format(dateLayout), evt.CheckOut.UTC().Format(dateLayout)
	now := millis(b.store.now())
	var action string
	err := b.store.db.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, b.store.db.Rebind(`UPDATE holds SET status = ?, updated_at = ?
WHERE reservation_id = ? AND room_id = ? AND status = ?`),
			statusConfirmed, now, evt.ReservationID, evt.RoomID, statusHeld)
		if err != nil {
			return fmt.Errorf("confirm hold: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("confirm hold: %w", err)
		}
		action = "hold confirmed"
		if n == 0 {
			var holds int
			if err := tx.QueryRowContext(ctx, b.store.db.Rebind(`SELECT COUNT(*) FROM holds WHERE reservation_id = ?`),
				evt.ReservationID).Scan(&holds); err != nil {
				return fmt.Errorf("count holds: %w", err)
			}
			if holds > 0 {
				action = "already confirmed or released"
				return nil
			}
			if _, ok, err := b.store.room(ctx, tx, evt.RoomID, true); err != nil {
				return err
			} else if !ok {
				action = "unknown room: nothing to book"
				return nil
			}
			action = "booking recorded without a hold"
			if err := b.store.insertHold(ctx, tx, holdRow{
				id: newHoldID(), roomID: evt.RoomID, reservationID: evt.ReservationID,
				checkIn: in, checkOut: out, status: statusConfirmed, expiresAt: now,
			}, now); err != nil {
				return err
			}
		}
		clash, err := b.store.overlapping(ctx, tx, evt.RoomID, in, out, now, evt.ReservationID)
		if err != nil {
			return err
		}
		if clash > 0 {
			b.log.ErrorContext(ctx, "double booking: a confirmed reservation overlaps other active holds",
				"room_id", evt.RoomID, "reservation_id", evt.ReservationID, "check_in", in, "check_out", out, "holds", clash)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reservation %s created: %w", evt.ReservationID, err)
	}
	b.log.InfoContext(ctx, "reservation created: "+action,
		"room_id", evt.RoomID, "reservation_id", evt.ReservationID, "event_id", env.ID)
	return nil
}

// OnReservationCancelled releases every hold of the reservation, so its
// nights are available again.
func (b *bookings) OnReservationCancelled(ctx context.Context, env events.Envelope, evt *roomv1.ReservationCancelled) error {
	var n int64
	err := b.store.db.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, b.store.db.Rebind(`UPDATE holds SET status = ?, updated_at = ?
WHERE reservation_id = ? AND status <> ?`),
			statusReleased, millis(b.store.now()), evt.ReservationID, statusReleased)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("reservation %s cancelled: release holds: %w", evt.ReservationID, err)
	}
	b.log.InfoContext(ctx, "reservation cancelled: holds released",
		"room_id", evt.RoomID, "reservation_id", evt.ReservationID, "released", n, "event_id", env.ID)
	return nil
}
