package stack_test

import (
	"math"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/keiyaku/keiyaku/services/demo/stack"
)

// TestStartRejectsBadOptions pins the constructor's promise: a bad option
// is an error naming it, before anything is started (no panic, nothing
// left listening).
func TestStartRejectsBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		dir  string
		opts []stack.Option
		want string
	}{
		{"nil option", "x", []stack.Option{nil}, "nil option"},
		{"empty dir", "", nil, "empty data folder"},
		{"nil logger", "x", []stack.Option{stack.WithLogger(nil)}, "nil logger"},
		{"nil span processor", "x", []stack.Option{stack.WithSpanProcessor(nil)}, "nil span processor"},
		{"unknown service", "x", []stack.Option{stack.WithAddr("billing", "127.0.0.1:1")}, `unknown service "billing"`},
		{"bad address", "x", []stack.Option{stack.WithAddr(stack.Room, "nowhere")}, "address"},
		{"empty database", "x", []stack.Option{stack.WithDatabaseURL(stack.Member, "")}, "empty database URL"},
		{"bad pragma", "x", []stack.Option{stack.WithSQLitePragmas("a&b")}, "pragma"},
		{"neighbour not called", "x", []stack.Option{stack.WithNeighbourURL(stack.Notification, "http://x:1")}, "calls only"},
		{"neighbour URL", "x", []stack.Option{stack.WithNeighbourURL(stack.Room, "::")}, "URL"},
		{"broker address", "x", []stack.Option{stack.WithBrokerAddr("9092")}, "broker address"},
		{"external unknown", "x", []stack.Option{stack.WithExternal("billing")}, "unknown service"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := stack.Start(t.Context(), tc.dir, tc.opts...)
			if err == nil {
				t.Fatalf("Start succeeded; want an error mentioning %q", tc.want)
			}
			if s != nil {
				t.Error("Start returned a stack with its error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestHistogramQuantile pins how the load figures are read from a
// Prometheus histogram: the quantile is the upper bound of the bucket
// holding that rank, Sub gives what was observed between two scrapes, and
// an empty histogram or a bad quantile is an error.
func TestHistogramQuantile(t *testing.T) {
	t.Parallel()
	bucket := func(le float64, n uint64) *dto.Bucket { return &dto.Bucket{UpperBound: &le, CumulativeCount: &n} }
	family := func(count uint64, sum float64, buckets ...*dto.Bucket) *dto.MetricFamily {
		return &dto.MetricFamily{Metric: []*dto.Metric{{Histogram: &dto.Histogram{SampleCount: &count, SampleSum: &sum, Bucket: buckets}}}}
	}
	earlier := stack.Metrics{"lag": family(10, 0.1, bucket(0.01, 10), bucket(0.1, 10))}
	later := stack.Metrics{"lag": family(110, 6.1, bucket(0.01, 20), bucket(0.1, 109))}
	h0, ok0 := earlier.Histogram("lag")
	h1, ok1 := later.Histogram("lag")
	if !ok0 || !ok1 {
		t.Fatal("histogram not found")
	}
	d := h1.Sub(h0)
	tests := []struct {
		h    stack.Histogram
		q    float64
		want float64
	}{
		{h1, 0.10, 0.01},
		{h1, 0.50, 0.1},
		{h1, 0.99, 0.1},
		{h1, 1, math.Inf(1)},
		{d, 0.10, 0.01},
		{d, 0.11, 0.1},
		{d, 1, math.Inf(1)},
	}
	for _, tc := range tests {
		got, err := tc.h.Quantile(tc.q)
		if err != nil || got != tc.want {
			t.Errorf("Quantile(%v) of %+v = %v, %v; want %v", tc.q, tc.h, got, err, tc.want)
		}
	}
	if d.Count != 100 || math.Abs(d.Sum-6) > 1e-9 {
		t.Errorf("Sub: count %d sum %v, want 100 and 6", d.Count, d.Sum)
	}
	if _, err := (stack.Histogram{}).Quantile(0.5); err == nil {
		t.Error("the quantile of an empty histogram is not an error")
	}
	if _, err := h1.Quantile(0); err == nil {
		t.Error("quantile 0 is not an error")
	}
	if _, ok := later.Histogram("missing"); ok {
		t.Error("a missing family was found")
	}
}
