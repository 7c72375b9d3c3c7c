package sqldb_test

import (
	"os"
	"testing"

	"github.com/keiyaku/keiyaku/runtime/idempotency"
	"github.com/keiyaku/keiyaku/runtime/idempotency/idempotencytest"
	"github.com/keiyaku/keiyaku/runtime/sqldb"
	"github.com/keiyaku/keiyaku/runtime/sqldb/sqldbtest"
)

// postgresEnv names the variable holding the DSN of a PostgreSQL server
// for the tests; without it the PostgreSQL subtests skip.
const postgresEnv = "KEIYAKU_TEST_POSTGRES_DSN"

func backends() []sqldbtest.Backend {
	return sqldbtest.Backends(os.Getenv(postgresEnv))
}

// TestProcessed runs the Processed conformance suite on every backend.
func TestProcessed(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			sqldbtest.RunProcessed(t, b.Open)
		})
	}
}

// TestIdempotencyStore runs the idempotency.Store conformance suite on
// every backend; the database is opened inside newStore, as the suite's
// synctest subtests need.
func TestIdempotencyStore(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			idempotencytest.Run(t, func(t *testing.T) idempotency.Store {
				s, err := sqldb.NewIdempotencyStore(t.Context(), b.Open(t))
				if err != nil {
					t.Fatalf("NewIdempotencyStore: %v", err)
				}
				return s
			})
		})
	}
}

func postgresDSN() string { return os.Getenv(postgresEnv) }
