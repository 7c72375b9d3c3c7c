package sqldb

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrMigrationChanged is returned by [DB.Migrate] when the file of a
// version that was applied already has changed since: the database and
// the code disagree about the schema, and a person must decide.
var ErrMigrationChanged = errors.New("applied migration changed")

// migrationsLock is the first key of the PostgreSQL advisory lock that
// Migrate holds; the second is a hash of the current schema, so that
// migrations of different schemas of one database do not wait for each
// other.
const migrationsLock = 0x6b656979 // "keiy"

// maxMigrationFile bounds the size of one migration file.
const maxMigrationFile = 4 << 20

// migrationName is NNN_name.sql: the version, an underscore, a name.
var migrationName = regexp.MustCompile(`^([0-9]+)_([A-Za-z0-9][A-Za-z0-9_.-]*)\.sql$`)

type migration struct {
	version  int64
	file     string
	name     string
	sql      string
	checksum string
}

// Migrate applies, in version order and once each, the files
// fsys/<dialect>/NNN_name.sql (NNN = version, a positive integer; leading
// zeros are allowed and ignored) of the named component, recording them
// in keiyaku_migrations(component, version, name, checksum, applied_at).
// Files of fsys/<dialect> whose names do not end in .sql are ignored.
//
// All pending versions are applied in one transaction: either all of them
// are, or none is and Migrate returns the error of the failing file.
// Migrate is safe when several processes start at once: on PostgreSQL it
// holds a transaction-level advisory lock (one per schema), on SQLite the
// write lock that BEGIN IMMEDIATE takes; the second process finds the
// versions applied and applies nothing.
//
// A version applied already whose file has changed (its SHA-256 differs)
// is an error wrapping [ErrMigrationChanged], and nothing is applied. A
// version recorded in the database without a file in fsys (written by a
// newer release) is left alone. Migrate returns an error for an empty
// component, a nil fsys, a dialect without files, a malformed file name
// or two files of one version.
func (db *DB) Migrate(ctx context.Context, component string, fsys fs.FS) error {
	if component == "" {
		return errors.New("sqldb: migrate: empty component")
	}
	if fsys == nil {
		return fmt.Errorf("sqldb: migrate %s: nil fs", component)
	}
	if db.Dialect != SQLite && db.Dialect != Postgres {
		return fmt.Errorf("sqldb: migrate %s: unknown dialect %q", component, db.Dialect)
	}
	migs, err := readMigrations(fsys, string(db.Dialect))
	if err != nil {
		return fmt.Errorf("sqldb: migrate %s: %w", component, err)
	}
	var applied []migration
	err = db.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		applied = applied[:0]
		if err := db.lockMigrations(ctx, tx); err != nil {
			return err
		}
		done, err := db.appliedMigrations(ctx, tx, component)
		if err != nil {
			return err
		}
		for _, m := range migs {
			if sum, ok := done[m.version]; ok {
				if sum != m.checksum {
					return fmt.Errorf("version %d (%s) was applied with checksum %s, the file now has %s: %w",
						m.version, m.file, sum, m.checksum, ErrMigrationChanged)
				}
				continue
			}
			if strings.TrimSpace(m.sql) != "" {
				if _, err := tx.ExecContext(ctx, m.sql); err != nil {
					return fmt.Errorf("apply version %d (%s): %w", m.version, m.file, err)
				}
			}
			if _, err := tx.ExecContext(ctx, db.Rebind(
				`INSERT INTO keiyaku_migrations (component, version, name, checksum, applied_at) VALUES (?, ?, ?, ?, ?)`),
				component, m.version, m.name, m.checksum, time.Now().UTC()); err != nil {
				return fmt.Errorf("record version %d (%s): %w", m.version, m.file, err)
			}
			applied = append(applied, m)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqldb: migrate %s: %w", component, err)
	}
	for _, m := range applied {
		db.logger().InfoContext(ctx, "sqldb: migration applied", "component", component, "version", m.version, "file", m.file)
	}
	return nil
}

// lockMigrations takes the migration lock and makes sure the table of
// applied migrations exists.
func (db *DB) lockMigrations(ctx context.Context, tx *sql.Tx) error {
	create := `CREATE TABLE IF NOT EXISTS keiyaku_migrations (
	component  TEXT NOT NULL,
	version    BIGINT NOT NULL,
	name       TEXT NOT NULL,
	checksum   TEXT NOT NULL,
	applied_at TIMESTAMP NOT NULL,
	PRIMARY KEY (component, version)
)`
	if db.Dialect == Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))`, migrationsLock); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		create = strings.Replace(create, "TIMESTAMP", "TIMESTAMPTZ", 1)
	}
	// On SQLite the transaction began with BEGIN IMMEDIATE: it holds the
	// write lock already.
	if _, err := tx.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("create keiyaku_migrations: %w", err)
	}
	return nil
}

// appliedMigrations returns the checksums of the applied versions of
// component.
func (db *DB) appliedMigrations(ctx context.Context, tx *sql.Tx, component string) (map[int64]string, error) {
	rows, err := tx.QueryContext(ctx, db.Rebind(`SELECT version, checksum FROM keiyaku_migrations WHERE component = ?`), component)
	if err != nil {
		return nil, fmt.Errorf("read keiyaku_migrations: %w", err)
	}
	defer rows.Close()
	done := make(map[int64]string)
	for rows.Next() {
		var (
			v   int64
			sum string
		)
		if err := rows.Scan(&v, &sum); err != nil {
			return nil, fmt.Errorf("read keiyaku_migrations: %w", err)
		}
		done[v] = sum
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read keiyaku_migrations: %w", err)
	}
	return done, nil
}

// readMigrations reads the migrations of dir in fsys, sorted by version.
func readMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read %s migrations: %w", dir, err)
	}
	var migs []migration
	seen := make(map[int64]string)
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %s: name must be NNN_name.sql", path.Join(dir, e.Name()))
		}
		v, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || v < 1 {
			return nil, fmt.Errorf("migration file %s: version %s must be a positive integer", path.Join(dir, e.Name()), m[1])
		}
		if other, ok := seen[v]; ok {
			return nil, fmt.Errorf("migration files %s and %s have the same version %d", other, e.Name(), v)
		}
		seen[v] = e.Name()
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("migration file %s: %w", path.Join(dir, e.Name()), err)
		}
		if info.Size() > maxMigrationFile {
			return nil, fmt.Errorf("migration file %s: %d bytes, more than %d", path.Join(dir, e.Name()), info.Size(), maxMigrationFile)
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("migration file %s: %w", path.Join(dir, e.Name()), err)
		}
		sum := sha256.Sum256(body)
		migs = append(migs, migration{
			version:  v,
			file:     e.Name(),
			name:     m[2],
			sql:      string(body),
			checksum: hex.EncodeToString(sum[:]),
		})
	}
	if len(migs) == 0 {
		return nil, fmt.Errorf("no %s migrations (NNN_name.sql) in %s", dir, dir)
	}
	slices.SortFunc(migs, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	return migs, nil
}
