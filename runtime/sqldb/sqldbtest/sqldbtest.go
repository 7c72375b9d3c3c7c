// Package sqldbtest makes test databases for the stores of
// runtime/sqldb and runtime/outbox and holds the conformance suite of
// [sqldb.Processed], [RunProcessed].
//
// Every suite runs on every backend: SQLite (a file in t.TempDir()) always,
// PostgreSQL when the test is given a server's DSN. Each PostgreSQL test
// gets a schema of its own, kt_<random>, made when the test asks for a
// database and dropped with everything in it when the test ends, so that
// tests run in parallel on one server and leave nothing behind:
//
//	func TestStore(t *testing.T) {
//		for _, b := range sqldbtest.Backends(os.Getenv("KEIYAKU_TEST_POSTGRES_DSN")) {
//			t.Run(b.Name, func(t *testing.T) {
//				t.Parallel()
//				sqldbtest.RunProcessed(t, b.Open)
//			})
//		}
//	}
package sqldbtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

// cleanupTimeout bounds dropping a test's schema.
const cleanupTimeout = 30 * time.Second

// Backend makes fresh databases of one engine for tests.
type Backend struct {
	// Name is "sqlite" or "postgres", for subtest names.
	Name string
	// DSN returns the DSN of a fresh, empty database that lives until t
	// ends. It skips t when the backend is not available.
	DSN func(t testing.TB) string
}

// Open opens a fresh, empty database of b with [Open]. Its type fits the
// newDB parameter of the conformance suites.
func (b Backend) Open(t *testing.T) *sqldb.DB {
	t.Helper()
	return Open(t, b.DSN(t))
}

// Backends returns SQLite and PostgreSQL; the PostgreSQL backend skips
// its tests when postgresDSN is empty.
func Backends(postgresDSN string) []Backend {
	return []Backend{SQLite(), Postgres(postgresDSN)}
}

// SQLite returns the backend whose databases are files in t.TempDir().
func SQLite() Backend {
	return Backend{
		Name: string(sqldb.SQLite),
		DSN: func(t testing.TB) string {
			return filepath.Join(t.TempDir(), "test.db")
		},
	}
}

// Postgres returns the backend whose databases are fresh schemas on the
// server of dsn ("postgres://user@host:port/db?sslmode=disable"); each
// DSN it returns sets search_path to its schema. With an empty dsn its
// DSN skips the test.
func Postgres(dsn string) Backend {
	return Backend{
		Name: string(sqldb.Postgres),
		DSN: func(t testing.TB) string {
			t.Helper()
			if dsn == "" {
				t.Skip("no PostgreSQL DSN given (KEIYAKU_TEST_POSTGRES_DSN)")
			}
			return NewSchema(t, dsn)
		},
	}
}

// NewSchema creates the schema kt_<random> on the PostgreSQL server of
// dsn, drops it (CASCADE) when t ends, and returns dsn with search_path
// set to it, so that everything a test creates lands in it.
func NewSchema(t testing.TB, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("sqldbtest: postgres dsn: %v", err)
	}
	schema := "kt_" + strings.ToLower(rand.Text())
	admin := func(ctx context.Context, stmt string) error {
		db, err := sqldb.Open(ctx, dsn, sqldb.WithMaxOpenConns(1))
		if err != nil {
			return err
		}
		_, err = db.ExecContext(ctx, stmt)
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		return err
	}
	if err := admin(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("sqldbtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := admin(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("sqldbtest: drop schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open opens dsn with [sqldb.Open] and closes the DB when t ends. It fails
// t if the database cannot be opened.
func Open(t testing.TB, dsn string, opts ...sqldb.Option) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(t.Context(), dsn, opts...)
	if err != nil {
		t.Fatalf("sqldbtest: open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("sqldbtest: close: %v", err)
		}
	})
	return db
}

// Count returns the number of rows of table (a trusted name) in db.
func Count(t testing.TB, db *sqldb.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), fmt.Sprintf("SELECT count(*) FROM %s", table)).Scan(&n); err != nil {
		t.Fatalf("sqldbtest: count %s: %v", table, err)
	}
	return n
}
