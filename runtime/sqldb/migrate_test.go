package sqldb_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/keiyaku/keiyaku/runtime/sqldb"
	"github.com/keiyaku/keiyaku/runtime/sqldb/sqldbtest"
)

// migrationFS returns the files of a test component, the same SQL for
// both dialects. Version 1 creates a table, version 2 writes one row
// into it, so that a version applied twice shows as a second row (or an
// error).
func migrationFS(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, body := range files {
		fsys["sqlite/"+name] = &fstest.MapFile{Data: []byte(body)}
		fsys["postgres/"+name] = &fstest.MapFile{Data: []byte(body)}
	}
	return fsys
}

var baseMigrations = map[string]string{
	"001_create.sql": "CREATE TABLE kt_items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\nCREATE INDEX kt_items_name ON kt_items (name);",
	"002_seed.sql":   "INSERT INTO kt_items (id, name) VALUES (1, 'first');",
}

func appliedVersions(t *testing.T, db *sqldb.DB, component string) []int64 {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), db.Rebind(`SELECT version FROM keiyaku_migrations WHERE component = ? ORDER BY version`), component)
	if err != nil {
		t.Fatalf("read keiyaku_migrations: %v", err)
	}
	defer rows.Close()
	var vs []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return vs
}

// TestMigrate pins, on every backend, that migrations apply in version
// order once each, that Migrate again — on the same pool or after a
// restart — applies nothing, that a new version applies alone, and that
// components do not see each other's versions.
func TestMigrate(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			dsn := b.DSN(t)
			db := sqldbtest.Open(t, dsn)
			ctx := t.Context()
			fsys := migrationFS(baseMigrations)
			if err := db.Migrate(ctx, "kt.items", fsys); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			if err := db.Migrate(ctx, "kt.items", fsys); err != nil {
				t.Fatalf("Migrate again: %v", err)
			}
			restarted := sqldbtest.Open(t, dsn)
			if err := restarted.Migrate(ctx, "kt.items", fsys); err != nil {
				t.Fatalf("Migrate after a restart: %v", err)
			}
			if n := sqldbtest.Count(t, db, "kt_items"); n != 1 {
				t.Errorf("%d rows in kt_items, want 1: a migration ran twice", n)
			}
			if got := appliedVersions(t, db, "kt.items"); len(got) != 2 || got[0] != 1 || got[1] != 2 {
				t.Errorf("applied versions = %v, want [1 2]", got)
			}

			// A new release adds version 10 (after 2, not before: order is
			// numeric, not by name).
			more := migrationFS(map[string]string{
				"001_create.sql": baseMigrations["001_create.sql"],
				"002_seed.sql":   baseMigrations["002_seed.sql"],
				"10_more.sql":    "INSERT INTO kt_items (id, name) VALUES (10, 'tenth');",
			})
			if err := restarted.Migrate(ctx, "kt.items", more); err != nil {
				t.Fatalf("Migrate with a new version: %v", err)
			}
			if n := sqldbtest.Count(t, db, "kt_items"); n != 2 {
				t.Errorf("%d rows in kt_items, want 2", n)
			}
			// An older release, without version 10, still starts.
			if err := db.Migrate(ctx, "kt.items", fsys); err != nil {
				t.Errorf("Migrate of an older release: %v", err)
			}

			// Another component with the same version numbers is separate.
			other := migrationFS(map[string]string{"001_other.sql": "CREATE TABLE kt_other (id INTEGER);"})
			if err := db.Migrate(ctx, "kt.other", other); err != nil {
				t.Fatalf("Migrate another component: %v", err)
			}
			if got := appliedVersions(t, db, "kt.other"); len(got) != 1 {
				t.Errorf("kt.other versions = %v, want [1]", got)
			}
		})
	}
}

// TestMigrateConcurrent pins that two pools migrating one database at the
// same moment — two processes starting together — both succeed and apply
// each version once.
func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			for round := range 5 {
				dsn := b.DSN(t)
				dbs := []*sqldb.DB{sqldbtest.Open(t, dsn), sqldbtest.Open(t, dsn)}
				fsys := migrationFS(baseMigrations)
				errs := make([]error, len(dbs))
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i, db := range dbs {
					wg.Go(func() {
						<-start
						errs[i] = db.Migrate(t.Context(), "kt.items", fsys)
					})
				}
				close(start)
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Fatalf("round %d: Migrate on pool %d: %v", round, i, err)
					}
				}
				if n := sqldbtest.Count(t, dbs[0], "kt_items"); n != 1 {
					t.Errorf("round %d: %d rows in kt_items, want 1", round, n)
				}
				if got := appliedVersions(t, dbs[1], "kt.items"); len(got) != 2 {
					t.Errorf("round %d: applied versions = %v, want [1 2]", round, got)
				}
			}
		})
	}
}

