-- Members and the reservation history the member service keeps from the
-- reservation events. Ids are UUIDs in canonical lower-case text; dates
-- are 'YYYY-MM-DD' text; instants are Unix milliseconds (UTC).
CREATE TABLE members (
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL,
	email        TEXT NOT NULL,
	status       TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'withdrawn')),
	tier         TEXT NOT NULL CHECK (tier IN ('standard', 'silver', 'gold', 'platinum')),
	member_since TEXT
);

-- One row per reservation of a member, written by the event consumer.
-- booked_at is NULL while only the cancellation was seen.
CREATE TABLE member_reservations (
	reservation_id TEXT PRIMARY KEY,
	member_id      TEXT NOT NULL,
	room_id        TEXT NOT NULL,
	check_in       TEXT NOT NULL,
	check_out      TEXT NOT NULL,
	guests         INTEGER,
	total_amount   TEXT,
	currency       TEXT,
	status         TEXT NOT NULL CHECK (status IN ('confirmed', 'cancelled')),
	booked_at      BIGINT,
	cancelled_at   BIGINT,
	cancel_reason  TEXT
);

CREATE INDEX member_reservations_member ON member_reservations (member_id, check_in);
