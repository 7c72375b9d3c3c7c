package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/keiyaku/keiyaku/runtime/events/codec"
)

// consumerSpan is the start option of every consumer span.
var consumerSpan = trace.WithSpanKind(trace.SpanKindConsumer)

// maxDLQError bounds the keiyaku_dlq_error header.
const maxDLQError = 1024

// fetchErrorPause is how long Run waits after a poll that returned errors
// and no records, so a lasting fetch error does not spin the loop.
const fetchErrorPause = 250 * time.Millisecond

// deadLetterTimeout bounds one write to a dead-letter topic; a failed
// write is retried with the record's backoff.
const deadLetterTimeout = 10 * time.Second

// unknownSchemaAttempts is how many times a record whose writer schema is
// unknown is tried (each try asks the schema store again) before it is
// treated as poison.
const unknownSchemaAttempts = 5

// inPlaceRetries is how many retries of a record wait in place (the
// backoff's first waits, 100 to 400 ms by default) before a commit window
// parks the record instead.
const inPlaceRetries = 3

// Consumer reads events of a consumer group and hands each to the handler
// registered for its type with [Handle]. See the package documentation for
// the delivery guarantees. A Consumer runs once: register handlers, then
// call [Consumer.Run]. It does not own the client: the caller closes it
// after Run returns. To stop a running Consumer, cancel Run's context;
// closing the client under it takes effect at its next commit, and Run
// then returns an error.
type Consumer struct {
	client *kgo.Client
	codec  codec.Codec
	cfg    consumerConfig
	group  string
	tracer trace.Tracer
	// global is the tracer provider when it is OpenTelemetry's global
	// one, nil otherwise: see untraced.
	global trace.TracerProvider
	prop   propagation.TextMapPropagator
	log    *slog.Logger

	consumed, retried, deadLettered, skipped, dlqFailed metric.Int64Counter
	attrs                                               sync.Map // metricKey → metric.MeasurementOption
	lag                                                 *lagTracker
	dlqDown                                             atomic.Pointer[dlqFailure]

	mu       sync.Mutex
	handlers map[string]handler
	regErrs  []error
	started  bool
}

// handler is a registered [Handle] call with its event type erased.
type handler interface {
	// decode reads the value of a record whose content-type is f into a
	// new event.
	decode(ctx context.Context, f format, value []byte) (any, error)
	// call runs the user's handler on an event returned by decode.
	call(ctx context.Context, env Envelope, evt any) error
}

type typedHandler[T any] struct {
	codec  codec.Codec
	schema *codec.Schema
	format format // formatAvro or formatJSON
	fn     func(context.Context, Envelope, *T) error
}

func (h *typedHandler[T]) decode(ctx context.Context, f format, value []byte) (any, error) {
	if f != formatNone && f != h.format {
		return nil, fmt.Errorf("decode: %w: content-type %s, but the event type's values are %s", ErrNotEvent, f, h.format)
	}
	evt := new(T)
	if err := h.codec.Decode(ctx, value, h.schema, evt); err != nil {
		return nil, err
	}
	return evt, nil
}

func (h *typedHandler[T]) call(ctx context.Context, env Envelope, evt any) error {
	return h.fn(ctx, env, evt.(*T))
}

type metricKey struct{ topic, typ, reason string }

// ConsumerClientOptions returns the franz-go options a consuming client
// needs: the group and topics, no auto-commit (the Consumer commits what
// its handlers finished), rebalances held back between two commits of the
// Consumer (so a partition is never handled by two members at once, and
// everything finished is committed before a partition is given away),
// read-committed isolation, reading a topic from its start when the group
// has no committed offset, a one-second fetch wait (a paused partition
// resumes within it), auto creation of topics (the dead-letter topics,
// where the cluster allows it), and for the dead-letter produces acks=all,
// no linger and a two-minute delivery timeout. Append SeedBrokers and the
// options of [ClientConfig.Options] and [GroupConfig.Options].
func ConsumerClientOptions(group string, topics ...string) []kgo.Opt {
	return []kgo.Opt{
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topics...),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(time.Second),
		kgo.AllowAutoTopicCreation(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		kgo.RecordDeliveryTimeout(2 * time.Minute),
	}
}

