package notification

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	notificationv1 "github.com/keiyaku/keiyaku/gen/notification/v1"
	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

// defaultLimit is the page size when the request has no limit (the
// contract's default).
const defaultLimit = 20

// api implements the operations of contracts/notification/v1.
type api struct {
	db *sqldb.DB
}

var _ notificationv1.StrictServerInterface = (*api)(nil)

// ListNotifications answers the member's notifications, most recent
// first. A member without any gets an empty list, not a 404: the service
// knows members only through the events.
func (a *api) ListNotifications(ctx context.Context, req notificationv1.ListNotificationsRequestObject) (notificationv1.ListNotificationsResponseObject, error) {
	limit := int32(defaultLimit)
	if req.Params.Limit != nil {
		limit = *req.Params.Limit // 1..100, checked against the contract
	}
	member := req.Params.MemberId.String()
	rows, err := a.db.Reader().QueryContext(ctx, a.db.Rebind(`
SELECT id, reservation_id, kind, channel, subject, sent_at, event_id FROM notifications
WHERE member_id = ? ORDER BY sent_at DESC, event_id DESC LIMIT ?`), member, limit)
	if err != nil {
		return nil, fmt.Errorf("list notifications of member %s: %w", member, err)
	}
	defer func() { _ = rows.Close() }()
	out := notificationv1.NotificationList{Items: []notificationv1.Notification{}}
	for rows.Next() {
		var (
			n               notificationv1.Notification
			id, reservation string
			kind, channel   string
			sentAt          int64
		)
		if err := rows.Scan(&id, &reservation, &kind, &channel, &n.Subject, &sentAt, &n.EventId); err != nil {
			return nil, fmt.Errorf("list notifications of member %s: %w", member, err)
		}
		if n.Id, err = uuid.Parse(id); err != nil {
			return nil, fmt.Errorf("notification %q: %w", id, err)
		}
		if n.ReservationId, err = uuid.Parse(reservation); err != nil {
			return nil, fmt.Errorf("notification %s: reservation %q: %w", id, reservation, err)
		}
		n.MemberId = req.Params.MemberId
		n.Kind = notificationv1.NotificationKind(kind)
		n.Channel = notificationv1.NotificationChannel(channel)
		n.SentAt = time.UnixMilli(sentAt).UTC()
		out.Items = append(out.Items, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list notifications of member %s: %w", member, err)
	}
	return notificationv1.ListNotifications200JSONResponse(out), nil
}
