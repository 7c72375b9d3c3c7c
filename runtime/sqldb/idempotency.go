package sqldb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/keiyaku/keiyaku/runtime/idempotency"
)

// Defaults of the options of [NewIdempotencyStore].
const (
	// DefaultMaxKeyBytes is the longest key an IdempotencyStore accepts.
	DefaultMaxKeyBytes = 1024
	// DefaultSweepInterval is the least time between two deletions of
	// expired records.
	DefaultSweepInterval = time.Minute
)

// The states of a record in keiyaku_idempotency.state.
const (
	stateInFlight  = 1
	stateCompleted = 2
)

// beginAttempts bounds the rounds of Begin that find a live record gone
// by the time they read it.
const beginAttempts = 5

// IdempotencyStore is the durable [idempotency.Store] on a DB: records
// live in the table keiyaku_idempotency, shared by every process using
// the database. It passes the conformance suite
// runtime/idempotency/idempotencytest. It is safe for concurrent use.
//
// Expiry is measured with the calling process's clock (time.Now), stored
// as Unix nanoseconds: processes sharing a store need synchronised
// clocks. Expired records are deleted by Begin, at most once per sweep
// interval ([WithSweepInterval]); no goroutine runs in the background.
// Begin never returns [idempotency.ErrFull]: the database bounds the
// store.
type IdempotencyStore struct {
	db          *DB
	maxKeyBytes int
	sweepEvery  time.Duration
	lastSweep   atomic.Int64 // Unix nanoseconds of the last sweep

	claim, get, complete, release, sweep string
}

var _ idempotency.Store = (*IdempotencyStore)(nil)

// IdempotencyOption configures [NewIdempotencyStore].
type IdempotencyOption func(*idempotencyConfig)

type idempotencyConfig struct {
	maxKeyBytes int
	sweepEvery  time.Duration
	errs        []error
}

// WithMaxKeyBytes sets the longest key, in bytes, that Begin accepts,
// overriding [DefaultMaxKeyBytes]; Begin refuses a longer key with an
// error. n must be between 1 and 2048 (PostgreSQL cannot index much
// longer keys).
func WithMaxKeyBytes(n int) IdempotencyOption {
	return func(c *idempotencyConfig) {
		if n < 1 || n > 2048 {
			c.errs = append(c.errs, fmt.Errorf("max key bytes %d: must be between 1 and 2048", n))
			return
		}
		c.maxKeyBytes = n
	}
}

// WithSweepInterval sets the least time between two deletions of expired
// records, overriding [DefaultSweepInterval]. d must be positive.
func WithSweepInterval(d time.Duration) IdempotencyOption {
	return func(c *idempotencyConfig) {
		if d <= 0 {
			c.errs = append(c.errs, fmt.Errorf("sweep interval %v: must be positive", d))
			return
		}
		c.sweepEvery = d
	}
}

