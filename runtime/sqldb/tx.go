package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// Backoff between two attempts of a transaction in InTx.
const (
	txBackoffInitial = 10 * time.Millisecond
	txBackoffMax     = 500 * time.Millisecond
)

// txKey is the context key of the transaction InTx runs.
type txKey struct{}

type txValue struct {
	db *DB
	tx *sql.Tx
}

// TxFrom returns the transaction that [DB.InTx] (or a store built on it,
// such as [Processed.Process]) passes in the context to its function.
func TxFrom(ctx context.Context) (*sql.Tx, bool) {
	v, ok := ctx.Value(txKey{}).(txValue)
	return v.tx, ok
}

// InTx runs fn in a transaction, committing when fn returns nil and
// rolling back otherwise; the ctx passed to fn carries the tx ([TxFrom]).
// fn must do its database work through tx: on SQLite the pool has one
// connection by default, which tx holds, so a query on db itself waits
// until ctx ends.
//
// A transaction that fails with a serialization failure or a deadlock
// (PostgreSQL SQLSTATE 40001, 40P01) or with SQLITE_BUSY or SQLITE_LOCKED
// — from fn's statements, which fn returns wrapped or not, or from the
// commit — is rolled back and run again, up to [WithMaxTxAttempts] times
// in all, with exponential backoff (10ms to 500ms, jittered) in between.
// fn may therefore run more than once and should have no effects outside
// the transaction. Other errors of fn are returned as they are, after the
// rollback; errors of begin and commit are wrapped.
//
// If ctx already carries a transaction of db (InTx called inside fn of
// another InTx on the same db), fn joins it: it runs once, in that
// transaction, and the outer InTx commits, rolls back or retries it. If fn
// panics, the transaction is rolled back and the panic goes on.
func (db *DB) InTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if fn == nil {
		return errors.New("sqldb: in tx: nil func")
	}
	if v, ok := ctx.Value(txKey{}).(txValue); ok && v.db == db {
		return fn(ctx, v.tx)
	}
	attempts := db.maxAttempts
	if attempts < 1 {
		attempts = DefaultMaxTxAttempts
	}
	b := backoff.ExponentialBackOff{
		InitialInterval:     txBackoffInitial,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         txBackoffMax,
	}
	for attempt := 1; ; attempt++ {
		var err error
		if db.group != nil {
			err = db.group.run(ctx, fn)
		} else {
			err = db.runTx(ctx, fn)
		}
		if err == nil || attempt >= attempts || !(Retryable(err) || errors.Is(err, errGroupAborted)) || ctx.Err() != nil {
			return err
		}
		wait := b.NextBackOff()
		db.logger().DebugContext(ctx, "sqldb: retrying transaction", "attempt", attempt, "wait", wait, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// runTx runs fn once in a new transaction.
func (db *DB) runTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqldb: begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) && err != nil {
				err = errors.Join(err, fmt.Errorf("sqldb: rollback: %w", rbErr))
			}
		}
	}()
	if err := fn(context.WithValue(ctx, txKey{}, txValue{db: db, tx: tx}), tx); err != nil {
		return err
	}
	committed = true
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqldb: commit: %w", err)
	}
	return nil
}

// SQLite primary result codes that mean "try again".
const (
	sqliteBusy   = 5
	sqliteLocked = 6
)

// Retryable reports whether err, or an error it wraps, says the
// transaction lost a race and may succeed if run again: PostgreSQL
// serialization_failure (40001) or deadlock_detected (40P01), SQLite
// SQLITE_BUSY or SQLITE_LOCKED (and their extended codes).
func Retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40001" || pgErr.Code == "40P01"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		code := sqErr.Code() & 0xff
		return code == sqliteBusy || code == sqliteLocked
	}
	return false
}
