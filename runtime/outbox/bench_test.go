package outbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/outbox"
	"github.com/keiyaku/keiyaku/runtime/sqldb"
	"github.com/keiyaku/keiyaku/runtime/sqldb/sqldbtest"
)

// benchRecord is a record of about the size of a reservation event:
// a uuid key, a few hundred bytes of Avro, the CloudEvents headers.
func benchRecord(i int) *kgo.Record {
	value := make([]byte, 300)
	return &kgo.Record{
		Topic: "reservations",
		Key:   fmt.Appendf(nil, "0190b3c2-7e6a-7b7c-8d9e-%012d", i%1000),
		Value: value,
		Headers: []kgo.RecordHeader{
			{Key: "ce_specversion", Value: []byte("1.0")},
			{Key: "ce_id", Value: fmt.Appendf(nil, "0190b3c2-7e6a-7b7c-8d9e-%012d", i)},
			{Key: "ce_type", Value: []byte("hotel.reservation.v1.ReservationCreated")},
			{Key: "ce_source", Value: []byte("/services/reservation")},
			{Key: "ce_time", Value: []byte("2026-01-01T00:00:00Z")},
			{Key: "content-type", Value: []byte("application/avro")},
			{Key: "traceparent", Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")},
		},
	}
}

func benchStore(b *testing.B, backend sqldbtest.Backend) (*sqldb.DB, *outbox.Store) {
	b.Helper()
	db := sqldbtest.Open(b, backend.DSN(b))
	s, err := outbox.NewStore(b.Context(), db)
	if err != nil {
		b.Fatal(err)
	}
	return db, s
}

// BenchmarkOutboxAdd measures adding one record in its own committed
// transaction, the cost an outbox adds to a write.
func BenchmarkOutboxAdd(b *testing.B) {
	for _, backend := range backends() {
		b.Run(backend.Name, func(b *testing.B) {
			db, s := benchStore(b, backend)
			i := 0
			for b.Loop() {
				rec := benchRecord(i)
				i++
				if err := db.InTx(b.Context(), func(ctx context.Context, tx *sql.Tx) error {
					return s.Add(ctx, tx, rec)
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRelay measures how many rows per second one relay moves from
// the outbox through a send that does nothing: the database side of the
// relay (claim, mark sent) at the default batch size.
func BenchmarkRelay(b *testing.B) {
	for _, backend := range backends() {
		b.Run(backend.Name, func(b *testing.B) {
			db, s := benchStore(b, backend)
			// Fill the outbox with b.N rows, 500 per transaction.
			for start := 0; start < b.N; start += 500 {
				recs := make([]*kgo.Record, 0, 500)
				for i := start; i < min(start+500, b.N); i++ {
					recs = append(recs, benchRecord(i))
				}
				if err := db.InTx(b.Context(), func(ctx context.Context, tx *sql.Tx) error {
					return s.Add(ctx, tx, recs...)
				}); err != nil {
					b.Fatal(err)
				}
			}
			var sent atomic.Int64
			done := make(chan struct{})
			n := int64(b.N)
			r, err := outbox.NewRelay(s, func(_ context.Context, recs ...*kgo.Record) error {
				if sent.Add(int64(len(recs))) >= n {
					select {
					case <-done:
					default:
						close(done)
					}
				}
				return nil
			}, outbox.WithRetention(0))
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(b.Context())
			b.ResetTimer()
			begin := time.Now()
			errc := make(chan error, 1)
			go func() { errc <- r.Run(ctx) }()
			<-done
			elapsed := time.Since(begin)
			b.StopTimer()
			cancel()
			if err := <-errc; err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "rows/s")
		})
	}
}
