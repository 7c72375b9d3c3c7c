package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

// instrumentation is the name of this package's meter.
const instrumentation = "github.com/keiyaku/keiyaku/runtime/outbox"

// Defaults of the relay options.
const (
	DefaultPollInterval   = 50 * time.Millisecond
	DefaultBatchSize      = 256
	DefaultBackoffInitial = 100 * time.Millisecond
	DefaultBackoffMax     = 10 * time.Second
	DefaultSendTimeout    = 30 * time.Second
	DefaultRetention      = 24 * time.Hour
	// MaxBatchSize is the largest batch [WithBatchSize] accepts.
	MaxBatchSize = 10_000
)

const (
	// markTimeout bounds marking a sent batch, which goes on after the
	// relay's context ends so that a sent batch is not sent again.
	markTimeout = 10 * time.Second
	// pruneEvery is the least time between two prunes.
	pruneEvery = time.Minute
	// gaugeTimeout bounds the query of the pending gauge.
	gaugeTimeout = 5 * time.Second
)

// lagBuckets are the bucket boundaries of the lag histogram, in seconds.
var lagBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}

// RelayOption configures [NewRelay].
type RelayOption func(*relayConfig)

type relayConfig struct {
	poll           time.Duration
	batch          int
	backoffInitial time.Duration
	backoffMax     time.Duration
	sendTimeout    time.Duration
	retention      time.Duration
	log            *slog.Logger
	meter          metric.MeterProvider
	notify         <-chan struct{}
	tracing        sendTracing
	errs           []error
}

// WithPollInterval sets how long the relay waits, when it found no more
// rows, before it looks again, overriding [DefaultPollInterval] (50ms). d
// must be positive. [Relay.Notify] and [WithNotify] cut the wait short.
func WithPollInterval(d time.Duration) RelayOption {
	return func(c *relayConfig) {
		if d <= 0 {
			c.errs = append(c.errs, fmt.Errorf("poll interval %v: must be positive", d))
			return
		}
		c.poll = d
	}
}

// WithBatchSize sets how many rows one call of send gets at most,
// overriding [DefaultBatchSize] (256). n must be between 1 and
// [MaxBatchSize].
func WithBatchSize(n int) RelayOption {
	return func(c *relayConfig) {
		if n < 1 || n > MaxBatchSize {
			c.errs = append(c.errs, fmt.Errorf("batch size %d: must be between 1 and %d", n, MaxBatchSize))
			return
		}
		c.batch = n
	}
}

// WithBackoff sets the wait after a failed send (or a database error)
// before the next attempt: initial, doubled after each failure in a row
// up to max, with ±50% jitter; overriding [DefaultBackoffInitial] (100ms)
// and [DefaultBackoffMax] (10s). Both must be positive and initial ≤ max.
// The relay retries without end — a record is never dropped — so a
// record that can never be sent stops the relay (and its logs say so)
// until a person fixes or deletes it.
func WithBackoff(initial, max time.Duration) RelayOption {
	return func(c *relayConfig) {
		if initial <= 0 || max < initial {
			c.errs = append(c.errs, fmt.Errorf("backoff %v to %v: want 0 < initial ≤ max", initial, max))
			return
		}
		c.backoffInitial, c.backoffMax = initial, max
	}
}

// WithSendTimeout bounds one call of send, overriding
// [DefaultSendTimeout] (30s); a send that takes longer fails and is
// retried. On PostgreSQL the batch's rows stay locked meanwhile. d must
// be positive.
func WithSendTimeout(d time.Duration) RelayOption {
	return func(c *relayConfig) {
		if d <= 0 {
			c.errs = append(c.errs, fmt.Errorf("send timeout %v: must be positive", d))
			return
		}
		c.sendTimeout = d
	}
}

// WithRetention sets how long sent rows are kept before the relay deletes
// them (at most once a minute), overriding [DefaultRetention] (24h). 0
// keeps them forever; d must not be negative.
func WithRetention(d time.Duration) RelayOption {
	return func(c *relayConfig) {
		if d < 0 {
			c.errs = append(c.errs, fmt.Errorf("retention %v: must not be negative", d))
			return
		}
		c.retention = d
	}
}

// WithLogger sets the logger, overriding the default of discarding logs.
// The relay logs failed batches at warn and the batches it sent at debug.
func WithLogger(l *slog.Logger) RelayOption {
	return func(c *relayConfig) {
		if l == nil {
			c.errs = append(c.errs, errors.New("nil logger"))
			return
		}
		c.log = l
	}
}

// WithMeterProvider sets where the relay's metrics go, overriding the
// default of otel.GetMeterProvider(): the histogram keiyaku.outbox.lag
// (seconds from created_at to sent_at of each record), the counters
// keiyaku.outbox.sent (records) and keiyaku.outbox.send.failures
// (batches), and the gauge keiyaku.outbox.pending (records not sent yet,
// read from the database when metrics are collected, while Run runs).
func WithMeterProvider(mp metric.MeterProvider) RelayOption {
	return func(c *relayConfig) {
		if mp == nil {
			c.errs = append(c.errs, errors.New("nil meter provider"))
			return
		}
		c.meter = mp
	}
}

