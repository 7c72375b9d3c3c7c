// Package outbox is the transactional outbox of Keiyaku services: the
// producer side of effectively-once delivery. A service writes its state
// change and the Kafka records of its events in one database transaction;
// a [Relay] publishes the records afterwards and marks them sent. If the
// transaction rolls back, no event exists; if Kafka is down, the events
// wait in the table, and none is lost.
//
//	store, err := outbox.NewStore(ctx, db) // db is a *sqldb.DB
//	relay, err := outbox.NewRelay(store, producer.Send,
//		outbox.WithLogger(logger), outbox.WithMeterProvider(mp))
//	go relay.Run(ctx)
//
//	err = db.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
//		if err := reservations.Insert(ctx, tx, r); err != nil {
//			return err
//		}
//		rec, err := events.NewRecord(ctx, producer, reservationv1.ReservationCreatedType, evt)
//		if err != nil {
//			return err
//		}
//		return store.Add(ctx, tx, rec)
//	})
//	if err == nil {
//		relay.Notify() // send now rather than at the next poll
//	}
//
// # Table
//
// keiyaku_outbox holds one row per record: id (bigserial on PostgreSQL,
// INTEGER PRIMARY KEY AUTOINCREMENT on SQLite: growing, never reused),
// topic, key, value (bytea/blob; NULL for a nil key or value), headers (a
// JSON array, in order), created_at, and sent_at, NULL until the relay
// has sent the row. Sent rows are deleted after a retention
// ([WithRetention], 24h). The table is created by the migrations of the
// component "keiyaku.outbox" ([sqldb.DB.Migrate]).
//
// # Order per key
//
// The relay sends pending rows oldest first (by id), a batch per call of
// send, and marks a batch sent only after send returned nil. A failed send
// is retried, with backoff, from the oldest pending row: the same batch
// again, never a later one, so a key's records reach Kafka in the order
// they were added — with, after a lost acknowledgement, some sent twice
// (consumers drop duplicates by the CloudEvents id, which does not
// change). Since the record key decides the partition, a consumer sees a
// key's events in order. Order is the order of commit for transactions
// that follow each other; two transactions adding records of one key at
// the same moment have no order between them (they usually cannot: both
// change the same aggregate row, which serializes them). Records without
// a key have no order to keep.
//
// # Several relays: FOR UPDATE SKIP LOCKED
//
// On PostgreSQL several relays — replicas of one service — may run on one
// outbox. Each claims its batch in a transaction that locks the oldest
// pending rows with FOR UPDATE SKIP LOCKED, so that relays never wait for
// each other nor send the same row, and holds the locks until the batch
// is marked sent. Skipping alone would reorder a key: relay B could claim
// the second record of a key while relay A is sending the first. So of
// the rows it locked a relay sends only those with no older pending row of
// the same key outside its batch — such a row is held by another relay —
// and leaves the others for a later round. Each key thus flows through one
// relay at a time, and different keys through all of them.
//
// On SQLite run one relay per database. SQLite has one writer at a time
// (see package sqldb), and the relay never holds the write lock while it
// waits for the broker: it reads a batch, sends it, then marks it sent in
// a short transaction.
//
// # Metrics
//
// With [WithMeterProvider]: keiyaku.outbox.lag, a histogram of the
// seconds from created_at to sent_at of each record — how stale events
// are when they reach Kafka; keiyaku.outbox.pending, a gauge of the rows
// not sent yet, read when metrics are collected; keiyaku.outbox.sent and
// keiyaku.outbox.send.failures, counters. A growing pending gauge with
// failures means the broker is unreachable or a record cannot be sent;
// the relay's warn logs say which.
package outbox