// NewIdempotencyStore returns an idempotency.Store
// (github.com/keiyaku/keiyaku/runtime/idempotency) on db, creating or
// updating its table (migrations of the component
// [IdempotencyComponent]).
func NewIdempotencyStore(ctx context.Context, db *DB, opts ...IdempotencyOption) (*IdempotencyStore, error) {
	if db == nil || db.DB == nil {
		return nil, errors.New("sqldb: new idempotency store: nil db")
	}
	cfg := idempotencyConfig{maxKeyBytes: DefaultMaxKeyBytes, sweepEvery: DefaultSweepInterval}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("sqldb: new idempotency store: nil option")
		}
		o(&cfg)
	}
	if err := errors.Join(cfg.errs...); err != nil {
		return nil, fmt.Errorf("sqldb: new idempotency store: %w", err)
	}
	if err := migrate(ctx, db, IdempotencyComponent, "idempotency"); err != nil {
		return nil, fmt.Errorf("sqldb: new idempotency store: %w", err)
	}
	s := &IdempotencyStore{
		db:          db,
		maxKeyBytes: cfg.maxKeyBytes,
		sweepEvery:  cfg.sweepEvery,
		// The upsert claims a free key, or one whose record expired.
		claim: db.Rebind(`INSERT INTO keiyaku_idempotency
	(idempotency_key, fingerprint, token, state, status, header, body, expires_at)
VALUES (?, ?, ?, 1, 0, NULL, NULL, ?)
ON CONFLICT (idempotency_key) DO UPDATE SET
	fingerprint = excluded.fingerprint, token = excluded.token, state = 1,
	status = 0, header = NULL, body = NULL, expires_at = excluded.expires_at
WHERE keiyaku_idempotency.expires_at <= ?`),
		get: db.Rebind(`SELECT fingerprint, state, status, header, body, expires_at
FROM keiyaku_idempotency WHERE idempotency_key = ? AND expires_at > ?`),
		complete: db.Rebind(`UPDATE keiyaku_idempotency
SET state = 2, status = ?, header = ?, body = ?, expires_at = ?
WHERE idempotency_key = ? AND token = ? AND state = 1 AND expires_at > ?`),
		release: db.Rebind(`DELETE FROM keiyaku_idempotency
WHERE idempotency_key = ? AND token = ? AND state = 1 AND expires_at > ?`),
		sweep: db.Rebind(`DELETE FROM keiyaku_idempotency WHERE expires_at <= ?`),
	}
	s.lastSweep.Store(time.Now().UnixNano())
	return s, nil
}

// Begin implements [idempotency.Store.Begin]. A key longer than the
// store's limit ([WithMaxKeyBytes]) is an error.
func (s *IdempotencyStore) Begin(ctx context.Context, key, fingerprint string, lockTTL time.Duration) (idempotency.Claim, error) {
	if err := ctx.Err(); err != nil {
		return idempotency.Claim{}, fmt.Errorf("idempotency: begin: %w", err)
	}
	switch {
	case key == "":
		return idempotency.Claim{}, errors.New("idempotency: begin: empty key")
	case len(key) > s.maxKeyBytes:
		return idempotency.Claim{}, fmt.Errorf("idempotency: begin: key of %d bytes: longer than %d", len(key), s.maxKeyBytes)
	case fingerprint == "":
		return idempotency.Claim{}, errors.New("idempotency: begin: empty fingerprint")
	case lockTTL <= 0:
		return idempotency.Claim{}, fmt.Errorf("idempotency: begin: lock ttl %v is not positive", lockTTL)
	}
	s.maybeSweep(ctx)
	var claim idempotency.Claim
	err := s.db.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for range beginAttempts {
			now := time.Now()
			token := rand.Text()
			expires := now.Add(lockTTL)
			res, err := tx.ExecContext(ctx, s.claim, key, fingerprint, token, expires.UnixNano(), now.UnixNano())
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n == 1 {
				claim = idempotency.Claim{
					Acquired: true,
					Token:    token,
					Record: idempotency.Record{
						Key: key, Fingerprint: fingerprint, State: idempotency.InFlight,
						ExpiresAt: time.Unix(0, expires.UnixNano()),
					},
				}
				return nil
			}
			rec, err := s.getRecord(ctx, tx, key, time.Now())
			if errors.Is(err, idempotency.ErrNotFound) {
				continue // released or expired meanwhile: claim again
			}
			if err != nil {
				return err
			}
			claim = idempotency.Claim{Record: rec}
			return nil
		}
		return fmt.Errorf("key %q changed %d times while claiming it", key, beginAttempts)
	})
	if err != nil {
		return idempotency.Claim{}, fmt.Errorf("idempotency: begin: %w", err)
	}
	return claim, nil
}

