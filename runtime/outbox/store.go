package outbox

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

// Component is the migration component of the outbox table.
const Component = "keiyaku.outbox"

// pruneChunk bounds the rows one DELETE of Prune removes, so that no
// statement holds locks for long.
const pruneChunk = 10_000

//go:embed migrations
var migrationsFS embed.FS

// Store is the transactional outbox on a sqldb.DB: table
// keiyaku_outbox(id bigserial/integer pk autoincrement, topic, key
// bytea/blob, value, headers (JSON), created_at, sent_at null). A service
// adds the records of its events with [Store.Add] in the transaction of
// the state change; a [Relay] publishes them. A Store is safe for
// concurrent use.
type Store struct {
	db      *sqldb.DB
	insert  string
	pending string
	claim   string
	prune   string
}

// NewStore returns the outbox on db, creating or updating its table
// (migrations of the component [Component]).
func NewStore(ctx context.Context, db *sqldb.DB) (*Store, error) {
	if db == nil || db.DB == nil {
		return nil, errors.New("outbox: new store: nil db")
	}
	sub, err := fs.Sub(migrationsFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("outbox: new store: %w", err)
	}
	if err := db.Migrate(ctx, Component, sub); err != nil {
		return nil, fmt.Errorf("outbox: new store: %w", err)
	}
	s := &Store{
		db:      db,
		insert:  db.Rebind(`INSERT INTO keiyaku_outbox (topic, key, value, headers, created_at) VALUES (?, ?, ?, ?, ?)`),
		pending: `SELECT count(*) FROM keiyaku_outbox WHERE sent_at IS NULL`,
		prune: db.Rebind(`DELETE FROM keiyaku_outbox WHERE id IN (
	SELECT id FROM keiyaku_outbox WHERE sent_at IS NOT NULL AND sent_at < ? ORDER BY sent_at LIMIT ?)`),
	}
	const columns = `o.id, o.topic, o.key, o.key IS NULL, o.value, o.value IS NULL, o.headers, o.created_at`
	switch db.Dialect {
	case sqldb.Postgres:
		// Lock the oldest pending rows no other relay holds, and of those
		// keep the rows with no older pending row of the same key that
		// this relay does not hold (a blocker): a blocker is another
		// relay's, and sending after it would reorder the key. Pending
		// rows older than this relay's newest that it does not hold are
		// held by other relays, so the blockers are found in one short
		// range scan, whatever the backlog. Records without a key have no
		// order to keep.
		s.claim = `WITH locked AS MATERIALIZED (
	SELECT id, topic, key FROM keiyaku_outbox
	WHERE sent_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
), blockers AS (
	SELECT p.topic, p.key, min(p.id) AS first
	FROM keiyaku_outbox p
	WHERE p.sent_at IS NULL AND p.key IS NOT NULL
		AND p.id < (SELECT max(id) FROM locked)
		AND p.id NOT IN (SELECT id FROM locked)
	GROUP BY p.topic, p.key
)
SELECT ` + columns + `
FROM locked l
JOIN keiyaku_outbox o ON o.id = l.id
LEFT JOIN blockers b ON b.topic = l.topic AND b.key = l.key
WHERE b.first IS NULL OR l.id < b.first
ORDER BY l.id`
	case sqldb.SQLite:
		s.claim = `SELECT ` + columns + ` FROM keiyaku_outbox o WHERE o.sent_at IS NULL ORDER BY o.id LIMIT ?`
	default:
		return nil, fmt.Errorf("outbox: new store: unknown dialect %q", db.Dialect)
	}
	return s, nil
}

// header is a record header as stored in the headers column, in order.
type header struct {
	Key   string `json:"k"`
	Value []byte `json:"v"`
}

// Add stores records in the caller's transaction: the state change and
// its events commit together, or neither does. A nil tx means the
// transaction in ctx ([sqldb.TxFrom]), for a handler run by
// [sqldb.DB.InTx] or [sqldb.Processed.Process]; with neither, Add
// returns an error.
//
// Add keeps each record's Topic, Key, Value and Headers (nil and empty
// keys and values stay apart; header order and duplicates are kept);
// Partition, Timestamp and the other fields are set by the producer when
// the relay sends. A nil record or an empty topic is an error, and then
// no record of the call is added. The relay finds the records once the
// transaction commits; call [Relay.Notify] after the commit to send them
// at once.
func (s *Store) Add(ctx context.Context, tx *sql.Tx, recs ...*kgo.Record) error {
	if tx == nil {
		t, ok := sqldb.TxFrom(ctx)
		if !ok {
			return errors.New("outbox: add: nil tx and no transaction in ctx")
		}
		tx = t
	}
	headers := make([]string, len(recs))
	for i, r := range recs {
		if r == nil {
			return fmt.Errorf("outbox: add: record %d is nil", i)
		}
		if r.Topic == "" {
			return fmt.Errorf("outbox: add: record %d: empty topic", i)
		}
		hs := make([]header, len(r.Headers))
		for j, h := range r.Headers {
			hs[j] = header{Key: h.Key, Value: h.Value}
		}
		b, err := json.Marshal(hs)
		if err != nil {
			return fmt.Errorf("outbox: add: record %d: headers: %w", i, err)
		}
		headers[i] = string(b)
	}
	now := time.Now().UTC()
	for i, r := range recs {
		if _, err := tx.ExecContext(ctx, s.insert, r.Topic, nullable(r.Key), nullable(r.Value), headers[i], now); err != nil {
			return fmt.Errorf("outbox: add: record %d (topic %s): %w", i, r.Topic, err)
		}
	}
	return nil
}