// NewConsumer returns a Consumer that polls with client and decodes with
// c. client must be a group consumer with DisableAutoCommit and
// BlockRebalanceOnPoll and at least one topic, as [ConsumerClientOptions]
// sets; NewConsumer returns an error otherwise, and for a nil client or
// codec or a bad option. The client also produces the dead-letter records.
func NewConsumer(client *kgo.Client, c codec.Codec, opts ...ConsumerOption) (*Consumer, error) {
	if client == nil {
		return nil, errors.New("new consumer: nil client")
	}
	if c == nil {
		return nil, errors.New("new consumer: nil codec")
	}
	group, _ := client.OptValue(kgo.ConsumerGroup).(string)
	if group == "" {
		return nil, errors.New("new consumer: client has no consumer group (kgo.ConsumerGroup)")
	}
	if off, _ := client.OptValue(kgo.DisableAutoCommit).(bool); !off {
		return nil, errors.New("new consumer: client must use kgo.DisableAutoCommit")
	}
	if block, _ := client.OptValue(kgo.BlockRebalanceOnPoll).(bool); !block {
		return nil, errors.New("new consumer: client must use kgo.BlockRebalanceOnPoll")
	}
	topics, _ := client.OptValue(kgo.ConsumeTopics).([]string)
	if len(topics) == 0 {
		return nil, errors.New("new consumer: client consumes no topics (kgo.ConsumeTopics)")
	}
	cfg := consumerConfig{
		telemetryConfig: defaultTelemetry(),
		maxAttempts:     DefaultMaxAttempts,
		retryInitial:    DefaultRetryInitial,
		retryMax:        DefaultRetryMax,
		concurrency:     DefaultConcurrency,
		maxPoll:         DefaultMaxPollRecords,
		drainTimeout:    DefaultDrainTimeout,
		commitInterval:  DefaultCommitInterval,
		deadLetter:      func(topic string) string { return DeadLetterTopic(topic, group) },
	}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("new consumer: nil option")
		}
		o.applyConsumer(&cfg)
	}
	if err := cfg.err(); err != nil {
		return nil, fmt.Errorf("new consumer: %w", err)
	}
	if regex, _ := client.OptValue(kgo.ConsumeRegex).(bool); !regex {
		for _, t := range topics {
			if d := cfg.deadLetter(t); d == "" || d == t {
				return nil, fmt.Errorf("new consumer: dead-letter topic of %q is %q", t, d)
			}
		}
	}

	cons := &Consumer{
		client:   client,
		codec:    c,
		cfg:      cfg,
		group:    group,
		tracer:   cfg.tracer.Tracer(instrumentation),
		prop:     cfg.propagator,
		log:      cfg.log.With(slog.String("group", group)),
		handlers: make(map[string]handler),
		lag:      &lagTracker{parts: make(map[topicPartition]*lagPos)},
	}
	if isGlobal(cfg.tracer) {
		cons.global = cfg.tracer
	}
	meter := cfg.meter.Meter(instrumentation)
	counters := []struct {
		dst        *metric.Int64Counter
		name, desc string
	}{
		{&cons.consumed, "keiyaku.events.consumed", "Events whose handler succeeded."},
		{&cons.retried, "keiyaku.events.retried", "Handler attempts that failed and were retried."},
		{&cons.deadLettered, "keiyaku.events.dead_lettered", "Records copied to a dead-letter topic."},
		{&cons.skipped, "keiyaku.events.skipped", "Records committed without a handler call: unknown type or duplicate."},
		{&cons.dlqFailed, "keiyaku.events.dead_letter_failures", "Writes to a dead-letter topic that failed (retried; the partition waits)."},
	}
	for _, ctr := range counters {
		var err error
		*ctr.dst, err = meter.Int64Counter(ctr.name, metric.WithDescription(ctr.desc), metric.WithUnit("{event}"))
		if err != nil {
			return nil, fmt.Errorf("new consumer: counter %s: %w", ctr.name, err)
		}
	}
	if _, err := meter.Int64ObservableGauge("keiyaku.events.consumer_lag",
		metric.WithDescription("Records of a partition at or after the consumer's position and before the high watermark of its last fetch."),
		metric.WithUnit("{record}"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			cons.lag.observe(group, o)
			return nil
		})); err != nil {
		return nil, fmt.Errorf("new consumer: gauge keiyaku.events.consumer_lag: %w", err)
	}
	return cons, nil
}

// untraced reports whether the consumer's tracer records nothing now: it
// is OpenTelemetry's global tracer and no SDK has been installed
// (otel.SetTracerProvider not called). Its Start would then only wrap the
// producer's span context, which the record's context carries already, at
// the cost of two allocations per record; the consumer skips it. Workers
// ask once per batch, so an SDK installed later traces from the next
// batch on. (A process under OpenTelemetry's eBPF auto-instrumentation
// without an SDK gets no consumer spans from this.)
func (c *Consumer) untraced() bool {
	return c.global != nil && otel.GetTracerProvider() == c.global
}

// isGlobal reports whether tp is OpenTelemetry's global delegating tracer
// provider, the one otel.GetTracerProvider returns until an SDK is set.
func isGlobal(tp trace.TracerProvider) bool {
	t := reflect.TypeOf(tp)
	return t.Kind() == reflect.Pointer && t.Elem().PkgPath() == "go.opentelemetry.io/otel/internal/global"
}

// DeadLetterTopic is the default dead-letter topic of topic for the
// consumer group group: "<topic>.<group>.dlq". Each group has its own, so
// a record poison to one group is copied once, by that group, and a
// replay names the group it was for.
func DeadLetterTopic(topic, group string) string {
	return topic + "." + group + DeadLetterSuffix
}

