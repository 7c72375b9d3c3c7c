package outboxtest

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/keiyaku/keiyaku/runtime/outbox"
	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

// testMetrics pins the relay's metrics: one lag observation (seconds,
// not negative) and one sent count per record, and the pending gauge.
func testMetrics(t *testing.T, db *sqldb.DB) {
	s := newStore(t, db)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })

	add(t, db, s, event("a", 0), event("b", 0), event("a", 1))
	k := newSink()
	start(t, newRelay(t, s, k, outbox.WithMeterProvider(mp)))
	k.waitFor(t, 3)
	add(t, db, s, event("a", 2), event("b", 1))
	k.waitFor(t, 5)

	var (
		lagCount uint64
		lagMin   float64
		sent     int64
		pending  int64
	)
	collect := func() {
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(t.Context(), &rm); err != nil {
			t.Fatalf("Collect: %v", err)
		}
		lagCount, lagMin, sent, pending = 0, -1, 0, -1
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				switch m.Name {
				case "keiyaku.outbox.lag":
					if m.Unit != "s" {
						t.Errorf("lag unit %q, want s", m.Unit)
					}
					h, ok := m.Data.(metricdata.Histogram[float64])
					if !ok {
						t.Fatalf("lag is a %T, want a float64 histogram", m.Data)
					}
					for _, dp := range h.DataPoints {
						lagCount += dp.Count
						if v, ok := dp.Min.Value(); ok && (lagMin < 0 || v < lagMin) {
							lagMin = v
						}
					}
				case "keiyaku.outbox.sent":
					if sum, ok := m.Data.(metricdata.Sum[int64]); ok {
						for _, dp := range sum.DataPoints {
							sent += dp.Value
						}
					}
				case "keiyaku.outbox.pending":
					if g, ok := m.Data.(metricdata.Gauge[int64]); ok && len(g.DataPoints) == 1 {
						pending = g.DataPoints[0].Value
					}
				}
			}
		}
	}
	// The metrics of a batch are recorded once it is marked sent, a
	// moment after send returned.
	waitUntil(t, "5 records counted sent", func() bool { collect(); return sent >= 5 })
	// Collect runs the gauge's query before it reads the counters: once
	// more, now that every batch is committed.
	collect()
	if lagCount != 5 {
		t.Errorf("lag histogram has %d observations, want 5", lagCount)
	}
	if lagMin < 0 {
		t.Errorf("lag minimum %v: want an observation of at least 0", lagMin)
	}
	if sent != 5 {
		t.Errorf("sent counter = %d, want 5", sent)
	}
	if pending != 0 {
		t.Errorf("pending gauge = %d, want 0 (one data point)", pending)
	}
}
