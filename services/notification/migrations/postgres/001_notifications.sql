-- The notifications the service sent, one per reservation event (the
-- event id is unique: a redelivered event sends nothing). Ids are UUIDs in
-- canonical lower-case text; sent_at is in Unix milliseconds (UTC).
CREATE TABLE notifications (
	id             TEXT PRIMARY KEY,
	member_id      TEXT NOT NULL,
	reservation_id TEXT NOT NULL,
	kind           TEXT NOT NULL CHECK (kind IN ('reservation-confirmed', 'reservation-cancelled')),
	channel        TEXT NOT NULL CHECK (channel IN ('email')),
	subject        TEXT NOT NULL,
	body           TEXT NOT NULL,
	sent_at        BIGINT NOT NULL,
	event_id       TEXT NOT NULL UNIQUE
);

CREATE INDEX notifications_member ON notifications (member_id, sent_at);