// Handle registers h for events of type typ (by ce_type). Register every
// handler before [Consumer.Run]; a registration that is invalid (nil
// schema, nil handler, a type registered twice) or comes after Run started
// makes Run return an error instead of consuming.
//
// h is called with the decoded event, one record of a partition at a time
// and from several goroutines for different partitions. Its context carries
// the consumer span (a child of the producer's trace) and, with
// [WithIdempotency], whatever the [Processed] puts there (a database
// transaction). Returning an error retries the call with backoff (see
// [WithMaxAttempts]: by default until it succeeds, the partition waiting);
// returning an error wrapped with [Permanent] sends the record to the
// dead-letter topic at once. A retry gets the same *T; h must not keep evt
// or env.Headers after it returns. A panic in h is recovered and counts as
// a failed attempt.
func Handle[T any](c *Consumer, typ Type[T], h func(ctx context.Context, env Envelope, evt *T) error) {
	name, err := typ.name()
	if err == nil && h == nil {
		err = fmt.Errorf("handle %s: nil handler", name)
	}
	if err != nil {
		c.register("", nil, fmt.Errorf("handle: %w", err))
		return
	}
	cd, ctype := typ.codec(c.codec)
	c.register(name, &typedHandler[T]{codec: cd, schema: typ.Schema, format: formatOf(ctype), fn: h}, nil)
}

func (c *Consumer) register(name string, h handler, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.started:
		c.log.Error("events: Handle called after Run started; ignored", slog.String("type", name))
	case err != nil:
		c.regErrs = append(c.regErrs, err)
	case c.handlers[name] != nil:
		c.regErrs = append(c.regErrs, fmt.Errorf("handle %s: registered twice", name))
	default:
		c.handlers[name] = h
	}
}

// Run consumes until ctx is done, then shuts down gracefully: it stops
// polling, lets the handlers in flight finish (their context is cancelled
// only when [WithDrainTimeout] runs out; records not yet started are left
// for redelivery), commits the offsets of the finished records and leaves
// the group.
//
// While running, Run polls, queues each record on a worker for its
// partition (one record at a time per partition, [WithConcurrency]
// partitions at once) and commits, at least every [WithCommitInterval]
// and whenever it has caught up, the offset after the last finished record
// of each partition. Before each commit every queued record is finished or
// parked; only then may the group rebalance.
//
// A record whose handler failed with a retryable error, or that could not
// be copied to its dead-letter topic, is parked: its partition is paused
// and rewound to it, nothing after it is committed, and it is tried again
// after the backoff — for as long as it takes, by default. The other
// partitions go on meanwhile. Run never stops because of a record.
//
// Run returns nil after a shutdown caused by ctx. It returns an error
// without consuming when no handler is registered or a registration was
// invalid, and it stops with an error when the client was closed. Run may
// be called once.
func (c *Consumer) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.started {
		c.mu.Unlock()
		return errors.New("run: consumer already ran")
	}
	c.started = true
	handlers, regErr := c.handlers, errors.Join(c.regErrs...)
	c.mu.Unlock()
	if regErr != nil {
		return fmt.Errorf("run: %w", regErr)
	}
	if len(handlers) == 0 {
		return errors.New("run: no handler registered (call Handle before Run)")
	}

	// base outlives ctx by the drain timeout: handlers in flight, the
	// dead-letter produces and the last commit run on it.
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	stopDrain := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(c.cfg.drainTimeout, cancelBase)
		context.AfterFunc(base, func() { t.Stop() })
	})
	defer stopDrain()

	rs := &runState{
		c:        c,
		ctx:      ctx,
		base:     base,
		handlers: handlers,
		sem:      make(chan struct{}, c.cfg.concurrency),
		workers:  make(map[topicPartition]*worker),
		retries:  make(map[topicPartition]*retryState),
		paused:   make(map[topicPartition]time.Time),
		quiet:    make(chan struct{}),
	}
	rs.cond = sync.NewCond(&rs.mu)
	lastCommit := time.Now()
	closed := false
	var runErr error
	for ctx.Err() == nil {
		deadline := rs.resumeDue()
		if rs.uncommitted() {
			// Rebalances are held back until the next commit: do not
			// sit in a poll past the commit deadline.
			if d := lastCommit.Add(c.cfg.commitInterval); deadline.IsZero() || d.Before(deadline) {
				deadline = d
			}
		}
		pctx, cancelPoll := ctx, context.CancelFunc(func() {})
		if !deadline.IsZero() {
			pctx, cancelPoll = context.WithDeadline(ctx, deadline)
		}
		fetches := c.client.PollRecords(pctx, c.cfg.maxPoll)
		cancelPoll()
		if fetches.IsClientClosed() {
			closed = true
			runErr = fmt.Errorf("run: %w", kgo.ErrClientClosed)
			break
		}
		if ctx.Err() != nil {
			break // anything polled now is left for redelivery
		}
		nerr := 0
		fetches.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return
			}
			nerr++
			c.log.LogAttrs(ctx, slog.LevelWarn, "events: fetch error",
				slog.String("topic", topic), slog.Int("partition", int(p)), slog.Any("error", err))
		})
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if p.Err == nil {
				c.lag.sawHighWatermark(topicPartition{p.Topic, p.Partition}, p.HighWatermark, p.Records)
			}
		})
		recs := fetches.Records()
		rs.dispatch(recs)
		// Bound the records queued: enough for every worker to have a
		// poll's worth, since one poll often holds one partition only.
		rs.waitInflight(c.cfg.maxPoll * c.cfg.concurrency)
		// A commit window: when caught up (a short poll) or when the
		// interval has passed, let every queued record finish or park,
		// rewind the parked partitions, commit, and let a waiting
		// rebalance through.
		if len(recs) < c.cfg.maxPoll || time.Since(lastCommit) >= c.cfg.commitInterval {
			rs.beginQuiet()
			rs.waitInflight(0)
			finished, parked := rs.takeFinished()
			rs.rewind(parked)
			err := c.commit(base, finished)
			lastCommit = time.Now()
			rs.endQuiet()
			if errors.Is(err, kgo.ErrClientClosed) {
				closed = true
				runErr = fmt.Errorf("run: commit: %w", err)
				break
			}
			c.client.AllowRebalance()
		}
		if len(recs) == 0 && nerr > 0 {
			t := time.NewTimer(fetchErrorPause)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}
	// Shutdown: workers stop before their next record or retry (ctx is
	// done); wait for the records in flight, then commit.
	rs.waitInflight(0)
	if !closed {
		finished, _ := rs.takeFinished()
		if err := c.commit(base, finished); errors.Is(err, kgo.ErrClientClosed) {
			closed = true
		}
	}
	c.client.AllowRebalance()
	if !closed {
		lctx, cancel := context.WithTimeout(base, c.cfg.drainTimeout)
		if err := c.client.LeaveGroupContext(lctx); err != nil {
			c.log.LogAttrs(ctx, slog.LevelWarn, "events: leave group", slog.Any("error", err))
		}
		cancel()
	}
	return runErr
}

