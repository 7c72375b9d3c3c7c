package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

// OpenDB opens the database at dsn (see sqldb.Open: a postgres:// URL or
// a SQLite file) with t's logger and applies the migrations of component
// found in migrations, laid out as <dialect>/NNN_name.sql (sqlite/ and
// postgres/), in version order and once each; nil migrations means none
// (a service whose only tables are the runtime's own). The caller owns the
// returned DB and closes it. On any error nothing stays open.
func OpenDB(ctx context.Context, dsn, component string, migrations fs.FS, t Telemetry, opts ...sqldb.Option) (*sqldb.DB, error) {
	if dsn == "" {
		return nil, errors.New("open database: empty database URL")
	}
	t = t.Resolved()
	db, err := sqldb.Open(ctx, dsn, append([]sqldb.Option{sqldb.WithLogger(t.Logger)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("open database for %s: %w", component, err)
	}
	if migrations == nil {
		return db, nil
	}
	if err := db.Migrate(ctx, component, migrations); err != nil {
		return nil, errors.Join(fmt.Errorf("migrate database of %s: %w", component, err), db.Close())
	}
	return db, nil
}
