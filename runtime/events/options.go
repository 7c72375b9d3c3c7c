package events

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Defaults of the consumer options.
const (
	// DefaultMaxAttempts is how many times a handler that fails with a
	// retryable error is called for one record before the record goes to
	// the dead-letter topic: 0, no limit — the record waits, its
	// partition paused, until the handler's dependency is back. Poison
	// (an unreadable record, an error wrapped with [Permanent]) goes to
	// the dead-letter topic at once whatever the limit.
	DefaultMaxAttempts = 0
	// DefaultRetryInitial and DefaultRetryMax bound the exponential backoff
	// (factor 2, ±50% jitter) between two attempts.
	DefaultRetryInitial = 100 * time.Millisecond
	DefaultRetryMax     = 5 * time.Second
	// DefaultConcurrency is how many partitions are processed at once.
	DefaultConcurrency = 8
	// DefaultMaxPollRecords is how many records one poll hands over.
	DefaultMaxPollRecords = 1000
	// DefaultCommitInterval is the longest a consumer that keeps up with
	// a busy topic waits between two commits.
	DefaultCommitInterval = time.Second
	// DefaultDrainTimeout is how long shutdown waits for in-flight
	// handlers, the dead-letter produces and the final commit.
	DefaultDrainTimeout = 30 * time.Second
	// DeadLetterSuffix ends the name of every default dead-letter topic,
	// "<topic>.<group>.dlq" ([DeadLetterTopic]), unless
	// [WithDeadLetterTopic] says otherwise.
	DeadLetterSuffix = ".dlq"
)

// ProducerOption configures [NewProducer].
type ProducerOption interface {
	applyProducer(*producerConfig)
}

// ConsumerOption configures [NewConsumer].
type ConsumerOption interface {
	applyConsumer(*consumerConfig)
}

// Option configures both a [Producer] and a [Consumer].
type Option interface {
	ProducerOption
	ConsumerOption
}

// telemetryConfig is what producers and consumers share.
type telemetryConfig struct {
	log        *slog.Logger
	tracer     trace.TracerProvider
	propagator propagation.TextMapPropagator
	meter      metric.MeterProvider
	errs       []error
}

func defaultTelemetry() telemetryConfig {
	return telemetryConfig{
		log:        slog.New(slog.DiscardHandler),
		tracer:     otel.GetTracerProvider(),
		propagator: otel.GetTextMapPropagator(),
		meter:      otel.GetMeterProvider(),
	}
}

func (t *telemetryConfig) err() error {
	if len(t.errs) == 0 {
		return nil
	}
	return errors.Join(t.errs...)
}

type producerConfig struct {
	telemetryConfig
}

type consumerConfig struct {
	telemetryConfig
	maxAttempts    int
	retryInitial   time.Duration
	retryMax       time.Duration
	concurrency    int
	maxPoll        int
	drainTimeout   time.Duration
	commitInterval time.Duration
	deadLetter     func(topic string) string
	processed      Processed
}

type sharedOpt func(*telemetryConfig)

func (o sharedOpt) applyProducer(c *producerConfig) { o(&c.telemetryConfig) }
func (o sharedOpt) applyConsumer(c *consumerConfig) { o(&c.telemetryConfig) }

type consumerOpt func(*consumerConfig)

func (o consumerOpt) applyConsumer(c *consumerConfig) { o(c) }

// WithLogger sets the logger, overriding the default of discarding logs.
// The producer does not log (it returns its errors); the consumer logs retries and dead-lettered records at warn, skipped
// records of unknown types and duplicates at debug, and failed commits at
// error.
func WithLogger(l *slog.Logger) Option {
	return sharedOpt(func(c *telemetryConfig) {
		if l == nil {
			c.errs = append(c.errs, errors.New("nil logger"))
			return
		}
		c.log = l
	})
}

// WithTracerProvider sets where spans go, overriding the default of
// otel.GetTracerProvider() at construction time. The producer starts a
// "send <topic>" span (kind producer) for each Publish; the consumer starts
// a "process <topic>" span (kind consumer) for each record, a child of the
// trace context in the record's headers.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return sharedOpt(func(c *telemetryConfig) {
		if tp == nil {
			c.errs = append(c.errs, errors.New("nil tracer provider"))
			return
		}
		c.tracer = tp
	})
}

// WithPropagator sets how trace context is written to and read from record
// headers, overriding the default of otel.GetTextMapPropagator() at
// construction time. Services set the global propagator to W3C trace
// context (traceparent, tracestate) and baggage.
func WithPropagator(p propagation.TextMapPropagator) Option {
	return sharedOpt(func(c *telemetryConfig) {
		if p == nil {
			c.errs = append(c.errs, errors.New("nil propagator"))
			return
		}
		c.propagator = p
	})
}

