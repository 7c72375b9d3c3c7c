package outbox_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/outbox"
	"github.com/keiyaku/keiyaku/runtime/outbox/outboxtest"
	"github.com/keiyaku/keiyaku/runtime/sqldb/sqldbtest"
)

// postgresEnv names the variable holding the DSN of a PostgreSQL server
// for the tests; without it the PostgreSQL subtests skip.
const postgresEnv = "KEIYAKU_TEST_POSTGRES_DSN"

func backends() []sqldbtest.Backend {
	return sqldbtest.Backends(os.Getenv(postgresEnv))
}

// TestOutbox runs the outbox conformance suite on every backend.
func TestOutbox(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			outboxtest.Run(t, b.Open)
		})
	}
}

// TestNewRelayRejectsBadInput pins NewRelay's checks: missing arguments
// and out-of-range options are errors naming the problem.
func TestNewRelayRejectsBadInput(t *testing.T) {
	t.Parallel()
	db := sqldbtest.SQLite().Open(t)
	s, err := outbox.NewStore(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	send := func(context.Context, ...*kgo.Record) error { return nil }
	tests := []struct {
		name  string
		store *outbox.Store
		send  func(context.Context, ...*kgo.Record) error
		opts  []outbox.RelayOption
		want  string
	}{
		{"nil store", nil, send, nil, "nil store"},
		{"nil send", s, nil, nil, "nil send"},
		{"nil option", s, send, []outbox.RelayOption{nil}, "nil option"},
		{"zero poll", s, send, []outbox.RelayOption{outbox.WithPollInterval(0)}, "poll interval"},
		{"nil tracer provider", s, send, []outbox.RelayOption{outbox.WithTracerProvider(nil)}, "tracer provider"},
		{"nil propagator", s, send, []outbox.RelayOption{outbox.WithPropagator(nil)}, "propagator"},
		{"zero batch", s, send, []outbox.RelayOption{outbox.WithBatchSize(0)}, "batch size"},
		{"huge batch", s, send, []outbox.RelayOption{outbox.WithBatchSize(outbox.MaxBatchSize + 1)}, "batch size"},
		{"zero backoff", s, send, []outbox.RelayOption{outbox.WithBackoff(0, time.Second)}, "backoff"},
		{"backoff max below initial", s, send, []outbox.RelayOption{outbox.WithBackoff(time.Second, time.Millisecond)}, "backoff"},
		{"zero send timeout", s, send, []outbox.RelayOption{outbox.WithSendTimeout(0)}, "send timeout"},
		{"negative retention", s, send, []outbox.RelayOption{outbox.WithRetention(-time.Second)}, "retention"},
		{"nil logger", s, send, []outbox.RelayOption{outbox.WithLogger(nil)}, "nil logger"},
		{"nil meter", s, send, []outbox.RelayOption{outbox.WithMeterProvider(nil)}, "nil meter provider"},
		{"nil notify", s, send, []outbox.RelayOption{outbox.WithNotify(nil)}, "nil notify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := outbox.NewRelay(tt.store, tt.send, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewRelay error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