// nullable returns b, or an untyped nil for a nil b, so that drivers
// store NULL rather than an empty blob.
func nullable(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// Pending returns the number of records not sent yet.
func (s *Store) Pending(ctx context.Context) (int, error) {
	var n int
	if err := s.db.Reader().QueryRowContext(ctx, s.pending).Scan(&n); err != nil {
		return 0, fmt.Errorf("outbox: pending: %w", err)
	}
	return n, nil
}

// Prune deletes the records sent before t and returns how many it
// deleted. Pending records are never deleted.
func (s *Store) Prune(ctx context.Context, t time.Time) (int64, error) {
	var total int64
	for {
		res, err := s.db.ExecContext(ctx, s.prune, t.UTC(), pruneChunk)
		if err != nil {
			return total, fmt.Errorf("outbox: prune: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("outbox: prune: %w", err)
		}
		total += n
		if n < pruneChunk {
			return total, nil
		}
	}
}

// row is a claimed outbox row.
type row struct {
	id      int64
	rec     *kgo.Record
	created time.Time
}

// querier is what claim needs of a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// claimRows reads up to limit pending rows, oldest first, through q: on
// PostgreSQL q is the relay's transaction and the rows stay locked until
// it ends.
func (s *Store) claimRows(ctx context.Context, q querier, limit int) ([]row, error) {
	rows, err := q.QueryContext(ctx, s.claim, limit)
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	defer rows.Close()
	var out []row
	for rows.Next() {
		var (
			r                row
			topic            string
			key, value       []byte
			keyNull, valNull bool
			headers          string
		)
		if err := rows.Scan(&r.id, &topic, &key, &keyNull, &value, &valNull, &headers, &r.created); err != nil {
			return nil, fmt.Errorf("claim: %w", err)
		}
		rec := &kgo.Record{Topic: topic, Key: nonNil(key, keyNull), Value: nonNil(value, valNull)}
		var hs []header
		if err := json.Unmarshal([]byte(headers), &hs); err != nil {
			return nil, fmt.Errorf("claim: row %d: headers: %w", r.id, err)
		}
		if len(hs) > 0 {
			rec.Headers = make([]kgo.RecordHeader, len(hs))
			for i, h := range hs {
				rec.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
			}
		}
		r.rec = rec
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	return out, nil
}

// nonNil gives back the empty, non-nil slice a driver may have turned
// into nil, for a column that was not NULL.
func nonNil(b []byte, null bool) []byte {
	if null {
		return nil
	}
	if b == nil {
		return []byte{}
	}
	return b
}

// execer is what markSent needs of a *sql.DB or a *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// markSent sets sent_at of the rows.
func (s *Store) markSent(ctx context.Context, e execer, rows []row, at time.Time) error {
	if s.db.Dialect == sqldb.Postgres {
		// One statement text whatever the batch: pgx sends the ids as an
		// int8[].
		ids := make([]int64, len(rows))
		for i, r := range rows {
			ids[i] = r.id
		}
		if _, err := e.ExecContext(ctx, `UPDATE keiyaku_outbox SET sent_at = $1 WHERE id = ANY($2)`, at, ids); err != nil {
			return fmt.Errorf("mark sent: %w", err)
		}
		return nil
	}
	// SQLite: the ids as one JSON array, so that the statement text is
	// the same whatever the batch and its prepared statement is reused.
	ids := make([]byte, 0, 1+len(rows)*8)
	ids = append(ids, '[')
	for i, r := range rows {
		if i > 0 {
			ids = append(ids, ',')
		}
		ids = strconv.AppendInt(ids, r.id, 10)
	}
	ids = append(ids, ']')
	if _, err := e.ExecContext(ctx, `UPDATE keiyaku_outbox SET sent_at = ? WHERE id IN (SELECT value FROM json_each(?))`, at, string(ids)); err != nil {
		return fmt.Errorf("mark sent: %w", err)
	}
	return nil
}
