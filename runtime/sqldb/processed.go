package sqldb

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/keiyaku/keiyaku/runtime/events"
)

// The components whose migrations this package applies.
const (
	ProcessedComponent   = "keiyaku.processed"
	IdempotencyComponent = "keiyaku.idempotency"
)

//go:embed migrations
var migrationsFS embed.FS

// migrate applies the embedded migrations of one of this package's
// tables.
func migrate(ctx context.Context, db *DB, component, dir string) error {
	sub, err := fs.Sub(migrationsFS, "migrations/"+dir)
	if err != nil {
		return fmt.Errorf("migrations %q: %w", dir, err)
	}
	return db.Migrate(ctx, component, sub)
}

// Processed is the durable [events.Processed] on a DB: it records the ids
// of processed events in the table keiyaku_processed_events(event_id
// primary key, processed_at), in the transaction that runs the handler, so
// that a redelivered event changes nothing. It is safe for concurrent use
// by goroutines and by processes sharing the database.
type Processed struct {
	db     *DB
	insert string
	prune  string
}

var _ events.Processed = (*Processed)(nil)

// NewProcessed returns the durable events.Processed of
// github.com/keiyaku/keiyaku/runtime/events on db, creating or updating
// its table (migrations of the component [ProcessedComponent]).
func NewProcessed(ctx context.Context, db *DB) (*Processed, error) {
	if db == nil || db.DB == nil {
		return nil, errors.New("sqldb: new processed: nil db")
	}
	if err := migrate(ctx, db, ProcessedComponent, "processed"); err != nil {
		return nil, fmt.Errorf("sqldb: new processed: %w", err)
	}
	return &Processed{
		db: db,
		insert: db.Rebind(`INSERT INTO keiyaku_processed_events (event_id, processed_at) VALUES (?, ?)
ON CONFLICT (event_id) DO NOTHING`),
		prune: db.Rebind(`DELETE FROM keiyaku_processed_events WHERE processed_at < ?`),
	}, nil
}

// Process records eventID and runs fn in one transaction ([DB.InTx]):
// the ctx given to fn carries the transaction, and the handler does its
// database work through [TxFrom](ctx), so that its writes and the id
// commit together, or — when fn returns an error, which Process returns
// as it is — neither does. An id recorded already returns done=true
// without running fn.
//
// The id is inserted before fn runs, so a concurrent Process of the same
// id, in this process or another, waits for the transaction to end (the
// row lock on PostgreSQL, the write lock on SQLite) and then finds the id
// recorded, or, if fn failed, runs fn itself. Transactions that lose a
// serialization race are retried as InTx says, running fn again.
//
// Called with a ctx that carries a transaction of the same DB (inside
// InTx), Process joins that transaction. An empty eventID or a nil fn is
// an error.
func (p *Processed) Process(ctx context.Context, eventID string, fn func(ctx context.Context) error) (bool, error) {
	if eventID == "" {
		return false, errors.New("sqldb: process: empty event id")
	}
	if fn == nil {
		return false, errors.New("sqldb: process: nil func")
	}
	var done bool
	err := p.db.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, p.insert, eventID, time.Now().UTC())
		if err != nil {
			return fmt.Errorf("sqldb: process %q: record id: %w", eventID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqldb: process %q: record id: %w", eventID, err)
		}
		done = n == 0
		if done {
			return nil
		}
		return fn(ctx)
	})
	if err != nil {
		return false, err
	}
	return done, nil
}

// Prune forgets the ids processed before t and returns how many it
// forgot. An event redelivered after its id is forgotten is processed
// again: keep ids longer than the consumer can lag (the topic's
// retention).
func (p *Processed) Prune(ctx context.Context, t time.Time) (int64, error) {
	res, err := p.db.ExecContext(ctx, p.prune, t.UTC())
	if err != nil {
		return 0, fmt.Errorf("sqldb: prune processed events: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqldb: prune processed events: %w", err)
	}
	return n, nil
}