// Complete implements [idempotency.Store.Complete].
func (s *IdempotencyStore) Complete(ctx context.Context, key, token string, res idempotency.Response, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("idempotency: complete: %w", err)
	}
	if ttl <= 0 {
		return fmt.Errorf("idempotency: complete: ttl %v is not positive", ttl)
	}
	var header any
	if res.Header != nil {
		h, err := json.Marshal(res.Header)
		if err != nil {
			return fmt.Errorf("idempotency: complete: header: %w", err)
		}
		header = string(h)
	}
	var body any
	if res.Body != nil {
		body = res.Body
	}
	now := time.Now()
	r, err := s.db.execGrouped(ctx, s.complete, res.Status, header, body, now.Add(ttl).UnixNano(), key, token, now.UnixNano())
	if err != nil {
		return fmt.Errorf("idempotency: complete: %w", err)
	}
	return lockLost(r, "complete")
}

// Release implements [idempotency.Store.Release].
func (s *IdempotencyStore) Release(ctx context.Context, key, token string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("idempotency: release: %w", err)
	}
	r, err := s.db.execGrouped(ctx, s.release, key, token, time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("idempotency: release: %w", err)
	}
	return lockLost(r, "release")
}

// lockLost returns ErrLockLost unless r changed one row.
func lockLost(r sql.Result, op string) error {
	n, err := r.RowsAffected()
	if err != nil {
		return fmt.Errorf("idempotency: %s: %w", op, err)
	}
	if n == 0 {
		return fmt.Errorf("idempotency: %s: %w", op, idempotency.ErrLockLost)
	}
	return nil
}

// Get implements [idempotency.Store.Get].
func (s *IdempotencyStore) Get(ctx context.Context, key string) (idempotency.Record, error) {
	if err := ctx.Err(); err != nil {
		return idempotency.Record{}, fmt.Errorf("idempotency: get: %w", err)
	}
	rec, err := s.getRecord(ctx, s.db, key, time.Now())
	if err != nil {
		return idempotency.Record{}, fmt.Errorf("idempotency: get: %w", err)
	}
	return rec, nil
}

// rowQuerier is what getRecord needs of a *sql.DB or *sql.Tx.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// getRecord reads the live record of key, or returns ErrNotFound.
func (s *IdempotencyStore) getRecord(ctx context.Context, q rowQuerier, key string, now time.Time) (idempotency.Record, error) {
	var (
		rec     = idempotency.Record{Key: key}
		state   int
		header  sql.NullString
		body    []byte
		expires int64
	)
	err := q.QueryRowContext(ctx, s.get, key, now.UnixNano()).Scan(
		&rec.Fingerprint, &state, &rec.Response.Status, &header, &body, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return idempotency.Record{}, idempotency.ErrNotFound
	}
	if err != nil {
		return idempotency.Record{}, err
	}
	rec.ExpiresAt = time.Unix(0, expires)
	switch state {
	case stateInFlight:
		rec.State = idempotency.InFlight
		rec.Response = idempotency.Response{}
	case stateCompleted:
		rec.State = idempotency.Completed
		if header.Valid {
			var h http.Header
			if err := json.Unmarshal([]byte(header.String), &h); err != nil {
				return idempotency.Record{}, fmt.Errorf("record %q: header: %w", key, err)
			}
			rec.Response.Header = h
		}
		rec.Response.Body = body
	default:
		return idempotency.Record{}, fmt.Errorf("record %q: unknown state %d", key, state)
	}
	return rec, nil
}

// maybeSweep deletes expired records if the last sweep is older than the
// sweep interval. A failed sweep is logged and tried again next time.
func (s *IdempotencyStore) maybeSweep(ctx context.Context) {
	now := time.Now()
	last := s.lastSweep.Load()
	if now.UnixNano()-last < int64(s.sweepEvery) || !s.lastSweep.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	if _, err := s.db.ExecContext(ctx, s.sweep, now.UnixNano()); err != nil {
		s.db.logger().WarnContext(ctx, "sqldb: idempotency: delete expired records", "error", err)
	}
}