type topicPartition struct {
	topic     string
	partition int32
}

// runState is the pipeline of one Run: the poll loop dispatches records to
// one worker per partition; a worker handles its records in order, and at
// most concurrency workers handle records at the same time.
type runState struct {
	c         *Consumer
	ctx, base context.Context
	handlers  map[string]handler
	sem       chan struct{}

	mu       sync.Mutex
	cond     *sync.Cond // broadcast when inflight drops
	inflight int        // records dispatched and not yet finished, parked or dropped
	workers  map[topicPartition]*worker
	// retries holds the failures so far of the first unfinished record
	// of a partition, kept while the partition is rewound and paused.
	retries map[topicPartition]*retryState
	// nretries is len(retries), readable without mu: a worker looks at
	// its partition's entry, which only it creates, so 0 means none.
	nretries atomic.Int64
	// quiet is closed while a commit window waits: a worker about to
	// wait for a retry parks its record instead.
	quiet chan struct{}
	// paused are the partitions paused by a parked record and when to
	// resume them; used by the poll loop only.
	paused map[topicPartition]time.Time
}

// worker is the state of one partition; guarded by runState.mu.
type worker struct {
	tp       topicPartition
	spanName string
	// Used by the running worker goroutine only:
	strs     interner
	untraced bool    // for the current batch: see Consumer.untraced
	consumed counted // handled records not yet added to the metric
	queue    []*kgo.Record
	running  bool
	stopped  bool        // a record was left unfinished: take no more
	finished *kgo.Record // the last finished record not yet committed
	park     *parking    // the record left to retry later, if any
}

// counted is a worker's tally of handled records of one type, not yet
// added to the consumed metric: it is added once per batch (and when the
// type changes), not once per record.
type counted struct {
	typ string
	n   int64
}

func (w *worker) countConsumed(ctx context.Context, c *Consumer, typ string) {
	if typ != w.consumed.typ {
		w.flushConsumed(ctx, c)
		w.consumed.typ = typ
	}
	w.consumed.n++
}

func (w *worker) flushConsumed(ctx context.Context, c *Consumer) {
	if w.consumed.n > 0 {
		c.consumed.Add(ctx, w.consumed.n, c.metricAttrs(w.tp.topic, w.consumed.typ, ""))
		w.consumed.n = 0
	}
}

// parking is a record to fetch again at resume.
type parking struct {
	offset int64
	resume time.Time
}

// retryState is what the consumer remembers of a record that failed.
type retryState struct {
	offset   int64
	attempts int       // handler calls made
	first    time.Time // when the first attempt failed
	cause    error     // set when the record is to be dead-lettered
	bo       *backoff.ExponentialBackOff
}

// outcome is how processing a record ended.
type outcome int

const (
	finished outcome = iota // handled, skipped or dead-lettered: commit it
	parked                  // retry later: rewind the partition to it
	stopped                 // shutting down: leave it for redelivery
)

