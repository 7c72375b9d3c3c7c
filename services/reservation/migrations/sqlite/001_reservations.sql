-- Reservations. Ids are UUIDs in canonical lower-case text; dates are
-- 'YYYY-MM-DD' text; instants are Unix milliseconds (UTC); money is a
-- decimal string with two fraction digits, never a float. The events of a
-- reservation go to the outbox table of runtime/outbox, in the same
-- transaction as the row they describe.
CREATE TABLE reservations (
	id            TEXT PRIMARY KEY,
	member_id     TEXT NOT NULL,
	room_id       TEXT NOT NULL,
	hold_id       TEXT NOT NULL,
	check_in      TEXT NOT NULL,
	check_out     TEXT NOT NULL,
	guests        INTEGER NOT NULL CHECK (guests BETWEEN 1 AND 8),
	total_amount  TEXT NOT NULL,
	currency      TEXT NOT NULL,
	status        TEXT NOT NULL CHECK (status IN ('confirmed', 'cancelled')),
	created_at    INTEGER NOT NULL,
	cancelled_at  INTEGER,
	cancel_reason TEXT,
	CHECK (check_in < check_out)
);

CREATE INDEX reservations_member ON reservations (member_id, created_at);
