package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keiyaku/keiyaku/runtime/sqldb"
	"github.com/keiyaku/keiyaku/runtime/sqldb/sqldbtest"
)

// TestOpenSQLiteSettings pins the connection settings Open gives SQLite
// (WAL, synchronous NORMAL — 1 —, busy timeout, foreign keys) and that a
// setting in the DSN wins over the default.
func TestOpenSQLiteSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		dsn  string
		want map[string]string
	}{
		{"path", filepath.Join(dir, "a.db"), map[string]string{"journal_mode": "wal", "synchronous": "1", "busy_timeout": "5000", "foreign_keys": "1"}},
		{"file uri", "file:" + filepath.Join(dir, "b.db"), map[string]string{"journal_mode": "wal", "busy_timeout": "5000", "foreign_keys": "1"}},
		{"own busy timeout", filepath.Join(dir, "c.db") + "?_pragma=busy_timeout(123)", map[string]string{"journal_mode": "wal", "busy_timeout": "123"}},
		{"shorthand key", filepath.Join(dir, "d.db") + "?_foreign_keys=0", map[string]string{"foreign_keys": "0"}},
		{"synchronous full", filepath.Join(dir, "e.db") + "?_pragma=synchronous(FULL)", map[string]string{"journal_mode": "wal", "synchronous": "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := sqldbtest.Open(t, tt.dsn)
			if db.Dialect != sqldb.SQLite {
				t.Errorf("Dialect = %q, want sqlite", db.Dialect)
			}
			for pragma, want := range tt.want {
				var got string
				if err := db.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
					t.Fatalf("PRAGMA %s: %v", pragma, err)
				}
				if !strings.EqualFold(got, want) {
					t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
				}
			}
		})
	}
}

// TestOpenPostgres pins that a postgres:// DSN opens PostgreSQL and that
// its runtime parameters (search_path) reach the server.
func TestOpenPostgres(t *testing.T) {
	t.Parallel()
	b := sqldbtest.Postgres(postgresDSN())
	dsn := b.DSN(t)
	db := sqldbtest.Open(t, strings.Replace(dsn, "postgres://", "PostgreSQL://", 1))
	if db.Dialect != sqldb.Postgres {
		t.Errorf("Dialect = %q, want postgres", db.Dialect)
	}
	var schema string
	if err := db.QueryRowContext(t.Context(), "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(schema, "kt_") {
		t.Errorf("current_schema() = %q, want the test's kt_ schema", schema)
	}
}

// TestOpenRejectsBadInput pins clear errors, not panics, for bad DSNs and
// options, and that an error never shows the DSN's password.
func TestOpenRejectsBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		dsn  string
		opts []sqldb.Option
		want string
	}{
		{"empty dsn", "", nil, "empty dsn"},
		{"nil option", filepath.Join(t.TempDir(), "x.db"), []sqldb.Option{nil}, "nil option"},
		{"nil logger", filepath.Join(t.TempDir(), "x.db"), []sqldb.Option{sqldb.WithLogger(nil)}, "nil logger"},
		{"zero conns", filepath.Join(t.TempDir(), "x.db"), []sqldb.Option{sqldb.WithMaxOpenConns(0)}, "max open conns"},
		{"zero attempts", filepath.Join(t.TempDir(), "x.db"), []sqldb.Option{sqldb.WithMaxTxAttempts(0)}, "max tx attempts"},
		{"too many attempts", filepath.Join(t.TempDir(), "x.db"), []sqldb.Option{sqldb.WithMaxTxAttempts(1000)}, "max tx attempts"},
		{"sqlite bad query", filepath.Join(t.TempDir(), "x.db") + "?a=%zz", nil, "dsn query"},
		{"sqlite no file name", "?_pragma=foreign_keys(1)", nil, "no file name"},
		{"sqlite missing dir", filepath.Join(t.TempDir(), "no", "such", "dir", "x.db"), nil, "open sqlite"},
		{"postgres bad url", "postgres://u:hunter2@[::1/db", nil, "open postgres"},
		{"postgres unreachable", "postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=5", nil, "open postgres"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, err := sqldb.Open(t.Context(), tt.dsn, tt.opts...)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) succeeded, want an error containing %q", tt.dsn, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open error = %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("Open error shows the password: %v", err)
			}
		})
	}
}