// dispatch queues records, in poll order, on their partitions' workers and
// starts the idle ones.
func (rs *runState) dispatch(recs []*kgo.Record) {
	if len(recs) == 0 {
		return
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, r := range recs {
		k := topicPartition{r.Topic, r.Partition}
		w := rs.workers[k]
		if w == nil {
			w = &worker{tp: k, spanName: "process " + r.Topic}
			rs.workers[k] = w
		}
		if w.stopped {
			continue // parked or shutting down: fetched again later
		}
		w.queue = append(w.queue, r)
		rs.inflight++
	}
	for _, w := range rs.workers {
		if len(w.queue) > 0 && !w.running && !w.stopped {
			w.running = true
			go rs.work(w)
		}
	}
}

// work handles the queue of w until it is empty.
func (rs *runState) work(w *worker) {
	for {
		rs.mu.Lock()
		batch := w.queue
		w.queue = nil
		if len(batch) == 0 || w.stopped {
			rs.inflight -= len(batch)
			w.running = false
			rs.cond.Broadcast()
			rs.mu.Unlock()
			return
		}
		rs.mu.Unlock()

		var last *kgo.Record
		out := finished
		var park parking
		w.untraced = rs.c.untraced()
		rs.sem <- struct{}{}
		for _, rec := range batch {
			if rs.ctx.Err() != nil {
				out = stopped
				break
			}
			out, park.resume = rs.c.processRecord(rs, w, rec)
			if out != finished {
				park.offset = rec.Offset
				break
			}
			rs.forget(rec)
			last = rec
		}
		<-rs.sem
		w.flushConsumed(rs.base, rs.c)
		if last != nil {
			rs.c.lag.processed(w.tp, last.Offset)
		}

		rs.mu.Lock()
		if last != nil {
			w.finished = last
		}
		rs.inflight -= len(batch)
		if out != finished {
			// Parked or shutting down: drop the rest, queued ones too;
			// they are fetched again after the rewind.
			w.stopped = true
			rs.inflight -= len(w.queue)
			w.queue = nil
			if out == parked {
				w.park = &park
			}
		}
		rs.cond.Broadcast()
		rs.mu.Unlock()
	}
}

// waitInflight waits until at most n records are in flight.
func (rs *runState) waitInflight(n int) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for rs.inflight > n {
		rs.cond.Wait()
	}
}

// beginQuiet makes workers park rather than wait for a retry, until
// endQuiet.
func (rs *runState) beginQuiet() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	close(rs.quiet)
}

func (rs *runState) endQuiet() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.quiet = make(chan struct{})
}

// uncommitted reports records dispatched or finished since the last
// commit.
func (rs *runState) uncommitted() bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.inflight > 0 {
		return true
	}
	for _, w := range rs.workers {
		if w.finished != nil || w.park != nil {
			return true
		}
	}
	return false
}

// takeFinished returns the last finished record of each partition and the
// parked partitions, and forgets the idle workers, whose partitions a
// rebalance may take away. Call it with nothing in flight.
func (rs *runState) takeFinished() ([]*kgo.Record, map[topicPartition]parking) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var recs []*kgo.Record
	var parks map[topicPartition]parking
	for k, w := range rs.workers {
		if w.finished != nil {
			recs = append(recs, w.finished)
			w.finished = nil
		}
		if w.park != nil {
			if parks == nil {
				parks = make(map[topicPartition]parking)
			}
			parks[k] = *w.park
			w.park = nil
			w.stopped = false
		}
		if !w.running {
			delete(rs.workers, k)
		}
	}
	return recs, parks
}

// rewind pauses the parked partitions and sets their fetch position back
// to the parked record. It runs on the polling goroutine before the
// rebalance is allowed, as kgo requires for SetOffsets.
func (rs *runState) rewind(parks map[topicPartition]parking) {
	if len(parks) == 0 {
		return
	}
	pause := make(map[string][]int32)
	offsets := make(map[string]map[int32]kgo.EpochOffset)
	for tp, p := range parks {
		pause[tp.topic] = append(pause[tp.topic], tp.partition)
		if offsets[tp.topic] == nil {
			offsets[tp.topic] = make(map[int32]kgo.EpochOffset)
		}
		offsets[tp.topic][tp.partition] = kgo.EpochOffset{Epoch: -1, Offset: p.offset}
		rs.paused[tp] = p.resume
	}
	rs.c.client.PauseFetchPartitions(pause)
	rs.c.client.SetOffsets(offsets)
}

// resumeDue resumes the paused partitions whose time has come and returns
// the earliest resume time of the others, zero if none.
func (rs *runState) resumeDue() time.Time {
	now := time.Now()
	var next time.Time
	var resume map[string][]int32
	for tp, at := range rs.paused {
		if !at.After(now) {
			if resume == nil {
				resume = make(map[string][]int32)
			}
			resume[tp.topic] = append(resume[tp.topic], tp.partition)
			delete(rs.paused, tp)
			continue
		}
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	if resume != nil {
		rs.c.client.ResumeFetchPartitions(resume)
	}
	return next
}

// retryState returns the failures so far of rec, nil when rec is not the
// record that failed last on its partition; with create, a fresh state
// then.
func (rs *runState) retryState(rec *kgo.Record, create bool) *retryState {
	if !create && rs.nretries.Load() == 0 {
		return nil // the common case, without the lock
	}
	k := topicPartition{rec.Topic, rec.Partition}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	st := rs.retries[k]
	if (st == nil || st.offset != rec.Offset) && create {
		st = &retryState{offset: rec.Offset, bo: &backoff.ExponentialBackOff{
			InitialInterval:     rs.c.cfg.retryInitial,
			RandomizationFactor: 0.5,
			Multiplier:          2,
			MaxInterval:         rs.c.cfg.retryMax,
		}}
		st.bo.Reset()
		rs.retries[k] = st
		rs.nretries.Store(int64(len(rs.retries)))
	}
	if st != nil && st.offset != rec.Offset {
		return nil
	}
	return st
}

// forget drops the failures of a finished record.
func (rs *runState) forget(rec *kgo.Record) {
	if rs.nretries.Load() == 0 {
		return
	}
	k := topicPartition{rec.Topic, rec.Partition}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if st := rs.retries[k]; st != nil && st.offset <= rec.Offset {
		delete(rs.retries, k)
		rs.nretries.Store(int64(len(rs.retries)))
	}
}

// wait sleeps d before try number n+1 of a record. It gives up its
// concurrency slot meanwhile, and returns parked (with the time the record
// is due) when a commit window begins — except for the first
// [inPlaceRetries] tries, whose short waits a commit window waits out, as
// a blip (a busy database) is cheaper to retry in place than to rewind —,
// stopped when Run is shutting down, finished when d has passed.
func (rs *runState) wait(d time.Duration, n int) (outcome, time.Time) {
	due := time.Now().Add(d)
	var quiet chan struct{} // nil: never parks
	if n > inPlaceRetries {
		rs.mu.Lock()
		quiet = rs.quiet
		rs.mu.Unlock()
	}
	<-rs.sem
	defer func() { rs.sem <- struct{}{} }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-rs.ctx.Done():
		return stopped, due
	case <-quiet:
		return parked, due
	case <-t.C:
		return finished, due
	}
}

