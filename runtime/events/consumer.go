package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/twmb/franz-go/pkg/kgo"
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
	prop   propagation.TextMapPropagator
	log    *slog.Logger

	consumed, retried, deadLettered, skipped metric.Int64Counter
	attrs                                    sync.Map // metricKey → metric.MeasurementOption

	mu       sync.Mutex
	handlers map[string]handler
	regErrs  []error
	started  bool
}

// handler is a registered [Handle] call with its event type erased.
type handler interface {
	// decode reads value with the reader schema into a new event.
	decode(ctx context.Context, value []byte) (any, error)
	// call runs the user's handler on an event returned by decode.
	call(ctx context.Context, env Envelope, evt any) error
}

type typedHandler[T any] struct {
	codec  codec.Codec
	schema *codec.Schema
	fn     func(context.Context, Envelope, *T) error
}

func (h *typedHandler[T]) decode(ctx context.Context, value []byte) (any, error) {
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
// has no committed offset, auto creation of topics (the dead-letter
// topics, where the cluster allows it), and for the dead-letter produces
// acks=all, no linger and a two-minute delivery timeout. Append
// SeedBrokers and the options of [ClientConfig.Options].
func ConsumerClientOptions(group string, topics ...string) []kgo.Opt {
	return []kgo.Opt{
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topics...),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
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
		deadLetter:      func(topic string) string { return topic + DeadLetterSuffix },
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
	}
	for _, ctr := range counters {
		var err error
		*ctr.dst, err = meter.Int64Counter(ctr.name, metric.WithDescription(ctr.desc), metric.WithUnit("{event}"))
		if err != nil {
			return nil, fmt.Errorf("new consumer: counter %s: %w", ctr.name, err)
		}
	}
	return cons, nil
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
// transaction). Returning an error retries the call with backoff; after the
// last attempt the record goes to the dead-letter topic. A retry gets the
// same *T; h must not keep evt or env.Headers after it returns. A panic in
// h is recovered and counts as a failed attempt.
func Handle[T any](c *Consumer, typ Type[T], h func(ctx context.Context, env Envelope, evt *T) error) {
	name, err := typ.name()
	if err == nil && h == nil {
		err = fmt.Errorf("handle %s: nil handler", name)
	}
	if err != nil {
		c.register("", nil, fmt.Errorf("handle: %w", err))
		return
	}
	c.register(name, &typedHandler[T]{codec: c.codec, schema: typ.Schema, fn: h}, nil)
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
// of each partition. Before each commit every queued record is finished;
// only then may the group rebalance.
//
// Run returns nil after a shutdown caused by ctx. It returns an error
// without consuming when no handler is registered or a registration was
// invalid, and it stops with an error when the client was closed or a
// record could be neither handled nor dead-lettered; in that last case the
// record and the rest of its partition stay uncommitted, so they are
// delivered again after a restart. Run may be called once.
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
	}
	rs.cond = sync.NewCond(&rs.mu)
	lastCommit := time.Now()
	closed := false
	var runErr error
	for ctx.Err() == nil {
		pctx, cancelPoll := ctx, context.CancelFunc(func() {})
		if rs.uncommitted() {
			// Rebalances are held back until the next commit: do not
			// sit in a poll past the commit deadline.
			pctx, cancelPoll = context.WithDeadline(ctx, lastCommit.Add(c.cfg.commitInterval))
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
		recs := fetches.Records()
		rs.dispatch(recs)
		// Bound the records queued: enough for every worker to have a
		// poll's worth, since one poll often holds one partition only.
		if err := rs.waitInflight(c.cfg.maxPoll * c.cfg.concurrency); err != nil {
			runErr = err
			break
		}
		// A commit window: when caught up (a short poll) or when the
		// interval has passed, let every queued record finish, commit,
		// and let a waiting rebalance through.
		if len(recs) < c.cfg.maxPoll || time.Since(lastCommit) >= c.cfg.commitInterval {
			if err := rs.waitInflight(0); err != nil {
				runErr = err
				break
			}
			err := c.commit(base, rs.takeFinished())
			lastCommit = time.Now()
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
	// Shutdown: workers stop before their next record (ctx is done) or
	// after a fatal error; wait for the records in flight, then commit.
	rs.drain()
	if !closed {
		if err := c.commit(base, rs.takeFinished()); errors.Is(err, kgo.ErrClientClosed) {
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
	stop      atomic.Bool // set with fatal: workers stop taking records

	mu       sync.Mutex
	cond     *sync.Cond // broadcast when inflight drops or fatal is set
	inflight int        // records dispatched and not yet finished or dropped
	fatal    error
	workers  map[topicPartition]*worker
}

// worker is the state of one partition; guarded by runState.mu.
type worker struct {
	tp       topicPartition
	spanName string
	strs     interner // used by the running worker goroutine only
	queue    []*kgo.Record
	running  bool
	stopped  bool        // a record was left unfinished: take no more
	finished *kgo.Record // the last finished record not yet committed
}

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
			w = &worker{tp: k, spanName: "process " + r.Topic, strs: interner{}}
			rs.workers[k] = w
		}
		if w.stopped {
			continue // left for redelivery
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
		if len(batch) == 0 {
			w.running = false
			rs.mu.Unlock()
			return
		}
		rs.mu.Unlock()

		rs.sem <- struct{}{}
		var last *kgo.Record
		n := 0
		var err error
		for _, rec := range batch {
			if rs.ctx.Err() != nil || rs.stop.Load() {
				break
			}
			var finished bool
			finished, err = rs.c.processRecord(rs.ctx, rs.base, rs.handlers, w.spanName, w.strs, rec)
			if !finished {
				break
			}
			last = rec
			n++
		}
		<-rs.sem

		rs.mu.Lock()
		if last != nil {
			w.finished = last
		}
		rs.inflight -= len(batch)
		if n < len(batch) {
			// Shutdown or failure: drop the rest, queued ones too.
			w.stopped = true
			rs.inflight -= len(w.queue)
			w.queue = nil
			if err != nil && rs.fatal == nil {
				rs.fatal = err
				rs.stop.Store(true)
			}
		}
		rs.cond.Broadcast()
		rs.mu.Unlock()
	}
}

// waitInflight waits until at most n records are in flight, or returns the
// fatal error of a worker.
func (rs *runState) waitInflight(n int) error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for rs.inflight > n && rs.fatal == nil {
		rs.cond.Wait()
	}
	return rs.fatal
}

// drain waits until no record is in flight.
func (rs *runState) drain() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for rs.inflight > 0 {
		rs.cond.Wait()
	}
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
		if w.finished != nil {
			return true
		}
	}
	return false
}

