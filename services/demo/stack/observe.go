package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/app"
)

// maxScrape bounds the size of a /metrics answer [Stack.Metrics] reads.
const maxScrape = 16 << 20

// ConsumerLag returns, for each consuming service (member, room,
// notification), how many records of [EventsTopic] its consumer group has
// not committed yet; see [Lag].
func (s *Stack) ConsumerLag(ctx context.Context) (map[string]int64, error) {
	return Lag(ctx, s.kafka)
}

// Lag returns, for each consuming service of the reference system
// ([ConsumerGroups]), how many records of [EventsTopic] its group has not
// committed yet on the cluster of kafka: the sum over partitions of the
// end offset minus the committed offset (the whole partition when nothing
// is committed). It asks the brokers, as an operator's
// `kafka-consumer-groups --describe` would, and fails when they do not
// answer before ctx ends.
func Lag(ctx context.Context, kafka app.KafkaConfig) (map[string]int64, error) {
	opts, err := kafka.Client.Options()
	if err != nil {
		return nil, fmt.Errorf("consumer lag: %w", err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("consumer lag: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, EventsTopic)
	if err != nil {
		return nil, fmt.Errorf("consumer lag: end offsets: %w", err)
	}
	if err := ends.Error(); err != nil {
		return nil, fmt.Errorf("consumer lag: end offsets: %w", err)
	}
	out := make(map[string]int64, len(ConsumerGroups))
	for service, group := range ConsumerGroups {
		committed, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return nil, fmt.Errorf("consumer lag: offsets of %s: %w", group, err)
		}
		var lag int64
		ends.Each(func(end kadm.ListedOffset) {
			at := int64(0)
			if c, ok := committed.Lookup(end.Topic, end.Partition); ok && c.Err == nil && c.At > 0 {
				at = c.At
			}
			lag += max(end.Offset-at, 0)
		})
		out[service] = lag
	}
	return out, nil
}

// Metrics is one scrape of a service's /metrics, by metric family name
// (Prometheus names: keiyaku.outbox.pending is keiyaku_outbox_pending).
type Metrics map[string]*dto.MetricFamily

// Metrics scrapes GET /metrics of service; see [Scrape].
func (s *Stack) Metrics(ctx context.Context, service string) (Metrics, error) {
	m, err := Scrape(ctx, s.http, s.URL(service)+"/metrics")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", service, err)
	}
	return m, nil
}

// Scrape reads the Prometheus text exposition at url with hc, as
// Prometheus would; it reads at most 16 MiB.
func Scrape(ctx context.Context, hc *http.Client, url string) (Metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: status %d", url, resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(io.LimitReader(resp.Body, maxScrape))
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	return Metrics(fams), nil
}

// Value returns the sum of the values of the gauge or counter series of
// family name whose labels include every name=value pair of labels, and
// whether the family exists.
func (m Metrics) Value(name string, labels ...string) (float64, bool) {
	f, ok := m[name]
	if !ok {
		return 0, false
	}
	var sum float64
	for _, mt := range f.GetMetric() {
		if !hasLabels(mt, labels) {
			continue
		}
		switch {
		case mt.GetGauge() != nil:
			sum += mt.GetGauge().GetValue()
		case mt.GetCounter() != nil:
			sum += mt.GetCounter().GetValue()
		case mt.GetUntyped() != nil:
			sum += mt.GetUntyped().GetValue()
		}
	}
	return sum, true
}

// Histogram is a histogram merged over its series: cumulative counts by
// upper bound.
type Histogram struct {
	Count   uint64
	Sum     float64
	Bounds  []float64 // upper bounds, ascending; the last is +Inf
	Buckets []uint64  // cumulative counts, one per bound
}

// Histogram returns the histogram of family name, its series whose labels
// include labels merged, and whether the family exists.
func (m Metrics) Histogram(name string, labels ...string) (Histogram, bool) {
	f, ok := m[name]
	if !ok {
		return Histogram{}, false
	}
	counts := map[float64]uint64{}
	var h Histogram
	for _, mt := range f.GetMetric() {
		hm := mt.GetHistogram()
		if hm == nil || !hasLabels(mt, labels) {
			continue
		}
		h.Count += hm.GetSampleCount()
		h.Sum += hm.GetSampleSum()
		for _, b := range hm.GetBucket() {
			counts[b.GetUpperBound()] += b.GetCumulativeCount()
		}
		counts[math.Inf(1)] += 0
	}
	for b := range counts {
		h.Bounds = append(h.Bounds, b)
	}
	sort.Float64s(h.Bounds)
	for _, b := range h.Bounds {
		c := counts[b]
		if math.IsInf(b, 1) {
			c = h.Count
		}
		h.Buckets = append(h.Buckets, c)
	}
	return h, true
}

// Sub returns h minus an earlier scrape of the same histogram: what was
// observed in between. Bounds missing from earlier count as zero.
func (h Histogram) Sub(earlier Histogram) Histogram {
	out := Histogram{Count: h.Count - earlier.Count, Sum: h.Sum - earlier.Sum, Bounds: slices.Clone(h.Bounds)}
	for i, b := range h.Bounds {
		c := h.Buckets[i]
		if j := slices.Index(earlier.Bounds, b); j >= 0 {
			c -= earlier.Buckets[j]
		}
		out.Buckets = append(out.Buckets, c)
	}
	return out
}

// Quantile returns the upper bound of the bucket that holds quantile q
// (0 < q ≤ 1) of the observations: q of them were at most that value.
// It is an error when h is empty.
func (h Histogram) Quantile(q float64) (float64, error) {
	if h.Count == 0 {
		return 0, errors.New("quantile of an empty histogram")
	}
	if q <= 0 || q > 1 {
		return 0, fmt.Errorf("quantile %v: want 0 < q ≤ 1", q)
	}
	rank := uint64(math.Ceil(q * float64(h.Count)))
	for i, c := range h.Buckets {
		if c >= rank {
			return h.Bounds[i], nil
		}
	}
	return math.Inf(1), nil
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
