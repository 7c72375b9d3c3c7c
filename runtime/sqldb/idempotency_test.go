package sqldb_test

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keiyaku/keiyaku/runtime/sqldb"
	"github.com/keiyaku/keiyaku/runtime/sqldb/sqldbtest"
)

// TestIdempotencySweep pins that expired records are deleted from the
// table (not only hidden) by a later Begin once the sweep interval has
// passed, so that the table does not grow without end.
func TestIdempotencySweep(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				db := b.Open(t)
				s, err := sqldb.NewIdempotencyStore(t.Context(), db, sqldb.WithSweepInterval(time.Minute))
				if err != nil {
					t.Fatal(err)
				}
				for _, k := range []string{"a", "b"} {
					if _, err := s.Begin(t.Context(), k, "fp", time.Second); err != nil {
						t.Fatal(err)
					}
				}
				time.Sleep(2 * time.Second)
				if _, err := s.Begin(t.Context(), "c", "fp", time.Hour); err != nil {
					t.Fatal(err)
				}
				if n := sqldbtest.Count(t, db, "keiyaku_idempotency"); n != 3 {
					t.Errorf("%d rows before the sweep interval passed, want 3", n)
				}
				time.Sleep(time.Minute)
				if _, err := s.Begin(t.Context(), "d", "fp", time.Hour); err != nil {
					t.Fatal(err)
				}
				if n := sqldbtest.Count(t, db, "keiyaku_idempotency"); n != 2 {
					t.Errorf("%d rows after the sweep, want 2 (c and d)", n)
				}
			})
		})
	}
}

// TestIdempotencyOptions pins the key length limit and the checks of
// the options.
func TestIdempotencyOptions(t *testing.T) {
	t.Parallel()
	db := sqldbtest.SQLite().Open(t)
	s, err := sqldb.NewIdempotencyStore(t.Context(), db, sqldb.WithMaxKeyBytes(8))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Begin(t.Context(), "12345678", "fp", time.Minute); err != nil {
		t.Errorf("Begin of an 8-byte key with limit 8: %v", err)
	}
	if _, err := s.Begin(t.Context(), "123456789", "fp", time.Minute); err == nil || !strings.Contains(err.Error(), "longer than 8") {
		t.Errorf("Begin of a 9-byte key with limit 8 = %v, want an error", err)
	}
	for name, opt := range map[string]sqldb.IdempotencyOption{
		"nil":            nil,
		"zero key bytes": sqldb.WithMaxKeyBytes(0),
		"huge key bytes": sqldb.WithMaxKeyBytes(1 << 20),
		"zero sweep":     sqldb.WithSweepInterval(0),
	} {
		if _, err := sqldb.NewIdempotencyStore(t.Context(), db, opt); err == nil {
			t.Errorf("NewIdempotencyStore with %s option: no error", name)
		}
	}
	if _, err := sqldb.NewIdempotencyStore(t.Context(), nil); err == nil {
		t.Error("NewIdempotencyStore(nil db): no error")
	}
	if _, err := sqldb.NewProcessed(t.Context(), nil); err == nil {
		t.Error("NewProcessed(nil db): no error")
	}
}