// WithMeterProvider sets where counters go, overriding the default of
// otel.GetMeterProvider() at construction time. The producer counts
// keiyaku.events.published; the consumer counts keiyaku.events.consumed,
// keiyaku.events.retried, keiyaku.events.dead_lettered,
// keiyaku.events.dead_letter_failures and keiyaku.events.skipped, each with
// the topic and event type as attributes, and observes the gauge
// keiyaku.events.consumer_lag per group, topic and partition.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return sharedOpt(func(c *telemetryConfig) {
		if mp == nil {
			c.errs = append(c.errs, errors.New("nil meter provider"))
			return
		}
		c.meter = mp
	})
}

// WithMaxAttempts sets how many times a handler failing with a retryable
// error is called for one record before the record goes to the
// dead-letter topic, overriding the default [DefaultMaxAttempts] (no
// limit). n is 0 for no limit or at least 1 (no retry). A bounded n turns a
// long outage of a dependency into dead-lettered valid events: keep the
// default unless the dead-letter topic is re-driven ("keiyaku dlq replay").
func WithMaxAttempts(n int) ConsumerOption {
	return consumerOpt(func(c *consumerConfig) {
		if n < 0 {
			c.errs = append(c.errs, fmt.Errorf("max attempts %d: must be 0 (no limit) or more", n))
			return
		}
		c.maxAttempts = n
	})
}

// WithRetryBackoff sets the first and the largest wait between two attempts
// of a handler, overriding the defaults [DefaultRetryInitial] and
// [DefaultRetryMax]. The wait doubles after each attempt and is jittered by
// ±50%. 0 < initial <= max is required.
func WithRetryBackoff(initial, maxWait time.Duration) ConsumerOption {
	return consumerOpt(func(c *consumerConfig) {
		if initial <= 0 || maxWait < initial {
			c.errs = append(c.errs, fmt.Errorf("retry backoff %v..%v: need 0 < initial <= max", initial, maxWait))
			return
		}
		c.retryInitial, c.retryMax = initial, maxWait
	})
}

// WithConcurrency sets how many partitions are processed at the same time,
// overriding the default [DefaultConcurrency]. Records of one partition are
// always handled one after the other, in offset order. n must be at least 1.
func WithConcurrency(n int) ConsumerOption {
	return consumerOpt(func(c *consumerConfig) {
		if n < 1 {
			c.errs = append(c.errs, fmt.Errorf("concurrency %d: must be at least 1", n))
			return
		}
		c.concurrency = n
	})
}

// WithMaxPollRecords sets how many records one poll takes from the client,
// overriding the default [DefaultMaxPollRecords]. Up to n times the
// concurrency records are queued for the handlers, and a commit, and so a
// rebalance of the group, waits until the queued records are handled:
// lower n for slow handlers, keeping that wait well below the group's
// rebalance timeout (kgo.RebalanceTimeout, 60s by default). n must be at
// least 1.
func WithMaxPollRecords(n int) ConsumerOption {
	return consumerOpt(func(c *consumerConfig) {
		if n < 1 {
			c.errs = append(c.errs, fmt.Errorf("max poll records %d: must be at least 1", n))
			return
		}
		c.maxPoll = n
	})
}

// WithDrainTimeout sets how long [Consumer.Run] waits, once its context is
// done, for in-flight handlers, dead-letter produces and the final commit,
// overriding the default [DefaultDrainTimeout]. When it runs out the
// handlers' context is cancelled. d must be positive.
func WithDrainTimeout(d time.Duration) ConsumerOption {
	return consumerOpt(func(c *consumerConfig) {
		if d <= 0 {
			c.errs = append(c.errs, fmt.Errorf("drain timeout %v: must be positive", d))
			return
		}
		c.drainTimeout = d
	})
}

// WithCommitInterval sets how long a consumer busy with full polls may
// wait before it commits what its handlers finished, overriding the
// default [DefaultCommitInterval]. A consumer that has caught up commits
// after every poll; shutdown always commits. A longer interval means fewer
// commits and more records delivered again after a crash, and delays a
// rebalance by up to the interval. d must be positive.
func WithCommitInterval(d time.Duration) ConsumerOption {
	return consumerOpt(func(c *consumerConfig) {
		if d <= 0 {
			c.errs = append(c.errs, fmt.Errorf("commit interval %v: must be positive", d))
			return
		}
		c.commitInterval = d
	})
}

// WithDeadLetterTopic sets how the dead-letter topic of a topic is named,
// overriding the default [DeadLetterTopic] of the consumer's group. name must return
// a non-empty topic name different from its argument.
func WithDeadLetterTopic(name func(topic string) string) ConsumerOption {
	return consumerOpt(func(c *consumerConfig) {
		if name == nil {
			c.errs = append(c.errs, errors.New("nil dead-letter topic func"))
			return
		}
		c.deadLetter = name
	})
}

// WithIdempotency makes the consumer run each handler call through p, keyed
// by the event id (ce_id): an event whose id p has recorded already is
// acknowledged without calling the handler again. By default there is no
// such check, and a redelivered event (after a crash or a rebalance before
// the commit) is handled again.
func WithIdempotency(p Processed) ConsumerOption {
	return consumerOpt(func(c *consumerConfig) {
		if p == nil {
			c.errs = append(c.errs, errors.New("nil Processed"))
			return
		}
		c.processed = p
	})
}