// processRecord runs one record of w through decode, handler, retries and
// the dead-letter topic.
func (c *Consumer) processRecord(rs *runState, w *worker, rec *kgo.Record) (outcome, time.Time) {
	sctx := c.prop.Extract(rs.base, headerCarrier{rec})
	var span trace.Span
	if w.untraced {
		// What Start would return: a span that records nothing, with
		// the producer's span context, which ctx carries already.
		span = trace.SpanFromContext(sctx)
	} else {
		sctx, span = c.tracer.Start(sctx, w.spanName, consumerSpan)
	}
	defer span.End()

	env, err := parseEnvelope(rec, &w.strs)
	env.keys = c.codec
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", rec.Topic),
			attribute.String("messaging.destination.partition.id", strconv.Itoa(int(rec.Partition))),
			attribute.String("messaging.consumer.group.name", c.group),
			attribute.Int64("messaging.kafka.offset", rec.Offset),
			attribute.String("messaging.message.id", env.ID),
			attribute.String("cloudevents.event_type", env.Type),
		)
	}
	// st is nil for a record that never failed: the common case costs no
	// allocation.
	st := rs.retryState(rec, err != nil)
	if err != nil && st.cause == nil {
		st.cause, st.first = err, time.Now()
	}
	var h handler
	if st == nil || st.cause == nil {
		var ok bool
		if h, ok = rs.handlers[env.Type]; !ok {
			// The type is not in the metric: it comes from the record,
			// and a hostile producer must not blow up the metric's
			// cardinality.
			c.skipped.Add(sctx, 1, c.metricAttrs(rec.Topic, "", "unknown_type"))
			c.log.LogAttrs(sctx, slog.LevelDebug, "events: no handler for type; skipped",
				slog.String("type", env.Type), slog.String("id", env.ID),
				slog.String("topic", rec.Topic), slog.Int("partition", int(rec.Partition)), slog.Int64("offset", rec.Offset))
			return finished, time.Time{}
		}
	}

	var evt any
	attempts := 0
	if st != nil {
		attempts = st.attempts
	}
	for st == nil || st.cause == nil {
		if rs.ctx.Err() != nil {
			return stopped, time.Time{} // shutting down: left for redelivery
		}
		attempts++
		env.Attempt = attempts
		dup, err := c.attempt(sctx, h, rec.Value, env, &evt)
		if err == nil {
			if dup {
				c.skipped.Add(sctx, 1, c.metricAttrs(rec.Topic, env.Type, "duplicate"))
				c.log.LogAttrs(sctx, slog.LevelDebug, "events: already processed; skipped",
					slog.String("type", env.Type), slog.String("id", env.ID))
			} else {
				w.countConsumed(rs.base, c, env.Type)
			}
			return finished, time.Time{}
		}
		if st == nil {
			st = rs.retryState(rec, true)
			st.first = time.Now()
		}
		st.attempts = attempts
		if isPoison(err) ||
			(errors.Is(err, codec.ErrUnknownSchema) && attempts >= unknownSchemaAttempts) ||
			(c.cfg.maxAttempts > 0 && attempts >= c.cfg.maxAttempts) {
			st.cause = err
			break
		}
		wait := st.bo.NextBackOff()
		c.retried.Add(sctx, 1, c.metricAttrs(rec.Topic, env.Type, ""))
		span.AddEvent("retry", trace.WithAttributes(
			attribute.Int("attempt", attempts), attribute.String("error", err.Error())))
		c.log.LogAttrs(sctx, slog.LevelWarn, "events: handler failed; will retry",
			slog.String("type", env.Type), slog.String("id", env.ID), slog.Int("attempt", attempts),
			slog.String("topic", rec.Topic), slog.Int("partition", int(rec.Partition)), slog.Int64("offset", rec.Offset),
			slog.Duration("backoff", wait), slog.Any("error", err))
		if out, due := rs.wait(wait, attempts); out != finished {
			return out, due
		}
	}
	// Poison: copy it to the dead-letter topic, retrying the copy until
	// it succeeds; the partition waits meanwhile.
	for n := 1; ; n++ {
		err := c.deadLetter(sctx, span, rec, env.Type, st)
		if err == nil {
			return finished, time.Time{}
		}
		wait := st.bo.NextBackOff()
		if out, due := rs.wait(wait, n); out != finished {
			return out, due
		}
	}
}

