package app_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

// TestBuild pins the assembly of a service through a Parts: what the
// build function opened through parts is closed when build fails (its
// error joined with nothing lost), and otherwise the Start returns the
// Parts, whose Run runs the tasks parts' constructors added and closes
// what they opened once they stopped.
func TestBuild(t *testing.T) {
	t.Parallel()
	env := app.Env{DatabaseURL: filepath.Join(t.TempDir(), "build.db")}
	var db *sqldb.DB
	var ran bool
	boom := errors.New("no contract")
	open := func(fail bool) func(context.Context, app.Env, app.Telemetry, *app.Parts) error {
		return func(ctx context.Context, env app.Env, tel app.Telemetry, parts *app.Parts) error {
			var err error
			if db, err = parts.OpenDB(ctx, env.DatabaseURL, "build", nil, tel); err != nil {
				return err
			}
			if fail {
				return boom
			}
			parts.Go("worker", func(ctx context.Context) error { ran = true; <-ctx.Done(); return nil })
			return nil
		}
	}

	svc, err := app.Build(open(true))(t.Context(), env, app.Telemetry{})
	if !errors.Is(err, boom) || svc != nil {
		t.Fatalf("failing build: %v, %v; want nil and %v", svc, err, boom)
	}
	if err := db.PingContext(t.Context()); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("after a failing build the database answers %v, want it closed", err)
	}

	svc, err = app.Build(open(false))(t.Context(), env, app.Telemetry{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PingContext(t.Context()); err != nil {
		t.Fatalf("built service's database: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := svc.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !ran {
		t.Error("the task added through parts did not run")
	}
	if err := db.PingContext(t.Context()); err == nil {
		t.Error("the database is still open after Run returned")
	}
}