// WithNotify gives the relay a channel that wakes it, like
// [Relay.Notify]: a writer that does not hold the Relay pokes the channel
// (a non-blocking send) after it commits. A closed channel is ignored
// from then on. By default there is none.
func WithNotify(ch <-chan struct{}) RelayOption {
	return func(c *relayConfig) {
		if ch == nil {
			c.errs = append(c.errs, errors.New("nil notify channel"))
			return
		}
		c.notify = ch
	}
}

// Relay publishes the outbox: pending rows oldest first, in order per
// key, through send (e.g. (*events.Producer).Send, idempotent,
// acks=all), then marks them sent. See the package documentation for the
// guarantees. Its methods are safe for concurrent use; one Relay runs
// once at a time.
type Relay struct {
	store *Store
	send  func(ctx context.Context, recs ...*kgo.Record) error
	cfg   relayConfig
	wake  chan struct{}

	running atomic.Bool

	meter    metric.Meter
	lag      metric.Float64Histogram
	sent     metric.Int64Counter
	failures metric.Int64Counter
	pending  metric.Int64ObservableGauge
}

// NewRelay returns a relay of s that publishes through send. send must
// return nil only when every record it was given is stored by the
// broker; on an error the whole batch is sent again, so records that
// did go out are sent twice (consumers drop them by event id). It must
// not fail a record and then store a later record of the same key in the
// same call — kgo's idempotent producer, which (*events.Producer).Send
// uses, fails the records after a failed one of the same partition — or
// that key's order breaks. NewRelay returns an error for a nil store or
// send or a bad option.
func NewRelay(s *Store, send func(ctx context.Context, recs ...*kgo.Record) error, opts ...RelayOption) (*Relay, error) {
	if s == nil {
		return nil, errors.New("outbox: new relay: nil store")
	}
	if send == nil {
		return nil, errors.New("outbox: new relay: nil send")
	}
	cfg := relayConfig{
		poll:           DefaultPollInterval,
		batch:          DefaultBatchSize,
		backoffInitial: DefaultBackoffInitial,
		backoffMax:     DefaultBackoffMax,
		sendTimeout:    DefaultSendTimeout,
		retention:      DefaultRetention,
		log:            slog.New(slog.DiscardHandler),
		meter:          otel.GetMeterProvider(),
	}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("outbox: new relay: nil option")
		}
		o(&cfg)
	}
	if err := errors.Join(cfg.errs...); err != nil {
		return nil, fmt.Errorf("outbox: new relay: %w", err)
	}
	r := &Relay{store: s, send: cfg.tracing.wrap(send), cfg: cfg, wake: make(chan struct{}, 1)}
	r.meter = cfg.meter.Meter(instrumentation)
	var err error
	if r.lag, err = r.meter.Float64Histogram("keiyaku.outbox.lag",
		metric.WithDescription("Time from adding a record to the outbox to its acknowledgement by the broker."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(lagBuckets...)); err != nil {
		return nil, fmt.Errorf("outbox: new relay: lag histogram: %w", err)
	}
	if r.sent, err = r.meter.Int64Counter("keiyaku.outbox.sent",
		metric.WithDescription("Outbox records sent and marked sent."),
		metric.WithUnit("{record}")); err != nil {
		return nil, fmt.Errorf("outbox: new relay: sent counter: %w", err)
	}
	if r.failures, err = r.meter.Int64Counter("keiyaku.outbox.send.failures",
		metric.WithDescription("Outbox batches that failed to send or to be marked sent, and will be retried."),
		metric.WithUnit("{batch}")); err != nil {
		return nil, fmt.Errorf("outbox: new relay: failures counter: %w", err)
	}
	if r.pending, err = r.meter.Int64ObservableGauge("keiyaku.outbox.pending",
		metric.WithDescription("Outbox records not sent yet."),
		metric.WithUnit("{record}")); err != nil {
		return nil, fmt.Errorf("outbox: new relay: pending gauge: %w", err)
	}
	return r, nil
}