// TestIsPostgresDSN pins which DSNs go to PostgreSQL.
func TestIsPostgresDSN(t *testing.T) {
	t.Parallel()
	for dsn, want := range map[string]bool{
		"postgres://u@h/db":   true,
		"postgresql://u@h/db": true,
		"POSTGRES://u@h/db":   true,
		"postgres.db":         false,
		"file:postgres://x":   false,
		"/var/lib/app.db":     false,
		"host=h dbname=db":    false,
	} {
		if got := sqldb.IsPostgresDSN(dsn); got != want {
			t.Errorf("IsPostgresDSN(%q) = %v, want %v", dsn, got, want)
		}
	}
}

// TestRebind pins the placeholder rewriting for PostgreSQL, including ?
// in quotes and comments, which must stay, and SQLite, unchanged.
func TestRebind(t *testing.T) {
	t.Parallel()
	pg := &sqldb.DB{Dialect: sqldb.Postgres}
	lite := &sqldb.DB{Dialect: sqldb.SQLite}
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = $1 AND b = $2"},
		{"INSERT INTO t VALUES (?,?,?)", "INSERT INTO t VALUES ($1,$2,$3)"},
		{"SELECT '?', ? FROM t", "SELECT '?', $1 FROM t"},
		{"SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1"},
		{`SELECT "we?rd" FROM t WHERE x = ?`, `SELECT "we?rd" FROM t WHERE x = $1`},
		{"SELECT ? -- why?\n, ?", "SELECT $1 -- why?\n, $2"},
		{"SELECT /* ? */ ?", "SELECT /* ? */ $1"},
		{"SELECT j ?| array['a'] WHERE x = ?", "SELECT j ?| array['a'] WHERE x = $1"},
		{"SELECT 'unclosed ?", "SELECT 'unclosed ?"},
		{"SELECT ? /* unclosed ?", "SELECT $1 /* unclosed ?"},
	}
	for _, tt := range tests {
		if got := pg.Rebind(tt.in); got != tt.want {
			t.Errorf("postgres Rebind(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := lite.Rebind(tt.in); got != tt.in {
			t.Errorf("sqlite Rebind(%q) = %q, want it unchanged", tt.in, got)
		}
	}
}

