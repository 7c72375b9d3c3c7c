package events_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
)

// benchTelemetry records every span (an SDK provider sampling all, with no
// exporter), so the benchmarks pay for real spans and header propagation.
func benchTelemetry(b *testing.B) []events.Option {
	tp := sdktrace.NewTracerProvider()
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return []events.Option{events.WithTracerProvider(tp), events.WithPropagator(propagation.TraceContext{})}
}

// BenchmarkProduce compares a generated-style Publish (encode, CloudEvents
// headers, producer span, trace context, synchronous produce) with a raw
// kgo ProduceSync of the same key, value and headers built before the loop,
// one record at a time against the embedded broker over TCP. publish runs
// with the default telemetry (no SDK installed); publish-traced records
// every span. The machine is shared, so interleaved also alternates one
// Publish and one raw produce per iteration and reports their ratio, which
// load changes less than the side-by-side figures.
func BenchmarkProduce(b *testing.B) {
	br := newBroker(b, embedded.Topic{Name: "publish", Partitions: 1}, embedded.Topic{Name: "raw", Partitions: 1})
	c := memoryCodec(b)
	tel := benchTelemetry(b)
	p := newProducer(b, br, c)
	pTraced := newProducer(b, br, c, tel[0], tel[1])
	cl := newClient(b, br, events.ProducerClientOptions()...)
	evt := &OrderPlaced{OrderID: "order-123456", Seq: 42, Amount: 129900}
	ctx := context.Background()
	typ := orderType("publish")
	tmpl, err := events.NewRecord(ctx, p, orderType("raw"), evt)
	if err != nil {
		b.Fatal(err)
	}
	raw := func() error {
		r := &kgo.Record{Topic: tmpl.Topic, Key: tmpl.Key, Value: tmpl.Value, Headers: tmpl.Headers}
		return cl.ProduceSync(ctx, r).FirstErr()
	}
	perSecond := func(b *testing.B) { b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s") }

	for _, tt := range []struct {
		name string
		p    *events.Producer
	}{{"publish", p}, {"publish-traced", pTraced}} {
		b.Run(tt.name, func(b *testing.B) {
			for b.Loop() {
				if err := events.Publish(ctx, tt.p, typ, evt); err != nil {
					b.Fatal(err)
				}
			}
			perSecond(b)
		})
	}
	b.Run("raw", func(b *testing.B) {
		for b.Loop() {
			if err := raw(); err != nil {
				b.Fatal(err)
			}
		}
		perSecond(b)
	})
	b.Run("interleaved", func(b *testing.B) {
		var pub, rawd time.Duration
		for b.Loop() {
			t0 := time.Now()
			if err := events.Publish(ctx, p, typ, evt); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if err := raw(); err != nil {
				b.Fatal(err)
			}
			rawd += time.Since(t1)
			pub += t1.Sub(t0)
		}
		b.ReportMetric(float64(b.N)/pub.Seconds(), "publish-records/s")
		b.ReportMetric(float64(b.N)/rawd.Seconds(), "raw-records/s")
		b.ReportMetric(rawd.Seconds()/pub.Seconds(), "publish/raw")
	})
}

// BenchmarkConsume compares the consumer pipeline (group, headers, decode,
// consumer span, handler, commit per poll) with a raw PollRecords loop of a
// group client that only counts records, both reading the same preloaded
// topic from the start with a fresh group per iteration.
func BenchmarkConsume(b *testing.B) {
	const n = 20_000
	br := newBroker(b, embedded.Topic{Name: orderTopic, Partitions: 4})
	c := memoryCodec(b)
	sdkTel := benchTelemetry(b)
	p := newProducer(b, br, c)
	ctx := context.Background()
	typ := orderType(orderTopic)
	recs := make([]*kgo.Record, 0, 1000)
	for i := range n {
		r, err := events.NewRecord(ctx, p, typ, &OrderPlaced{OrderID: fmt.Sprintf("order-%d", i%500), Seq: int64(i), Amount: 129900})
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, r)
		if len(recs) == cap(recs) {
			if err := p.Send(ctx, recs...); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	group := 0

	// pipeline runs with the default telemetry (no SDK installed: spans
	// are not recorded); pipeline-traced records every span.
	for _, traced := range []bool{false, true} {
		name := "pipeline"
		var opts []events.ConsumerOption
		if traced {
			name = "pipeline-traced"
			opts = []events.ConsumerOption{sdkTel[0], sdkTel[1]}
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				group++
				cl := consumerClient(b, br, fmt.Sprint("pipeline-", group), orderTopic)
				cons, err := events.NewConsumer(cl, c, opts...)
				if err != nil {
					b.Fatal(err)
				}
				runCtx, cancel := context.WithCancel(ctx)
				var count atomic.Int64
				events.Handle(cons, typ, func(context.Context, events.Envelope, *OrderPlaced) error {
					if count.Add(1) == n {
						cancel()
					}
					return nil
				})
				if err := cons.Run(runCtx); err != nil {
					b.Fatal(err)
				}
				cancel()
				cl.CloseAllowingRebalance()
				if count.Load() < n {
					b.Fatalf("handled %d of %d", count.Load(), n)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
	b.Run("raw", func(b *testing.B) {
		for b.Loop() {
			group++
			cl := consumerClient(b, br, fmt.Sprint("raw-", group), orderTopic)
			got := 0
			for got < n {
				fs := cl.PollRecords(ctx, events.DefaultMaxPollRecords)
				fs.EachError(func(_ string, _ int32, err error) { b.Fatal(err) })
				fs.EachRecord(func(*kgo.Record) { got++ })
				cl.AllowRebalance()
			}
			cl.CloseAllowingRebalance()
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
	})
}
