package notification

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	notificationv1 "github.com/keiyaku/keiyaku/gen/notification/v1"
	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

// mailer "sends" the e-mails of the reservation events: it records each
// one in the notifications table and logs it. Its handlers run in the
// transaction that records the event id (app.NewConsumer), which db.InTx
// joins; the log line is written after the row, and repeated only if the
// transaction fails and the event is handled again.
type mailer struct {
	db  *sqldb.DB
	now func() time.Time
	log *slog.Logger
}

var _ notificationv1.EventHandler = (*mailer)(nil)

// message is one e-mail.
type message struct {
	member, reservation string
	kind                notificationv1.NotificationKind
	subject, body       string
}

// OnReservationCreated tells the member that the reservation is confirmed.
func (m *mailer) OnReservationCreated(ctx context.Context, env events.Envelope, evt *notificationv1.ReservationCreated) error {
	in, out := evt.CheckIn.UTC().Format(time.DateOnly), evt.CheckOut.UTC().Format(time.DateOnly)
	total := "?"
	if evt.TotalPrice.Amount != nil {
		total = evt.TotalPrice.Amount.FloatString(2)
	}
	return m.send(ctx, env, message{
		member: evt.MemberID, reservation: evt.ReservationID,
		kind:    notificationv1.NotificationKindReservationConfirmed,
		subject: "Your reservation for " + in + " is confirmed",
		body: fmt.Sprintf("Your reservation %s of room %s from %s to %s for %d guests is confirmed. Total: %s %s.",
			evt.ReservationID, evt.RoomID, in, out, evt.Guests, total, evt.TotalPrice.Currency),
	})
}

// OnReservationCancelled tells the member that the reservation is
// cancelled.
func (m *mailer) OnReservationCancelled(ctx context.Context, env events.Envelope, evt *notificationv1.ReservationCancelled) error {
	in, out := evt.CheckIn.UTC().Format(time.DateOnly), evt.CheckOut.UTC().Format(time.DateOnly)
	body := fmt.Sprintf("Your reservation %s of room %s from %s to %s is cancelled.", evt.ReservationID, evt.RoomID, in, out)
	if evt.Reason != nil && *evt.Reason != "" {
		body += " Reason: " + *evt.Reason
	}
	return m.send(ctx, env, message{
		member: evt.MemberID, reservation: evt.ReservationID,
		kind:    notificationv1.NotificationKindReservationCancelled,
		subject: "Your reservation for " + in + " is cancelled",
		body:    body,
	})
}

// send records msg, caused by the event env, and logs it. An event that
// already caused a notification sends nothing.
func (m *mailer) send(ctx context.Context, env events.Envelope, msg message) error {
	id := uuid.NewString()
	sentAt := m.now().UTC()
	var n int64
	err := m.db.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, m.db.Rebind(`
INSERT INTO notifications (id, member_id, reservation_id, kind, channel, subject, body, sent_at, event_id)
VALUES (?, ?, ?, ?, 'email', ?, ?, ?, ?)
ON CONFLICT (event_id) DO NOTHING`),
			id, msg.member, msg.reservation, string(msg.kind), msg.subject, msg.body, sentAt.UnixMilli(), env.ID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("notify member %s of reservation %s: %w", msg.member, msg.reservation, err)
	}
	if n == 0 {
		m.log.DebugContext(ctx, "email already sent for this event", "event_id", env.ID)
		return nil
	}
	m.log.InfoContext(ctx, "email sent",
		"notification_id", id, "member_id", msg.member, "reservation_id", msg.reservation,
		"kind", string(msg.kind), "subject", msg.subject, "event_id", env.ID)
	return nil
}