// TestInTx pins InTx on every backend: commit on nil, rollback on error
// (returned as fn's own error), the transaction in fn's context, and a
// nested InTx joining the outer transaction.
func TestInTx(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			db := b.Open(t)
			ctx := t.Context()
			if _, err := db.ExecContext(ctx, `CREATE TABLE kt (v INTEGER NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			insert := db.Rebind(`INSERT INTO kt (v) VALUES (?)`)
			if _, ok := sqldb.TxFrom(ctx); ok {
				t.Error("TxFrom of a plain context reports a transaction")
			}
			err := db.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
				if got, ok := sqldb.TxFrom(ctx); !ok || got != tx {
					t.Error("TxFrom(fn's ctx) is not fn's tx")
				}
				_, err := tx.ExecContext(ctx, insert, 1)
				return err
			})
			if err != nil {
				t.Fatalf("InTx: %v", err)
			}
			boom := errors.New("boom")
			err = db.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, insert, 2); err != nil {
					return err
				}
				return boom
			})
			if err != boom {
				t.Errorf("InTx = %v, want fn's error itself", err)
			}
			err = db.InTx(ctx, func(ctx context.Context, outer *sql.Tx) error {
				return db.InTx(ctx, func(ctx context.Context, inner *sql.Tx) error {
					if inner != outer {
						t.Error("nested InTx started a second transaction")
					}
					if _, err := inner.ExecContext(ctx, insert, 3); err != nil {
						return err
					}
					return boom
				})
			})
			if err != boom {
				t.Errorf("nested InTx = %v, want fn's error", err)
			}
			if n := sqldbtest.Count(t, db, "kt"); n != 1 {
				t.Errorf("%d rows, want 1 (only the committed one)", n)
			}
			if err := db.InTx(ctx, nil); err == nil {
				t.Error("InTx(nil): no error")
			}
		})
	}
}

// TestInTxRetriesPostgresSerializationFailure pins that a transaction
// failing with SQLSTATE 40001 runs again, and a transaction failing with
// another error runs once.
func TestInTxRetriesPostgresSerializationFailure(t *testing.T) {
	t.Parallel()
	db := sqldbtest.Postgres(postgresDSN()).Open(t)
	ctx := t.Context()
	if _, err := db.ExecContext(ctx, `CREATE TABLE kt (v INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		errcode   string
		wantCalls int
		wantRows  int
		wantErr   bool
	}{
		{"serialization failure", "serialization_failure", 2, 1, false},
		{"deadlock", "deadlock_detected", 2, 1, false},
		{"unique violation", "unique_violation", 1, 0, true},
	}
	for _, tt := range tests {
		if _, err := db.ExecContext(ctx, `DELETE FROM kt`); err != nil {
			t.Fatal(err)
		}
		calls := 0
		err := db.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			calls++
			if _, err := tx.ExecContext(ctx, `INSERT INTO kt (v) VALUES (1)`); err != nil {
				return err
			}
			if calls == 1 {
				_, err := tx.ExecContext(ctx, `DO $$ BEGIN RAISE EXCEPTION 'lost a race' USING ERRCODE = '`+tt.errcode+`'; END $$`)
				return err
			}
			return nil
		})
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: InTx err = %v, want error %v", tt.name, err, tt.wantErr)
		}
		if calls != tt.wantCalls {
			t.Errorf("%s: fn ran %d times, want %d", tt.name, calls, tt.wantCalls)
		}
		if n := sqldbtest.Count(t, db, "kt"); n != tt.wantRows {
			t.Errorf("%s: %d rows, want %d", tt.name, n, tt.wantRows)
		}
	}
}

// signalHandler is a slog handler that closes retried on the first record
// whose message contains "retrying".
type signalHandler struct {
	once    *sync.Once
	retried chan struct{}
	n       *atomic.Int32
}

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "retrying") {
		h.n.Add(1)
		h.once.Do(func() { close(h.retried) })
	}
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }

// TestInTxRetriesSQLiteBusy pins that InTx retries SQLITE_BUSY: while
// another pool holds the write lock of the file, a transaction on a pool
// that does not wait (busy_timeout 0) fails with SQLITE_BUSY, backs off
// and succeeds once the lock is free.
func TestInTxRetriesSQLiteBusy(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "busy.db")
	holder := sqldbtest.Open(t, path)
	if _, err := holder.ExecContext(t.Context(), `CREATE TABLE kt (v INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	h := signalHandler{once: new(sync.Once), retried: make(chan struct{}), n: new(atomic.Int32)}
	impatient := sqldbtest.Open(t, path+"?_pragma=busy_timeout(0)",
		sqldb.WithLogger(slog.New(h)), sqldb.WithMaxTxAttempts(20))

	lock, err := holder.BeginTx(t.Context(), nil) // BEGIN IMMEDIATE: the write lock
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		<-h.retried
		_ = lock.Commit()
	}()
	err = impatient.InTx(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO kt (v) VALUES (1)`)
		return err
	})
	if err != nil {
		t.Fatalf("InTx while another pool held the lock: %v", err)
	}
	if h.n.Load() == 0 {
		t.Error("InTx succeeded without retrying: the lock was not held")
	}
	if n := sqldbtest.Count(t, holder, "kt"); n != 1 {
		t.Errorf("%d rows, want 1", n)
	}

	// Without retries, the same situation is an error that says busy.
	once := sqldbtest.Open(t, path+"?_pragma=busy_timeout(0)", sqldb.WithMaxTxAttempts(1))
	lock, err = holder.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	err = once.InTx(t.Context(), func(context.Context, *sql.Tx) error { return nil })
	if !sqldb.Retryable(err) {
		t.Errorf("InTx with one attempt under a held lock = %v, want a retryable SQLITE_BUSY error", err)
	}
}
