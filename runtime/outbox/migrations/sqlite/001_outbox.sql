-- The transactional outbox (outbox.Store): records written in the
-- transaction of a state change, published by the relay. AUTOINCREMENT
-- keeps ids growing even after sent rows are deleted: the relay sends in
-- id order.
CREATE TABLE keiyaku_outbox (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	topic      TEXT NOT NULL,
	key        BLOB,
	value      BLOB,
	headers    TEXT NOT NULL,
	created_at TIMESTAMP NOT NULL,
	sent_at    TIMESTAMP
);

CREATE INDEX keiyaku_outbox_pending ON keiyaku_outbox (id) WHERE sent_at IS NULL;
CREATE INDEX keiyaku_outbox_sent_at ON keiyaku_outbox (sent_at) WHERE sent_at IS NOT NULL;