// Notify wakes the relay now, so that records committed a moment ago go
// out without waiting for the poll interval. Call it after the commit of
// a transaction that added records; it never blocks, and calls while the
// relay is busy fold into one.
func (r *Relay) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run relays until ctx is done, then returns nil; a batch already sent
// is still marked sent. Send and database failures do not end Run: they
// are logged, and the batch is retried with backoff ([WithBackoff]).
// Run returns an error at once if the relay is running already or its
// metrics cannot be registered.
func (r *Relay) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("outbox: relay: already running")
	}
	defer r.running.Store(false)
	reg, err := r.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, gaugeTimeout)
		defer cancel()
		n, err := r.store.Pending(ctx)
		if err != nil {
			return err
		}
		o.ObserveInt64(r.pending, int64(n))
		return nil
	}, r.pending)
	if err != nil {
		return fmt.Errorf("outbox: relay: register pending gauge: %w", err)
	}
	defer func() { _ = reg.Unregister() }()

	b := backoff.ExponentialBackOff{
		InitialInterval:     r.cfg.backoffInitial,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         r.cfg.backoffMax,
	}
	b.Reset()
	notify := r.cfg.notify
	timer := time.NewTimer(r.cfg.poll)
	defer timer.Stop()
	var lastPrune time.Time
	failed := 0
	for {
		n, err := r.relayBatch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			failed++
			r.failures.Add(ctx, 1)
			wait := b.NextBackOff()
			r.cfg.log.WarnContext(ctx, "outbox: relay failed; retrying", "error", err, "failures", failed, "wait", wait)
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
			}
			continue
		}
		if failed > 0 {
			r.cfg.log.InfoContext(ctx, "outbox: relay recovered", "failures", failed)
			failed = 0
			b.Reset()
		}
		if r.cfg.retention > 0 && time.Since(lastPrune) >= pruneEvery {
			lastPrune = time.Now()
			if _, err := r.store.Prune(ctx, lastPrune.Add(-r.cfg.retention)); err != nil && ctx.Err() == nil {
				r.cfg.log.WarnContext(ctx, "outbox: delete sent rows", "error", err)
			}
		}
		if n >= r.cfg.batch {
			continue // more may be waiting
		}
		timer.Reset(r.cfg.poll)
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-r.wake:
		case _, ok := <-notify:
			if !ok {
				notify = nil
			}
		}
	}
}

// relayBatch claims, sends and marks one batch and returns its size.
func (r *Relay) relayBatch(ctx context.Context) (int, error) {
	if r.store.db.Dialect == sqldb.Postgres {
		return r.relayLocked(ctx)
	}
	return r.relayUnlocked(ctx)
}

// relayLocked relays one batch on PostgreSQL: the rows stay locked (FOR
// UPDATE SKIP LOCKED) by a transaction from the claim to the mark, so
// that other relays skip them.
func (r *Relay) relayLocked(ctx context.Context) (int, error) {
	// The transaction outlives ctx by up to markTimeout, so that a batch
	// sent just before shutdown is still marked.
	txCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	tx, err := r.store.db.BeginTx(txCtx, nil)
	if err != nil {
		return 0, fmt.Errorf("outbox: relay: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := r.store.claimRows(ctx, tx, r.cfg.batch)
	if err != nil || len(rows) == 0 {
		return 0, wrapRelay(err)
	}
	if err := r.sendRows(ctx, rows); err != nil {
		return 0, err
	}
	at := time.Now()
	markCtx, cancelMark := context.WithTimeout(txCtx, markTimeout)
	defer cancelMark()
	if err := r.store.markSent(markCtx, tx, rows, at.UTC()); err != nil {
		return 0, wrapRelay(err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("outbox: relay: commit: %w", err)
	}
	r.record(ctx, rows, at)
	return len(rows), nil
}

// relayUnlocked relays one batch on SQLite: the rows are read, sent and
// then marked in a short transaction, so that the write lock is never
// held while the broker is waited for. One relay per SQLite database.
func (r *Relay) relayUnlocked(ctx context.Context) (int, error) {
	rows, err := r.store.claimRows(ctx, r.store.db.Reader(), r.cfg.batch)
	if err != nil || len(rows) == 0 {
		return 0, wrapRelay(err)
	}
	if err := r.sendRows(ctx, rows); err != nil {
		return 0, err
	}
	at := time.Now()
	markCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if err := r.store.db.InTx(markCtx, func(ctx context.Context, tx *sql.Tx) error {
		return r.store.markSent(ctx, tx, rows, at.UTC())
	}); err != nil {
		return 0, wrapRelay(err)
	}
	r.record(ctx, rows, at)
	return len(rows), nil
}

// sendRows sends the records of rows in one call of send.
func (r *Relay) sendRows(ctx context.Context, rows []row) error {
	recs := make([]*kgo.Record, len(rows))
	for i, row := range rows {
		recs[i] = row.rec
	}
	sendCtx, cancel := context.WithTimeout(ctx, r.cfg.sendTimeout)
	defer cancel()
	if err := r.send(sendCtx, recs...); err != nil {
		return fmt.Errorf("outbox: relay: send %d records (ids %d to %d): %w", len(rows), rows[0].id, rows[len(rows)-1].id, err)
	}
	return nil
}

// record updates the metrics of a sent batch.
func (r *Relay) record(ctx context.Context, rows []row, at time.Time) {
	counts := make(map[string]int64)
	for _, row := range rows {
		topic := attribute.String("messaging.destination.name", row.rec.Topic)
		r.lag.Record(ctx, max(at.Sub(row.created).Seconds(), 0), metric.WithAttributes(topic))
		counts[row.rec.Topic]++
	}
	for topic, n := range counts {
		r.sent.Add(ctx, n, metric.WithAttributes(attribute.String("messaging.destination.name", topic)))
	}
	r.cfg.log.DebugContext(ctx, "outbox: relayed", "records", len(rows), "first_id", rows[0].id, "last_id", rows[len(rows)-1].id)
}

func wrapRelay(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("outbox: relay: %w", err)
}
