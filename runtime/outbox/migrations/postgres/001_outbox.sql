-- The transactional outbox (outbox.Store): records written in the
-- transaction of a state change, published by the relay in id order.
CREATE TABLE keiyaku_outbox (
	id         BIGSERIAL PRIMARY KEY,
	topic      TEXT NOT NULL,
	key        BYTEA,
	value      BYTEA,
	headers    JSONB NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	sent_at    TIMESTAMPTZ
);

-- The pending rows, oldest first: what relays claim, and what they look
-- through to find an older row of the same key held by another relay.
CREATE INDEX keiyaku_outbox_pending ON keiyaku_outbox (id) WHERE sent_at IS NULL;
CREATE INDEX keiyaku_outbox_sent_at ON keiyaku_outbox (sent_at) WHERE sent_at IS NOT NULL;
