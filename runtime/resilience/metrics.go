package resilience

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// meterName is the instrumentation scope of the client's metrics.
const meterName = "github.com/keiyaku/keiyaku/runtime/resilience"

// Names of the client's counters. Each carries the attribute "target" (the
// client's name); transitions also carry "from" and "to" (closed, open,
// half-open) and fallbacks "fallback" (the FallbackHeader value).
const (
	MetricAttempts           = "keiyaku.client.attempts"
	MetricRetries            = "keiyaku.client.retries"
	MetricBudgetExhausted    = "keiyaku.client.budget.exhausted"
	MetricBreakerRejections  = "keiyaku.client.breaker.rejections"
	MetricBreakerTransitions = "keiyaku.client.breaker.transitions"
	MetricFallbacks          = "keiyaku.client.fallbacks"
)

type metrics struct {
	target      attribute.KeyValue
	targetOpts  []metric.AddOption // reused, so that Add does not allocate
	attempts    metric.Int64Counter
	retries     metric.Int64Counter
	exhausted   metric.Int64Counter
	rejections  metric.Int64Counter
	transitions metric.Int64Counter
	fallbacks   metric.Int64Counter
}

func newMetrics(mp metric.MeterProvider, target string) (*metrics, error) {
	m := mp.Meter(meterName)
	kv := attribute.String("target", target)
	out := &metrics{target: kv, targetOpts: []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(kv))}}
	var errs []error
	counter := func(name, desc, unit string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit(unit))
		errs = append(errs, err)
		return c
	}
	out.attempts = counter(MetricAttempts, "Attempts sent to the target, first tries and retries.", "{attempt}")
	out.retries = counter(MetricRetries, "Attempts sent after a failed one.", "{retry}")
	out.exhausted = counter(MetricBudgetExhausted, "Retries refused by the retry budget.", "{retry}")
	out.rejections = counter(MetricBreakerRejections, "Attempts refused by the circuit breaker.", "{attempt}")
	out.transitions = counter(MetricBreakerTransitions, "Circuit breaker state changes.", "{transition}")
	out.fallbacks = counter(MetricFallbacks, "Calls answered by a fallback.", "{call}")
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func (m *metrics) add(ctx context.Context, c metric.Int64Counter) { c.Add(ctx, 1, m.targetOpts...) }

func (m *metrics) transition(from, to string) {
	m.transitions.Add(context.Background(), 1, metric.WithAttributes(m.target,
		attribute.String("from", from), attribute.String("to", to)))
}

func (m *metrics) fallback(ctx context.Context, kind string) {
	m.fallbacks.Add(ctx, 1, metric.WithAttributes(m.target, attribute.String("fallback", kind)))
}