// attempt decodes the record if not done yet and calls the handler once,
// through the Processed when one is configured. dup reports an event
// already processed.
func (c *Consumer) attempt(ctx context.Context, h handler, value []byte, env Envelope, evt *any) (dup bool, err error) {
	if *evt == nil {
		v, err := h.decode(ctx, env.format, value)
		if err != nil {
			// The codecs' errors name what they decode ("decode <type>: …").
			return false, err
		}
		*evt = v
	}
	if c.cfg.processed == nil {
		return false, c.call(ctx, h, env, *evt)
	}
	return c.processOnce(ctx, h, env, *evt)
}

// processOnce calls the handler through the Processed. It is apart from
// attempt so that only this path moves env to the heap (the closure
// keeps it).
func (c *Consumer) processOnce(ctx context.Context, h handler, env Envelope, evt any) (dup bool, err error) {
	return c.cfg.processed.Process(ctx, env.ID, func(ctx context.Context) error {
		return c.call(ctx, h, env, evt)
	})
}

// call runs the handler, turning a panic into an error.
func (c *Consumer) call(ctx context.Context, h handler, env Envelope, evt any) (err error) {
	defer func() {
		if v := recover(); v != nil {
			c.log.LogAttrs(ctx, slog.LevelError, "events: handler panicked",
				slog.String("type", env.Type), slog.String("id", env.ID),
				slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
			err = fmt.Errorf("handler panicked: %v", v)
		}
	}()
	return h.call(ctx, env, evt)
}

// isPoison reports errors that no retry can cure: the record is not an
// event, its value cannot be read with the reader schema, or the handler
// said so with [Permanent].
func isPoison(err error) bool {
	return errors.Is(err, ErrNotEvent) || errors.Is(err, codec.ErrBadHeader) ||
		errors.Is(err, codec.ErrMalformed) || errors.Is(err, codec.ErrIncompatible) ||
		IsPermanent(err)
}

// deadLetter copies rec to its dead-letter topic with the error headers and
// waits for the broker, at most [deadLetterTimeout]. On failure it marks
// the consumer unready ([Consumer.Ready]) and returns the error; the
// caller retries.
func (c *Consumer) deadLetter(ctx context.Context, span trace.Span, rec *kgo.Record, typ string, st *retryState) error {
	cause := st.cause
	span.RecordError(cause)
	span.SetStatus(codes.Error, cause.Error())
	topic := c.cfg.deadLetter(rec.Topic)
	dlq := &kgo.Record{
		Topic:   topic,
		Key:     rec.Key,
		Value:   rec.Value,
		Headers: make([]kgo.RecordHeader, 0, len(rec.Headers)+7),
	}
	for _, h := range rec.Headers {
		if !strings.HasPrefix(h.Key, "keiyaku_dlq_") {
			dlq.Headers = append(dlq.Headers, h)
		}
	}
	dlq.Headers = append(dlq.Headers,
		kgo.RecordHeader{Key: HeaderDLQError, Value: []byte(truncate(cause.Error(), maxDLQError))},
		kgo.RecordHeader{Key: HeaderDLQTopic, Value: []byte(rec.Topic)},
		kgo.RecordHeader{Key: HeaderDLQPartition, Value: strconv.AppendInt(nil, int64(rec.Partition), 10)},
		kgo.RecordHeader{Key: HeaderDLQOffset, Value: strconv.AppendInt(nil, rec.Offset, 10)},
		kgo.RecordHeader{Key: HeaderDLQAttempts, Value: strconv.AppendInt(nil, int64(max(st.attempts, 1)), 10)},
		kgo.RecordHeader{Key: HeaderDLQGroup, Value: []byte(c.group)},
		kgo.RecordHeader{Key: HeaderDLQFirstError, Value: []byte(st.first.UTC().Format(timeLayout))},
	)
	pctx, cancel := context.WithTimeout(ctx, deadLetterTimeout)
	err := c.client.ProduceSync(pctx, dlq).FirstErr()
	cancel()
	if err != nil {
		err = fmt.Errorf("dead-letter %s/%d@%d to %s: %w (cause: %v)", rec.Topic, rec.Partition, rec.Offset, topic, err, cause)
		if c.dlqDown.CompareAndSwap(nil, &dlqFailure{topic: topic, since: time.Now(), err: err}) {
			c.log.LogAttrs(ctx, slog.LevelError, "events: dead-letter topic unavailable; partition paused, record not committed, consumer unready until it is back",
				slog.String("dead_letter_topic", topic), slog.String("topic", rec.Topic), slog.Int("partition", int(rec.Partition)),
				slog.Int64("offset", rec.Offset), slog.Any("error", err))
		} else {
			c.log.LogAttrs(ctx, slog.LevelWarn, "events: dead-letter write failed; will retry",
				slog.String("dead_letter_topic", topic), slog.Int64("offset", rec.Offset), slog.Any("error", err))
		}
		c.dlqFailed.Add(ctx, 1, c.metricAttrs(rec.Topic, "", ""))
		if errors.Is(err, kerr.UnknownTopicID) || errors.Is(err, kerr.UnknownTopicOrPartition) {
			// The topic was deleted, maybe recreated with a new id: forget
			// what the client knows of it so the next write looks it up.
			c.client.PurgeTopicsFromProducing(topic)
		}
		return err
	}
	if old := c.dlqDown.Swap(nil); old != nil {
		c.log.LogAttrs(ctx, slog.LevelInfo, "events: dead-letter topic writable again",
			slog.String("dead_letter_topic", topic), slog.Duration("unavailable_for", time.Since(old.since)))
	}
	c.deadLettered.Add(ctx, 1, c.metricAttrs(rec.Topic, typ, ""))
	c.log.LogAttrs(ctx, slog.LevelWarn, "events: record sent to dead-letter topic",
		slog.String("topic", rec.Topic), slog.Int("partition", int(rec.Partition)), slog.Int64("offset", rec.Offset),
		slog.String("dead_letter_topic", topic), slog.String("type", typ), slog.Int("attempts", max(st.attempts, 1)),
		slog.Any("error", cause))
	return nil
}

// dlqFailure is a dead-letter write that failed and has not succeeded
// since.
type dlqFailure struct {
	topic string
	since time.Time
	err   error
}

// Ready reports whether the consumer can do its job: it returns an error
// while a record waits because its dead-letter topic cannot be written
// (missing, deleted or recreated topic, broker down), nil otherwise. A
// service adds it to its readiness check (/readyz). It is safe for
// concurrent use.
func (c *Consumer) Ready(context.Context) error {
	if f := c.dlqDown.Load(); f != nil {
		return fmt.Errorf("dead-letter topic %s unwritable since %s: %w", f.topic, f.since.UTC().Format(time.RFC3339), f.err)
	}
	return nil
}

// commit commits the offsets after the given records, the last finished
// of their partitions. A failure is logged and returned; the records are
// then delivered again unless a later commit covers them.
func (c *Consumer) commit(base context.Context, recs []*kgo.Record) error {
	if len(recs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(base, c.cfg.drainTimeout)
	defer cancel()
	err := c.client.CommitRecords(ctx, recs...)
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelError, "events: commit failed; records will be delivered again",
			slog.Int("partitions", len(recs)), slog.Any("error", err))
	}
	return err
}

