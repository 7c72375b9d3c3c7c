package events_test

import (
	"context"
	"fmt"
	"sync"
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
// consumer span, handler, commit per poll) with two raw loops of a group
// client reading the same preloaded topic from the start with a fresh
// group per iteration: raw-decode does the same work by hand (poll,
// twmb/avro single-object decode of every value, commit per poll) — the
// fair reference —, raw only counts records. pipeline runs with the
// default telemetry (no SDK: spans are not recorded), pipeline-sampled
// with an SDK sampling 10% of traces (parent-based), pipeline-traced
// records every span.
//
// Each arm is timed from its first record (handled, or polled) to its
// client closed (the last commit and leaving the group included): the
// group join and first fetch of a fresh group before it take 50–300 ms
// on the embedded broker, more than reading the 50k records, vary with
// the machine's load and are the same for every arm.
func BenchmarkConsume(b *testing.B) {
	const n = 50_000
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
	pipeline := func(opts ...events.ConsumerOption) func(b *testing.B) time.Duration {
		return func(b *testing.B) time.Duration {
			group++
			cl := consumerClient(b, br, fmt.Sprint("pipeline-", group), orderTopic)
			cons, err := events.NewConsumer(cl, c, opts...)
			if err != nil {
				b.Fatal(err)
			}
			runCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			var count, first atomic.Int64
			events.Handle(cons, typ, func(context.Context, events.Envelope, *OrderPlaced) error {
				if first.Load() == 0 {
					first.CompareAndSwap(0, time.Now().UnixNano())
				}
				if count.Add(1) == n {
					cancel()
				}
				return nil
			})
			if err := cons.Run(runCtx); err != nil {
				b.Fatal(err)
			}
			cl.CloseAllowingRebalance()
			if count.Load() < n {
				b.Fatalf("handled %d of %d", count.Load(), n)
			}
			return time.Since(time.Unix(0, first.Load()))
		}
	}
	reader := orderSchemaV1.Avro()
	raw := func(decode bool) func(b *testing.B) time.Duration {
		return func(b *testing.B) time.Duration {
			group++
			cl := consumerClient(b, br, fmt.Sprint("raw-", group), orderTopic)
			got := 0
			var first time.Time
			for got < n {
				fs := cl.PollRecords(ctx, events.DefaultMaxPollRecords)
				fs.EachError(func(_ string, _ int32, err error) { b.Fatal(err) })
				recs := fs.Records()
				if first.IsZero() && len(recs) > 0 {
					first = time.Now()
				}
				got += len(recs)
				if decode {
					for _, r := range recs {
						var evt OrderPlaced
						if _, err := reader.DecodeSingleObject(r.Value, &evt); err != nil {
							b.Fatal(err)
						}
					}
					if err := cl.CommitRecords(ctx, recs...); err != nil {
						b.Fatal(err)
					}
				}
				cl.AllowRebalance()
			}
			cl.CloseAllowingRebalance()
			return time.Since(first)
		}
	}
	sampled := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.1))))
	b.Cleanup(func() { _ = sampled.Shutdown(context.Background()) })
	arms := []struct {
		name string
		run  func(b *testing.B) time.Duration
	}{
		{"pipeline", pipeline()},
		{"pipeline-sampled", pipeline(events.WithTracerProvider(sampled), sdkTel[1])},
		{"pipeline-traced", pipeline(sdkTel[0], sdkTel[1])},
		{"raw-decode", raw(true)},
		{"raw", raw(false)},
	}
	for _, a := range arms {
		b.Run(a.name, func(b *testing.B) {
			var d time.Duration
			for b.Loop() {
				d += a.run(b)
			}
			b.ReportMetric(float64(n*b.N)/d.Seconds(), "records/s")
		})
	}
	// interleaved runs the arms in turn in each iteration and reports the
	// ratios to the fair reference, raw-decode.
	b.Run("interleaved", func(b *testing.B) {
		d := make([]time.Duration, len(arms))
		for b.Loop() {
			for i, a := range arms {
				d[i] += a.run(b)
			}
		}
		for i, a := range arms {
			b.ReportMetric(float64(n*b.N)/d[i].Seconds(), a.name+"-records/s")
		}
		for _, i := range []int{0, 1, 2, 4} {
			b.ReportMetric(d[3].Seconds()/d[i].Seconds(), arms[i].name+"/raw-decode")
		}
	})
}

