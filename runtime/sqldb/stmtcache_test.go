package sqldb_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/runtime/sqldb"
	"github.com/keiyaku/keiyaku/runtime/sqldb/sqldbtest"
)

// openCached opens a SQLite file with a statement cache of size n and a
// table t(id integer primary key, name text unique) holding rows 1 to 5.
func openCached(t *testing.T, n int) *sqldb.DB {
	t.Helper()
	db := sqldbtest.Open(t, filepath.Join(t.TempDir(), "c.db"), sqldb.WithStmtCacheSize(n))
	ctx := t.Context()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)`); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		if _, err := db.ExecContext(ctx, `INSERT INTO t (id, name) VALUES (?, ?)`, i, fmt.Sprint("n", i)); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// TestStmtCache pins that reusing prepared statements changes no result:
// a query run again inside the loop over its own rows (the cached
// statement is busy), more distinct statements than the cache holds
// (eviction, also of a statement whose rows are open), a failed
// statement run again, a schema change under a cached statement, and the
// column types database/sql reports.
func TestStmtCache(t *testing.T) {
	t.Parallel()
	names := func(t *testing.T, q interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	}, query string, args ...any) []string {
		t.Helper()
		rows, err := q.QueryContext(t.Context(), query, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	const byID = `SELECT name FROM t WHERE id >= ? ORDER BY id`
	tests := []struct {
		name string
		size int
		run  func(t *testing.T, db *sqldb.DB)
	}{
		{"nested same query", sqldb.DefaultStmtCacheSize, func(t *testing.T, db *sqldb.DB) {
			// One connection: the inner query runs on the connection
			// whose cached statement the outer rows hold.
			err := db.InTx(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
				rows, err := tx.QueryContext(ctx, byID, 1)
				if err != nil {
					return err
				}
				defer rows.Close()
				var got []string
				for rows.Next() {
					var s string
					if err := rows.Scan(&s); err != nil {
						return err
					}
					got = append(got, s+"="+strings.Join(names(t, tx, byID, 4), ","))
				}
				if want := "n1=n4,n5 n2=n4,n5 n3=n4,n5 n4=n4,n5 n5=n4,n5"; strings.Join(got, " ") != want {
					t.Errorf("got %q, want %q", strings.Join(got, " "), want)
				}
				return rows.Err()
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"eviction", 2, func(t *testing.T, db *sqldb.DB) {
			err := db.InTx(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
				rows, err := tx.QueryContext(ctx, byID, 3)
				if err != nil {
					return err
				}
				defer rows.Close()
				// Three other statements evict byID while its rows
				// are open.
				for round := range 3 {
					for i := 1; i <= 3; i++ {
						q := fmt.Sprintf(`SELECT name FROM t WHERE id = ? AND %d = %d`, i, i)
						if got := names(t, tx, q, i); len(got) != 1 || got[0] != fmt.Sprint("n", i) {
							t.Errorf("round %d, query %d: got %v", round, i, got)
						}
					}
				}
				var got []string
				for rows.Next() {
					var s string
					if err := rows.Scan(&s); err != nil {
						return err
					}
					got = append(got, s)
				}
				if strings.Join(got, ",") != "n3,n4,n5" {
					t.Errorf("evicted statement's rows: got %v, want n3,n4,n5", got)
				}
				return rows.Err()
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := names(t, db, byID, 5); len(got) != 1 || got[0] != "n5" {
				t.Errorf("after eviction: got %v", got)
			}
		}},
		{"failed statement", sqldb.DefaultStmtCacheSize, func(t *testing.T, db *sqldb.DB) {
			const ins = `INSERT INTO t (id, name) VALUES (?, ?)`
			if _, err := db.ExecContext(t.Context(), ins, 6, "n1"); err == nil {
				t.Fatal("duplicate name inserted")
			}
			if _, err := db.ExecContext(t.Context(), ins, 6, "n6"); err != nil {
				t.Fatalf("the statement after its failure: %v", err)
			}
			if got := names(t, db, byID, 6); len(got) != 1 || got[0] != "n6" {
				t.Errorf("got %v, want [n6]", got)
			}
		}},
		{"schema change", sqldb.DefaultStmtCacheSize, func(t *testing.T, db *sqldb.DB) {
			const all = `SELECT * FROM t WHERE id = ?`
			cols := func() []string {
				rows, err := db.QueryContext(t.Context(), all, 1)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				c, err := rows.Columns()
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			if got := strings.Join(cols(), ","); got != "id,name" {
				t.Fatalf("columns %s", got)
			}
			if _, err := db.ExecContext(t.Context(), `ALTER TABLE t ADD COLUMN extra TEXT`); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(cols(), ","); got != "id,name,extra" {
				t.Errorf("columns after ALTER TABLE: %s, want id,name,extra", got)
			}
		}},
		{"column types", sqldb.DefaultStmtCacheSize, func(t *testing.T, db *sqldb.DB) {
			rows, err := db.QueryContext(t.Context(), `SELECT id, name FROM t WHERE id = ?`, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			cts, err := rows.ColumnTypes()
			if err != nil {
				t.Fatal(err)
			}
			if got := cts[0].DatabaseTypeName() + "," + cts[1].DatabaseTypeName(); got != "INTEGER,TEXT" {
				t.Errorf("database type names %s, want INTEGER,TEXT", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, openCached(t, tt.size))
		})
	}
}

// BenchmarkStmtCache measures a transaction of one INSERT and one SELECT
// by primary key — the shape of the reference services' writes — with
// and without the statement cache, on synchronous NORMAL.
func BenchmarkStmtCache(b *testing.B) {
	for _, size := range []int{0, sqldb.DefaultStmtCacheSize} {
		b.Run(fmt.Sprint("cache=", size), func(b *testing.B) {
			db := sqldbtest.Open(b, filepath.Join(b.TempDir(), "b.db"), sqldb.WithStmtCacheSize(size))
			ctx := b.Context()
			if _, err := db.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, at TEXT NOT NULL)`); err != nil {
				b.Fatal(err)
			}
			i := 0
			for b.Loop() {
				i++
				err := db.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
					if _, err := tx.ExecContext(ctx, `INSERT INTO t (id, name, at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`, i, "name", "2031-01-01"); err != nil {
						return err
					}
					var s string
					return tx.QueryRowContext(ctx, `SELECT name FROM t WHERE id = ?`, i).Scan(&s)
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestReader pins the read pool of a SQLite file: it sees what the writer
// committed, refuses writes, and reads while the writer holds an open
// transaction (WAL) instead of queueing behind it; an in-memory database,
// which a second pool would not share, reads through the DB's own pool.
func TestReader(t *testing.T) {
	t.Parallel()
	db := openCached(t, sqldb.DefaultStmtCacheSize)
	ctx := t.Context()
	if db.Reader() == db.DB {
		t.Fatal("a SQLite file has no separate read pool")
	}
	err := db.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO t (id, name) VALUES (6, 'n6')`); err != nil {
			return err
		}
		// The writer's one connection is taken: only the read pool can
		// answer, and it sees the last commit, not this transaction.
		var n int
		if err := db.Reader().QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
			return err
		}
		if n != 5 {
			t.Errorf("read during a write transaction: %d rows, want the 5 committed", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.Reader().QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 6 {
		t.Errorf("read after the commit: %d rows, %v; want 6", n, err)
	}
	if _, err := db.Reader().ExecContext(ctx, `DELETE FROM t`); err == nil {
		t.Error("a write through the read pool succeeded")
	}
	mem := sqldbtest.Open(t, "file:reader?mode=memory&cache=shared")
	if mem.Reader() != mem.DB {
		t.Error("an in-memory database got a read pool of its own")
	}
}
