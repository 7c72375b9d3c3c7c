package app_test

import (
	"path/filepath"
	"testing"

	"github.com/keiyaku/keiyaku/runtime/app"
)

// TestOpenDBWithoutMigrations pins that a service with no tables of its own
// (keiyaku init's starter: only idempotency records and processed events)
// opens its database with nil migrations, and that an empty URL is an error.
func TestOpenDBWithoutMigrations(t *testing.T) {
	t.Parallel()
	db, err := app.OpenDB(t.Context(), filepath.Join(t.TempDir(), "svc.db"), "svc", nil, app.Telemetry{})
	if err != nil {
		t.Fatalf("OpenDB with nil migrations: %v", err)
	}
	if err := db.PingContext(t.Context()); err != nil {
		t.Errorf("ping: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Error(err)
	}
	if _, err := app.OpenDB(t.Context(), "", "svc", nil, app.Telemetry{}); err == nil {
		t.Error("OpenDB with an empty URL: no error")
	}
}