// takeFinished returns the last finished record of each partition and
// forgets the idle workers, whose partitions a rebalance may take away.
// Call it with nothing in flight.
func (rs *runState) takeFinished() []*kgo.Record {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var recs []*kgo.Record
	for k, w := range rs.workers {
		if w.finished != nil {
			recs = append(recs, w.finished)
			w.finished = nil
		}
		if !w.running && !w.stopped {
			delete(rs.workers, k)
		}
	}
	return recs
}

// processRecord runs one record through decode, handler, retries and the
// dead-letter topic. finished reports that the record's offset may be
// committed; err is set when it could not be dead-lettered.
func (c *Consumer) processRecord(ctx, base context.Context, handlers map[string]handler, spanName string, strs interner, rec *kgo.Record) (finished bool, err error) {
	pctx := c.prop.Extract(base, headerCarrier{rec})
	sctx, span := c.tracer.Start(pctx, spanName, consumerSpan)
	defer span.End()

	env, err := parseEnvelope(rec, strs)
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
	if err != nil {
		return c.deadLetter(sctx, span, rec, "", err, 1)
	}
	h, ok := handlers[env.Type]
	if !ok {
		// The type is not in the metric: it comes from the record, and
		// a hostile producer must not blow up the metric's cardinality.
		c.skipped.Add(sctx, 1, c.metricAttrs(rec.Topic, "", "unknown_type"))
		c.log.LogAttrs(sctx, slog.LevelDebug, "events: no handler for type; skipped",
			slog.String("type", env.Type), slog.String("id", env.ID),
			slog.String("topic", rec.Topic), slog.Int("partition", int(rec.Partition)), slog.Int64("offset", rec.Offset))
		return true, nil
	}

	var evt any
	var bo *backoff.ExponentialBackOff
	for attempt := 1; ; attempt++ {
		var dup bool
		env.Attempt = attempt
		dup, err = c.attempt(sctx, h, rec.Value, env, &evt)
		if err == nil {
			if dup {
				c.skipped.Add(sctx, 1, c.metricAttrs(rec.Topic, env.Type, "duplicate"))
				c.log.LogAttrs(sctx, slog.LevelDebug, "events: already processed; skipped",
					slog.String("type", env.Type), slog.String("id", env.ID))
			} else {
				c.consumed.Add(sctx, 1, c.metricAttrs(rec.Topic, env.Type, ""))
			}
			return true, nil
		}
		if isPoison(err) || attempt >= c.cfg.maxAttempts {
			return c.deadLetter(sctx, span, rec, env.Type, err, attempt)
		}
		if ctx.Err() != nil {
			return false, nil // shutting down: no retry, left for redelivery
		}
		if bo == nil {
			bo = &backoff.ExponentialBackOff{
				InitialInterval:     c.cfg.retryInitial,
				RandomizationFactor: 0.5,
				Multiplier:          2,
				MaxInterval:         c.cfg.retryMax,
			}
			bo.Reset()
		}
		wait := bo.NextBackOff()
		c.retried.Add(sctx, 1, c.metricAttrs(rec.Topic, env.Type, ""))
		span.AddEvent("retry", trace.WithAttributes(
			attribute.Int("attempt", attempt), attribute.String("error", err.Error())))
		c.log.LogAttrs(sctx, slog.LevelWarn, "events: handler failed; will retry",
			slog.String("type", env.Type), slog.String("id", env.ID), slog.Int("attempt", attempt),
			slog.Duration("backoff", wait), slog.Any("error", err))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, nil
		case <-t.C:
		}
	}
}

