-- The ids of the events a consumer has processed (sqldb.Processed).
CREATE TABLE keiyaku_processed_events (
	event_id     TEXT PRIMARY KEY,
	processed_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX keiyaku_processed_events_processed_at ON keiyaku_processed_events (processed_at);
