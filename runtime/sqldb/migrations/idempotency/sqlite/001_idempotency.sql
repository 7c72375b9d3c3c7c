-- Idempotency-Key records (sqldb.IdempotencyStore). expires_at is in
-- Unix nanoseconds of the calling process's clock, as the
-- idempotency.Store contract requires; state 1 is in flight, 2 completed.
CREATE TABLE keiyaku_idempotency (
	idempotency_key TEXT PRIMARY KEY,
	fingerprint     TEXT NOT NULL,
	token           TEXT NOT NULL,
	state           INTEGER NOT NULL,
	status          INTEGER NOT NULL DEFAULT 0,
	header          TEXT,
	body            BLOB,
	expires_at      INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX keiyaku_idempotency_expires_at ON keiyaku_idempotency (expires_at);
