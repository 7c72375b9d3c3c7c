package events_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
)

// TestPanicAndMetrics pins two promises: a panicking handler does not crash
// the consumer (the panic is a failed attempt, and the record ends in the
// dead-letter topic), and the counters report what happened — consumed,
// retried, dead-lettered and skipped records, and published events.
func TestPanicAndMetrics(t *testing.T) {
	t.Parallel()
	b := newBroker(t, embedded.Topic{Name: orderTopic, Partitions: 1})
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	c := memoryCodec(t)
	p := newProducer(t, b, c, events.WithMeterProvider(mp))
	typ := orderType(orderTopic)
	for _, id := range []string{"ok", "panic", "flaky", "ok2"} {
		must(t, events.Publish(t.Context(), p, typ, &OrderPlaced{OrderID: id}))
	}
	must(t, events.Publish(t.Context(), p, shippedType(orderTopic), &OrderShipped{OrderID: "unhandled"}))

	cons, err := events.NewConsumer(consumerClient(t, b, "metrics", orderTopic), c,
		events.WithMeterProvider(mp), events.WithMaxAttempts(2), fastRetry)
	must(t, err)
	flaky := 0
	events.Handle(cons, typ, func(_ context.Context, _ events.Envelope, evt *OrderPlaced) error {
		switch evt.OrderID {
		case "panic":
			panic("handler bug")
		case "flaky":
			flaky++
			if flaky == 1 {
				return errors.New("try again")
			}
		}
		return nil
	})
	stop := runConsumer(t, cons)
	dlq := readAll(t, b, events.DeadLetterTopic(orderTopic, "metrics"), 1)
	waitUntil(t, "all committed", func() bool { return committed(t, b, "metrics", orderTopic)[0] == 5 })
	must(t, stop())

	if v := header(t, dlq[0].Headers, events.HeaderDLQError); !strings.Contains(v, "handler panicked: handler bug") {
		t.Errorf("dead-letter error %q, want the panic", v)
	}
	var rm metricdata.ResourceMetrics
	must(t, reader.Collect(t.Context(), &rm))
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, dp := range sum.DataPoints {
					got[m.Name] += dp.Value
				}
			}
		}
	}
	want := map[string]int64{
		"keiyaku.events.published":     5,
		"keiyaku.events.consumed":      3, // ok, flaky (second try), ok2
		"keiyaku.events.retried":       2, // panic once, flaky once
		"keiyaku.events.dead_lettered": 1,
		"keiyaku.events.skipped":       1, // the shipped event has no handler
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s = %d, want %d", name, got[name], w)
		}
	}
}
