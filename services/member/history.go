package member

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"

	memberv1 "github.com/keiyaku/keiyaku/gen/member/v1"
	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

// history keeps the members' reservation history from the reservation
// events. Its handlers run in the transaction that records the event id
// (app.NewConsumer), which db.InTx joins.
type history struct {
	db  *sqldb.DB
	log *slog.Logger
}

var _ memberv1.EventHandler = (*history)(nil)

// OnReservationCreated adds the stay to the member's history. A row that
// exists already is left as it is, except that a stay seen cancelled
// before it was seen booked gets its booking details; so the handler
// changes nothing when run again, and never revives a cancelled stay.
func (h *history) OnReservationCreated(ctx context.Context, env events.Envelope, evt *memberv1.ReservationCreated) error {
	var amount *string
	if evt.TotalPrice.Amount != nil {
		s := evt.TotalPrice.Amount.FloatString(2)
		amount = &s
	}
	err := h.db.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, h.db.Rebind(`
INSERT INTO member_reservations
	(reservation_id, member_id, room_id, check_in, check_out, guests, total_amount, currency, status, booked_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'confirmed', ?)
ON CONFLICT (reservation_id) DO UPDATE SET
	guests = excluded.guests, total_amount = excluded.total_amount,
	currency = excluded.currency, booked_at = excluded.booked_at
WHERE member_reservations.booked_at IS NULL`),
			evt.ReservationID, evt.MemberID, evt.RoomID,
			evt.CheckIn.UTC().Format(dateLayout), evt.CheckOut.UTC().Format(dateLayout),
			evt.Guests, amount, evt.TotalPrice.Currency, evt.CreatedAt.UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("record reservation %s of member %s: %w", evt.ReservationID, evt.MemberID, err)
	}
	h.log.InfoContext(ctx, "reservation added to the member's history",
		"member_id", evt.MemberID, "reservation_id", evt.ReservationID, "event_id", env.ID)
	return nil
}

// OnReservationCancelled marks the stay cancelled, adding it to the
// history first if its ReservationCreated was not seen (yet).
func (h *history) OnReservationCancelled(ctx context.Context, env events.Envelope, evt *memberv1.ReservationCancelled) error {
	err := h.db.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, h.db.Rebind(`
INSERT INTO member_reservations
	(reservation_id, member_id, room_id, check_in, check_out, status, cancelled_at, cancel_reason)
VALUES (?, ?, ?, ?, ?, 'cancelled', ?, ?)
ON CONFLICT (reservation_id) DO UPDATE SET
	status = 'cancelled', cancelled_at = excluded.cancelled_at, cancel_reason = excluded.cancel_reason`),
			evt.ReservationID, evt.MemberID, evt.RoomID,
			evt.CheckIn.UTC().Format(dateLayout), evt.CheckOut.UTC().Format(dateLayout),
			evt.CancelledAt.UnixMilli(), evt.Reason)
		return err
	})
	if err != nil {
		return fmt.Errorf("cancel reservation %s of member %s: %w", evt.ReservationID, evt.MemberID, err)
	}
	h.log.InfoContext(ctx, "reservation cancelled in the member's history",
		"member_id", evt.MemberID, "reservation_id", evt.ReservationID, "event_id", env.ID)
	return nil
}
