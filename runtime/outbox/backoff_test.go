package outbox_test

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/outbox"
	"github.com/keiyaku/keiyaku/runtime/sqldb/sqldbtest"
)

// TestRelayBacksOff pins that a relay whose sends keep failing waits
// longer and longer between attempts, up to the backoff maximum — it
// never hammers a broker that is down — and sends as soon as the broker
// is back. It runs in a synctest bubble: the waits take no real time.
func TestRelayBacksOff(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		db := sqldbtest.SQLite().Open(t)
		s, err := outbox.NewStore(t.Context(), db)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.InTx(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
			return s.Add(ctx, tx, &kgo.Record{Topic: "t", Key: []byte("k"), Value: []byte("v")})
		}); err != nil {
			t.Fatal(err)
		}
		var (
			calls atomic.Int32
			down  atomic.Bool
			sent  atomic.Int32
		)
		down.Store(true)
		r, err := outbox.NewRelay(s, func(_ context.Context, recs ...*kgo.Record) error {
			calls.Add(1)
			if down.Load() {
				return errors.New("broker down")
			}
			sent.Add(int32(len(recs)))
			return nil
		}, outbox.WithBackoff(time.Second, 8*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()

		// Waits of 1, 2, 4, 8, 8, … seconds, each ±50%: about 13 to 32
		// attempts in two minutes; a relay without backoff makes
		// thousands.
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		n := calls.Load()
		if n < 10 || n > 40 {
			t.Errorf("%d attempts in two minutes with backoff 1s to 8s; want between 10 and 40", n)
		}
		down.Store(false)
		time.Sleep(13 * time.Second) // longer than the largest wait (8s + 50%)
		synctest.Wait()
		if sent.Load() != 1 {
			t.Errorf("%d records sent after the broker came back, want 1", sent.Load())
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}
