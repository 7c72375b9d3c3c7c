//go:build peers

package peers_test

import (
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/runtime/app/apptest"
	"github.com/keiyaku/keiyaku/runtime/sqldb/sqldbtest"
	"github.com/keiyaku/keiyaku/services/demo/stack"
)

// psqlDB is one service's PostgreSQL database as psql reaches it.
type psqlDB struct {
	conn string // the server's URL, without search_path (libpq rejects it)
	env  []string
}

// psqlFor returns how psql reaches the database at dsn, a URL whose
// search_path parameter names the service's schema (sqldbtest.NewSchema):
// the schema goes to PGOPTIONS instead, as an operator would set it.
func psqlFor(t *testing.T, dsn string) psqlDB {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	schema := q.Get("search_path")
	q.Del("search_path")
	u.RawQuery = q.Encode()
	return psqlDB{conn: u.String(), env: []string{"PGOPTIONS=-c search_path=" + schema}}
}

// query runs sql with psql (no .psqlrc, unaligned, tuples only, stop on
// error) and returns its output, trimmed. vars are name=value psql
// variables that sql quotes as :'name'; psql reads sql from stdin, where
// it interpolates them.
func (db psqlDB) query(t *testing.T, psql, sql string, vars ...string) string {
	t.Helper()
	args := []string{"-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db.conn}
	for _, v := range vars {
		args = append(args, "-v", v)
	}
	out, stderr, err := run(t, []byte(sql), db.env, psql, args...)
	if err != nil {
		t.Fatalf("psql %s: %v\n%s", sql, err, stderr)
	}
	return strings.TrimSpace(string(out))
}

// TestPsqlSeesOutboxAndProcessedEvents checks the delivery guarantees of
// DESIGN.md ("Delivery semantics") from outside, with psql and plain SQL
// on the databases the services used: after a booking, the reservation
// service's outbox row of the event is marked sent, and each consuming
// service's processed-events table holds that event's id (ce_id) once.
func TestPsqlSeesOutboxAndProcessedEvents(t *testing.T) {
	psql := tool(t, "psql", "postgresql-client")
	t.Logf("psql: %s", version(t, psql, "--version"))
	dsn := os.Getenv(apptest.EnvPostgresDSN)
	if dsn == "" {
		t.Fatalf("%s is not set: the psql test needs a PostgreSQL server (`make peer-test` sets it)", apptest.EnvPostgresDSN)
	}
	var opts []stack.Option
	for _, svc := range stack.Services {
		opts = append(opts, stack.WithDatabaseURL(svc, sqldbtest.NewSchema(t, dsn)))
	}
	s := startStack(t, opts...)
	id := book(t, s, 1)[0]

	// The event's row in the outbox: its key is the reservation id, its
	// headers a JSON array of {"k": name, "v": base64 value}.
	reservations := psqlFor(t, s.DatabaseURL(stack.Reservation))
	var eventID string
	apptest.Wait(t, waitTimeout, "the outbox row of the reservation to be marked sent", func() (bool, error) {
		eventID = reservations.query(t, psql, `
			SELECT convert_from(decode(h->>'v', 'base64'), 'UTF8')
			FROM keiyaku_outbox o, jsonb_array_elements(o.headers) h
			WHERE o.key = convert_to(:'id', 'UTF8') AND o.sent_at IS NOT NULL AND h->>'k' = 'ce_id';`, "id="+id)
		return eventID != "", nil
	})
	if strings.Contains(eventID, "\n") {
		t.Fatalf("reservation %s has several sent outbox rows: %q", id, eventID)
	}
	pending := reservations.query(t, psql, `SELECT count(*) FROM keiyaku_outbox WHERE sent_at IS NULL;`)
	if pending != "0" {
		t.Errorf("%s outbox rows still pending after the relay sent the event", pending)
	}
	t.Logf("outbox: reservation %s, event %s sent", id, eventID)

	for svc := range stack.ConsumerGroups {
		db := psqlFor(t, s.DatabaseURL(svc))
		apptest.Wait(t, waitTimeout, svc+" to record event "+eventID+" as processed", func() (bool, error) {
			n := db.query(t, psql, `SELECT count(*) FROM keiyaku_processed_events WHERE event_id = :'id';`, "id="+eventID)
			return n == "1", nil
		})
		t.Logf("%s: keiyaku_processed_events holds %s", svc, eventID)
	}
}
