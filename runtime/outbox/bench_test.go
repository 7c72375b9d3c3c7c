package outbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/codec"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
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

// BenchmarkRelayKafka measures the relay end to end — claim, send through
// (*events.Producer).Send over TCP to the embedded broker, mark sent — on
// 5,000 rows per iteration at the default batch size, against raw, kgo's
// asynchronous Produce of the same records with one wait: what the relay
// costs over the client it drives. The two run in turn in each
// iteration; relay/raw is the ratio of their rates.
func BenchmarkRelayKafka(b *testing.B) {
	const n = 5000
	for _, backend := range backends() {
		b.Run(backend.Name, func(b *testing.B) {
			ctx := b.Context()
			broker, err := embedded.Start(ctx, embedded.WithTopics(embedded.Topic{Name: "reservations", Partitions: 4}))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(broker.Close)
			newClient := func() *kgo.Client {
				cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(broker.Addrs()...)}, events.ProducerClientOptions()...)...)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(cl.Close)
				return cl
			}
			c, err := codec.NewSingleObject(codec.NewMemoryStore())
			if err != nil {
				b.Fatal(err)
			}
			producer, err := events.NewProducer(newClient(), c, "/services/bench")
			if err != nil {
				b.Fatal(err)
			}
			raw := newClient()
			db, s := benchStore(b, backend)
			var sent atomic.Int64
			var target atomic.Int64
			done := make(chan struct{}, 1)
			r, err := outbox.NewRelay(s, func(ctx context.Context, recs ...*kgo.Record) error {
				if err := producer.Send(ctx, recs...); err != nil {
					return err
				}
				if sent.Add(int64(len(recs))) >= target.Load() {
					select {
					case done <- struct{}{}:
					default:
					}
				}
				return nil
			}, outbox.WithRetention(0), outbox.WithPollInterval(time.Hour)) // woken by Notify only: not during the fill
			if err != nil {
				b.Fatal(err)
			}
			target.Store(1 << 62)
			runCtx, cancel := context.WithCancel(ctx)
			errc := make(chan error, 1)
			go func() { errc <- r.Run(runCtx) }()
			defer func() {
				cancel()
				if err := <-errc; err != nil {
					b.Error(err)
				}
			}()
			recs := make([]*kgo.Record, n)
			for i := range recs {
				recs[i] = benchRecord(i)
			}
			var relayd, rawd time.Duration
			for b.Loop() {
				b.StopTimer()
				if err := db.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error { return s.Add(ctx, tx, recs...) }); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				target.Store(sent.Load() + n)
				t0 := time.Now()
				r.Notify()
				<-done
				relayd += time.Since(t0)

				t1 := time.Now()
				var wg sync.WaitGroup
				wg.Add(n)
				for _, rec := range recs {
					cp := &kgo.Record{Topic: rec.Topic, Key: rec.Key, Value: rec.Value, Headers: rec.Headers}
					raw.Produce(ctx, cp, func(_ *kgo.Record, err error) {
						if err != nil {
							b.Error(err)
						}
						wg.Done()
					})
				}
				wg.Wait()
				rawd += time.Since(t1)
			}
			b.ReportMetric(float64(n*b.N)/relayd.Seconds(), "relay-rows/s")
			b.ReportMetric(float64(n*b.N)/rawd.Seconds(), "raw-rows/s")
			b.ReportMetric(rawd.Seconds()/relayd.Seconds(), "relay/raw")
		})
	}
}