// attempt decodes the record if not done yet and calls the handler once,
// through the Processed when one is configured. dup reports an event
// already processed.
func (c *Consumer) attempt(ctx context.Context, h handler, value []byte, env Envelope, evt *any) (dup bool, err error) {
	if *evt == nil {
		v, err := h.decode(ctx, value)
		if err != nil {
			return false, fmt.Errorf("decode %s: %w", env.Type, err)
		}
		*evt = v
	}
	if c.cfg.processed == nil {
		return false, c.call(ctx, h, env, *evt)
	}
	v := *evt
	return c.cfg.processed.Process(ctx, env.ID, func(ctx context.Context) error {
		return c.call(ctx, h, env, v)
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
// event or its value cannot be read with the reader schema.
func isPoison(err error) bool {
	return errors.Is(err, ErrNotEvent) || errors.Is(err, codec.ErrBadHeader) ||
		errors.Is(err, codec.ErrMalformed) || errors.Is(err, codec.ErrIncompatible)
}

// deadLetter copies rec to its dead-letter topic with the error headers and
// waits for the broker. It reports the record finished, or the error that
// must stop the consumer when the copy failed.
func (c *Consumer) deadLetter(ctx context.Context, span trace.Span, rec *kgo.Record, typ string, cause error, attempts int) (bool, error) {
	span.RecordError(cause)
	span.SetStatus(codes.Error, cause.Error())
	topic := c.cfg.deadLetter(rec.Topic)
	dlq := &kgo.Record{
		Topic:   topic,
		Key:     rec.Key,
		Value:   rec.Value,
		Headers: make([]kgo.RecordHeader, 0, len(rec.Headers)+5),
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
		kgo.RecordHeader{Key: HeaderDLQAttempts, Value: strconv.AppendInt(nil, int64(attempts), 10)},
	)
	if err := c.client.ProduceSync(ctx, dlq).FirstErr(); err != nil {
		return false, fmt.Errorf("dead-letter %s/%d@%d to %s: %w (cause: %v)", rec.Topic, rec.Partition, rec.Offset, topic, err, cause)
	}
	c.deadLettered.Add(ctx, 1, c.metricAttrs(rec.Topic, typ, ""))
	c.log.LogAttrs(ctx, slog.LevelWarn, "events: record sent to dead-letter topic",
		slog.String("topic", rec.Topic), slog.Int("partition", int(rec.Partition)), slog.Int64("offset", rec.Offset),
		slog.String("dead_letter_topic", topic), slog.String("type", typ), slog.Int("attempts", attempts),
		slog.Any("error", cause))
	return true, nil
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