// BenchmarkPublishBatch measures the batched path the outbox relay uses,
// 1,000 records per batch against the embedded broker over TCP, each arm
// waiting for the last acknowledgement of its batch:
//
//   - send: Producer.Send of records built before the loop (what the
//     relay does with its rows) against raw, kgo's asynchronous Produce of
//     the same records with one promise and a wait;
//   - publish-batch: PublishBatch of the events (Avro encoding,
//     CloudEvents headers, trace context, then Send) against
//     raw-encode, which encodes each event with twmb/avro's single-object
//     encoding, adds the same headers and produces as raw does.
//
// interleaved runs the four in turn in each iteration and reports the two
// ratios, which a shared machine's load changes less than side-by-side
// figures.
func BenchmarkPublishBatch(b *testing.B) {
	const n = 1000
	br := newBroker(b, embedded.Topic{Name: "batch", Partitions: 4})
	c := memoryCodec(b)
	p := newProducer(b, br, c)
	cl := newClient(b, br, events.ProducerClientOptions()...)
	ctx := context.Background()
	typ := orderType("batch")
	evts := make([]*OrderPlaced, n)
	tmpl := make([]*kgo.Record, n)
	for i := range evts {
		evts[i] = &OrderPlaced{OrderID: fmt.Sprint("order-", i%97), Seq: int64(i), Amount: 129900}
		r, err := events.NewRecord(ctx, p, typ, evts[i])
		if err != nil {
			b.Fatal(err)
		}
		tmpl[i] = r
	}
	fresh := func() []*kgo.Record {
		recs := make([]*kgo.Record, n)
		for i, t := range tmpl {
			recs[i] = &kgo.Record{Topic: t.Topic, Key: t.Key, Value: t.Value, Headers: t.Headers}
		}
		return recs
	}
	produce := func(recs []*kgo.Record) error {
		var wg sync.WaitGroup
		var failed atomic.Pointer[error]
		wg.Add(len(recs))
		for _, r := range recs {
			cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
				if err != nil {
					failed.Store(&err)
				}
				wg.Done()
			})
		}
		wg.Wait()
		if e := failed.Load(); e != nil {
			return *e
		}
		return nil
	}
	schema := orderSchemaV1.Avro()
	headers := tmpl[0].Headers
	rawEncode := func() error {
		recs := make([]*kgo.Record, n)
		for i, evt := range evts {
			v, err := schema.AppendSingleObject(nil, evt)
			if err != nil {
				return err
			}
			hs := make([]kgo.RecordHeader, len(headers))
			copy(hs, headers)
			recs[i] = &kgo.Record{Topic: "batch", Key: []byte(evt.OrderID), Value: v, Headers: hs}
		}
		return produce(recs)
	}
	arms := []struct {
		name string
		run  func() error
	}{
		{"send", func() error { return p.Send(ctx, fresh()...) }},
		{"raw", func() error { return produce(fresh()) }},
		{"publish-batch", func() error { return events.PublishBatch(ctx, p, typ, evts) }},
		{"raw-encode", rawEncode},
	}
	for _, a := range arms {
		b.Run(a.name, func(b *testing.B) {
			for b.Loop() {
				if err := a.run(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
	b.Run("interleaved", func(b *testing.B) {
		var d [4]time.Duration
		for b.Loop() {
			for i, a := range arms {
				t0 := time.Now()
				if err := a.run(); err != nil {
					b.Fatal(err)
				}
				d[i] += time.Since(t0)
			}
		}
		for i, a := range arms {
			b.ReportMetric(float64(n*b.N)/d[i].Seconds(), a.name+"-records/s")
		}
		b.ReportMetric(d[1].Seconds()/d[0].Seconds(), "send/raw")
		b.ReportMetric(d[3].Seconds()/d[2].Seconds(), "publish-batch/raw-encode")
	})
}