// metricAttrs returns the measurement option for a topic, type and reason,
// built once per combination. typ must be a registered type or "", so the
// combinations are bounded.
func (c *Consumer) metricAttrs(topic, typ, reason string) metric.MeasurementOption {
	k := metricKey{topic, typ, reason}
	if v, ok := c.attrs.Load(k); ok {
		return v.(metric.MeasurementOption)
	}
	kvs := []attribute.KeyValue{attribute.String("messaging.destination.name", topic)}
	if typ != "" {
		kvs = append(kvs, attribute.String("cloudevents.event_type", typ))
	}
	if reason != "" {
		kvs = append(kvs, attribute.String("reason", reason))
	}
	v, _ := c.attrs.LoadOrStore(k, metric.WithAttributeSet(attribute.NewSet(kvs...)))
	return v.(metric.MeasurementOption)
}

// Permanent marks err as an error no retry can cure (the event breaks a
// rule of the handler's domain, say): a handler that returns it sends the
// record to the dead-letter topic without further attempts. Permanent(nil)
// is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was made by
// [Permanent].
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return "permanent: " + e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// lagTracker holds, per partition, the high watermark of the last fetch
// and the position after the last processed record.
type lagTracker struct {
	mu    sync.Mutex
	parts map[topicPartition]*lagPos
}

type lagPos struct {
	hwm, next int64
	attrs     metric.ObserveOption
}

func (l *lagTracker) sawHighWatermark(tp topicPartition, hwm int64, recs []*kgo.Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.parts[tp]
	if p == nil {
		if len(recs) == 0 {
			return // position unknown until a record is seen
		}
		p = &lagPos{next: recs[0].Offset}
		l.parts[tp] = p
	}
	p.hwm = hwm
}

func (l *lagTracker) processed(tp topicPartition, offset int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p := l.parts[tp]; p != nil {
		p.next = offset + 1
	}
}

func (l *lagTracker) observe(group string, o metric.Int64Observer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for tp, p := range l.parts {
		if p.attrs == nil {
			p.attrs = metric.WithAttributeSet(attribute.NewSet(
				attribute.String("messaging.consumer.group.name", group),
				attribute.String("messaging.destination.name", tp.topic),
				attribute.String("messaging.destination.partition.id", strconv.Itoa(int(tp.partition))),
			))
		}
		o.Observe(max(p.hwm-p.next, 0), p.attrs)
	}
}