// TestMigrateChecksum pins that a changed file of an applied version is
// refused with ErrMigrationChanged, naming the component, version and
// file, and that nothing of the run is applied.
func TestMigrateChecksum(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			db := b.Open(t)
			ctx := t.Context()
			if err := db.Migrate(ctx, "kt.items", migrationFS(baseMigrations)); err != nil {
				t.Fatal(err)
			}
			changed := migrationFS(map[string]string{
				"001_create.sql": baseMigrations["001_create.sql"],
				"002_seed.sql":   "INSERT INTO kt_items (id, name) VALUES (1, 'changed');",
				"003_next.sql":   "INSERT INTO kt_items (id, name) VALUES (3, 'third');",
			})
			err := db.Migrate(ctx, "kt.items", changed)
			if !errors.Is(err, sqldb.ErrMigrationChanged) {
				t.Fatalf("Migrate with a changed file: %v, want ErrMigrationChanged", err)
			}
			for _, want := range []string{"kt.items", "version 2", "002_seed.sql"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
			if got := appliedVersions(t, db, "kt.items"); len(got) != 2 {
				t.Errorf("applied versions = %v, want [1 2]: version 3 applied despite the error", got)
			}
		})
	}
}

// TestMigrateFailureAppliesNothing pins that a failing file rolls back
// the whole run: the earlier pending versions of it are not applied or
// recorded either, and the error names the file.
func TestMigrateFailureAppliesNothing(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			db := b.Open(t)
			// Another component first, so that keiyaku_migrations exists.
			if err := db.Migrate(t.Context(), "kt.other", migrationFS(map[string]string{"001_other.sql": "CREATE TABLE kt_other (id INTEGER);"})); err != nil {
				t.Fatal(err)
			}
			bad := migrationFS(map[string]string{
				"001_create.sql": baseMigrations["001_create.sql"],
				"002_broken.sql": "INSERT INTO no_such_table VALUES (1);",
			})
			err := db.Migrate(t.Context(), "kt.items", bad)
			if err == nil || !strings.Contains(err.Error(), "002_broken.sql") {
				t.Fatalf("Migrate = %v, want an error naming 002_broken.sql", err)
			}
			if got := appliedVersions(t, db, "kt.items"); len(got) != 0 {
				t.Errorf("applied versions = %v, want none", got)
			}
			if _, err := db.ExecContext(t.Context(), "SELECT count(*) FROM kt_items"); err == nil {
				t.Error("table kt_items of the rolled-back version 1 exists")
			}
			if err := db.Migrate(t.Context(), "kt.items", migrationFS(baseMigrations)); err != nil {
				t.Errorf("Migrate after the failed run: %v (version 1 left half applied?)", err)
			}
		})
	}
}

// TestMigrateRejectsBadInput pins clear errors for bad components and
// file sets, before anything touches the database.
func TestMigrateRejectsBadInput(t *testing.T) {
	t.Parallel()
	db := sqldbtest.SQLite().Open(t)
	tests := []struct {
		name      string
		component string
		fsys      fstest.MapFS
		want      string
	}{
		{"empty component", "", migrationFS(baseMigrations), "empty component"},
		{"nil fs", "kt", nil, "nil fs"},
		{"no dialect dir", "kt", fstest.MapFS{"postgres/001_a.sql": {Data: []byte("SELECT 1")}}, "sqlite migrations"},
		{"no sql files", "kt", fstest.MapFS{"sqlite/README.md": {Data: []byte("hi")}}, "no sqlite migrations"},
		{"no version", "kt", fstest.MapFS{"sqlite/create.sql": {Data: []byte("SELECT 1")}}, "NNN_name.sql"},
		{"no name", "kt", fstest.MapFS{"sqlite/001.sql": {Data: []byte("SELECT 1")}}, "NNN_name.sql"},
		{"version zero", "kt", fstest.MapFS{"sqlite/000_a.sql": {Data: []byte("SELECT 1")}}, "positive"},
		{"version overflow", "kt", fstest.MapFS{"sqlite/99999999999999999999_a.sql": {Data: []byte("SELECT 1")}}, "positive"},
		{"duplicate version", "kt", fstest.MapFS{
			"sqlite/001_a.sql": {Data: []byte("SELECT 1")},
			"sqlite/1_b.sql":   {Data: []byte("SELECT 1")},
		}, "same version 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var err error
			if tt.fsys == nil {
				err = db.Migrate(t.Context(), tt.component, nil)
			} else {
				err = db.Migrate(t.Context(), tt.component, tt.fsys)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Migrate = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
