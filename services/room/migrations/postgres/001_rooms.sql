-- Rooms and the holds that block them. Ids are UUIDs in canonical
-- lower-case text; dates are 'YYYY-MM-DD' text, so that text order is
-- date order; instants are Unix milliseconds (UTC). Money is a decimal
-- string with two fraction digits, never a float.
CREATE TABLE rooms (
	id          TEXT PRIMARY KEY,
	number      TEXT NOT NULL UNIQUE,
	type        TEXT NOT NULL CHECK (type IN ('single', 'double', 'twin', 'suite')),
	capacity    INTEGER NOT NULL CHECK (capacity BETWEEN 1 AND 8),
	rate_amount TEXT NOT NULL,
	currency    TEXT NOT NULL
);

-- A hold blocks the nights [check_in, check_out) of a room while it is
-- active: status 'confirmed', or 'held' and expires_at still ahead.
CREATE TABLE holds (
	id             TEXT PRIMARY KEY,
	room_id        TEXT NOT NULL REFERENCES rooms (id),
	reservation_id TEXT NOT NULL,
	check_in       TEXT NOT NULL,
	check_out      TEXT NOT NULL,
	status         TEXT NOT NULL CHECK (status IN ('held', 'confirmed', 'released')),
	expires_at     BIGINT NOT NULL,
	created_at     BIGINT NOT NULL,
	updated_at     BIGINT NOT NULL,
	CHECK (check_in < check_out)
);

CREATE INDEX holds_room_dates ON holds (room_id, check_in);
CREATE INDEX holds_reservation ON holds (reservation_id);
