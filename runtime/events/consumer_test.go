package events_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
)

// fastRetry keeps retry waits short; tests do not assert on time.
var fastRetry = events.WithRetryBackoff(time.Millisecond, 4*time.Millisecond)

// TestDeadLetter pins the poison-record path: a record whose handler always
// fails is tried max-attempts times and then copied to <topic>.<group>.dlq with its
// key, value and headers plus the keiyaku_dlq_* headers; a value that cannot
// be decoded and a record without CloudEvents headers go there at once,
// without a handler call; and the records after them on the same partition
// are still handled and everything is committed (the partition moves on).
func TestDeadLetter(t *testing.T) {
	t.Parallel()
	b := newBroker(t, embedded.Topic{Name: orderTopic, Partitions: 1})
	c := memoryCodec(t)
	p := newProducer(t, b, c)
	ctx := t.Context()
	typ := orderType(orderTopic)

	must(t, events.Publish(ctx, p, typ, &OrderPlaced{OrderID: "good-1"}))
	bad, err := events.NewRecord(ctx, p, typ, &OrderPlaced{OrderID: "bad"})
	must(t, err)
	garbled, err := events.NewRecord(ctx, p, typ, &OrderPlaced{OrderID: "garbled"})
	must(t, err)
	garbled.Value = []byte("not avro at all")
	bare := &kgo.Record{Topic: orderTopic, Key: []byte("bare"), Value: []byte("x")}
	must(t, p.Send(ctx, bad, garbled, bare))
	must(t, events.Publish(ctx, p, typ, &OrderPlaced{OrderID: "good-2"}))

	cons, err := events.NewConsumer(consumerClient(t, b, "dlq", orderTopic), c, events.WithMaxAttempts(3), fastRetry)
	must(t, err)
	var mu sync.Mutex
	calls := map[string]int{}
	attempts := map[string][]int{}
	events.Handle(cons, typ, func(_ context.Context, env events.Envelope, evt *OrderPlaced) error {
		mu.Lock()
		defer mu.Unlock()
		calls[evt.OrderID]++
		attempts[evt.OrderID] = append(attempts[evt.OrderID], env.Attempt)
		if evt.OrderID == "bad" {
			return errors.New("inventory service says no")
		}
		return nil
	})
	stop := runConsumer(t, cons)
	dlq := readAll(t, b, events.DeadLetterTopic(orderTopic, "dlq"), 3)
	waitUntil(t, "commit past all records", func() bool { return committed(t, b, "dlq", orderTopic)[0] == 5 })
	must(t, stop())

	if calls["good-1"] != 1 || calls["good-2"] != 1 || calls["bad"] != 3 || calls["garbled"] != 0 {
		t.Errorf("handler calls = %v, want good-1:1 good-2:1 bad:3 garbled:0", calls)
	}
	if fmt.Sprint(attempts["bad"]) != "[1 2 3]" {
		t.Errorf("Envelope.Attempt of bad = %v, want [1 2 3]", attempts["bad"])
	}
	tests := []struct {
		orig     *kgo.Record
		offset   int
		attempts string
		errHas   string
	}{
		{bad, 1, "3", "inventory service says no"},
		{garbled, 2, "1", "bad schema header"},
		{bare, 3, "1", "not a keiyaku event"},
	}
	for i, tt := range tests {
		got := dlq[i]
		if string(got.Key) != string(tt.orig.Key) || string(got.Value) != string(tt.orig.Value) {
			t.Errorf("dlq[%d]: key %q value %q, want the original %q %q", i, got.Key, got.Value, tt.orig.Key, tt.orig.Value)
		}
		for _, h := range tt.orig.Headers {
			if v := header(t, got.Headers, h.Key); v != string(h.Value) {
				t.Errorf("dlq[%d]: header %s = %q, want original %q", i, h.Key, v, h.Value)
			}
		}
		if v := header(t, got.Headers, events.HeaderDLQError); !strings.Contains(v, tt.errHas) {
			t.Errorf("dlq[%d]: error header %q, want it to contain %q", i, v, tt.errHas)
		}
		for k, want := range map[string]string{
			events.HeaderDLQTopic:     orderTopic,
			events.HeaderDLQPartition: "0",
			events.HeaderDLQOffset:    strconv.Itoa(tt.offset),
			events.HeaderDLQAttempts:  tt.attempts,
			events.HeaderDLQGroup:     "dlq",
		} {
			if v := header(t, got.Headers, k); v != want {
				t.Errorf("dlq[%d]: header %s = %q, want %q", i, k, v, want)
			}
		}
	}
}

// TestRestartLosesNothing pins at-least-once across a crash: a consumer
// stopped in the middle of the stream — by cancelling its context, or by
// closing its client under it — and a new consumer of the same group
// together handle every event; none is lost.
func TestRestartLosesNothing(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"cancel", "close client"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			b := newBroker(t, embedded.Topic{Name: orderTopic, Partitions: 3})
			c := memoryCodec(t)
			p := newProducer(t, b, c)
			typ := orderType(orderTopic)
			const n = 300
			recs := make([]*kgo.Record, n)
			for i := range n {
				var err error
				recs[i], err = events.NewRecord(t.Context(), p, typ, &OrderPlaced{OrderID: fmt.Sprintf("o%d", i%17), Seq: int64(i)})
				must(t, err)
			}
			must(t, p.Send(t.Context(), recs...))

			var mu sync.Mutex
			seen := map[int64]int{}
			count := func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }
			handler := func(_ context.Context, _ events.Envelope, evt *OrderPlaced) error {
				mu.Lock()
				defer mu.Unlock()
				seen[evt.Seq]++
				return nil
			}

			// First consumer: small polls, stopped after about a third.
			cl1 := consumerClient(t, b, "restart", orderTopic)
			first, err := events.NewConsumer(cl1, c, events.WithMaxPollRecords(7), events.WithCommitInterval(20*time.Millisecond))
			must(t, err)
			ctx1, cancel1 := context.WithCancel(t.Context())
			defer cancel1()
			var stopped atomic.Bool
			events.Handle(first, typ, func(ctx context.Context, env events.Envelope, evt *OrderPlaced) error {
				if err := handler(ctx, env, evt); err != nil {
					return err
				}
				if count() >= n/3 && !stopped.Swap(true) {
					if mode == "cancel" {
						cancel1()
					} else {
						// Close under the running consumer, from
						// another goroutine: the close completes at the
						// consumer's next commit window.
						go cl1.CloseAllowingRebalance()
					}
				}
				if stopped.Load() && mode != "cancel" {
					time.Sleep(5 * time.Millisecond) // let the close land mid-stream
				}
				return nil
			})
			err = first.Run(ctx1)
			switch {
			case mode == "cancel" && err != nil:
				t.Fatalf("first Run after cancel = %v, want nil", err)
			case mode == "close client" && !errors.Is(err, kgo.ErrClientClosed):
				t.Fatalf("first Run after close = %v, want ErrClientClosed", err)
			}
			handledFirst := count()
			if handledFirst >= n {
				t.Fatalf("first consumer handled all %d events; the test did not stop it midway", n)
			}

			second, err := events.NewConsumer(consumerClient(t, b, "restart", orderTopic), c)
			must(t, err)
			events.Handle(second, typ, handler)
			stop := runConsumer(t, second)
			// The group catches up: everything is committed, which the
			// second consumer does only for records it finished.
			ends := endOffsets(t, b, orderTopic)
			waitUntil(t, "the group to commit the end offsets", func() bool {
				return fmt.Sprint(committed(t, b, "restart", orderTopic)) == fmt.Sprint(ends)
			})
			must(t, stop())
			for i := range int64(n) {
				if seen[i] == 0 {
					t.Errorf("event %d lost", i)
				}
			}
			t.Logf("%s: first consumer handled %d of %d", mode, handledFirst, n)
		})
	}
}

// TestOrderPerKey pins ordering: with several partitions handled
// concurrently, the events of one key reach the handler in the order they
// were published, while different partitions do run at the same time.
func TestOrderPerKey(t *testing.T) {
	t.Parallel()
	b := newBroker(t, embedded.Topic{Name: orderTopic, Partitions: 4})
	c := memoryCodec(t)
	p := newProducer(t, b, c)
	typ := orderType(orderTopic)
	const keys, perKey = 12, 20
	var recs []*kgo.Record
	for s := range perKey {
		for k := range keys {
			r, err := events.NewRecord(t.Context(), p, typ, &OrderPlaced{OrderID: fmt.Sprintf("key-%d", k), Seq: int64(s)})
			must(t, err)
			recs = append(recs, r)
		}
	}
	must(t, p.Send(t.Context(), recs...))

	cons, err := events.NewConsumer(consumerClient(t, b, "order", orderTopic), c, events.WithConcurrency(4))
	must(t, err)
	var mu sync.Mutex
	got := map[string][]int64{}
	var inFlight, maxInFlight atomic.Int32
	events.Handle(cons, typ, func(_ context.Context, _ events.Envelope, evt *OrderPlaced) error {
		now := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if now <= m || maxInFlight.CompareAndSwap(m, now) {
				break
			}
		}
		time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
		mu.Lock()
		defer mu.Unlock()
		got[evt.OrderID] = append(got[evt.OrderID], evt.Seq)
		return nil
	})
	stop := runConsumer(t, cons)
	waitUntil(t, "all events", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, s := range got {
			n += len(s)
		}
		return n == keys*perKey
	})
	must(t, stop())
	for k, seqs := range got {
		for i, s := range seqs {
			if s != int64(i) {
				t.Fatalf("key %s: handled in order %v, want 0..%d", k, seqs, perKey-1)
			}
		}
	}
	if maxInFlight.Load() < 2 {
		t.Errorf("at most %d handler ran at once; partitions were not handled concurrently", maxInFlight.Load())
	}
}

// TestShutdownDrains pins graceful shutdown: when Run's context is
// cancelled while a handler runs, the handler is not cancelled and finishes,
// its record is committed, the next record of the partition is not started,
// and Run returns nil.
func TestShutdownDrains(t *testing.T) {
	t.Parallel()
	b := newBroker(t, embedded.Topic{Name: orderTopic, Partitions: 1})
	c := memoryCodec(t)
	p := newProducer(t, b, c)
	typ := orderType(orderTopic)
	for i := range 3 {
		must(t, events.Publish(t.Context(), p, typ, &OrderPlaced{OrderID: "k", Seq: int64(i)}))
	}
	cons, err := events.NewConsumer(consumerClient(t, b, "drain", orderTopic), c)
	must(t, err)
	entered := make(chan struct{})
	release := make(chan struct{})
	var handledSeqs []int64
	var handlerCtxErr error
	events.Handle(cons, typ, func(ctx context.Context, _ events.Envelope, evt *OrderPlaced) error {
		if evt.Seq == 1 {
			close(entered)
			<-release
			handlerCtxErr = ctx.Err()
		}
		handledSeqs = append(handledSeqs, evt.Seq)
		return nil
	})
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- cons.Run(ctx) }()
	select {
	case <-entered:
	case <-time.After(testTimeout):
		t.Fatal("handler never reached event 1")
	}
	cancel()
	close(release)
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Run did not return after cancel")
	}
	if handlerCtxErr != nil {
		t.Errorf("in-flight handler saw ctx error %v, want it to finish undisturbed", handlerCtxErr)
	}
	if fmt.Sprint(handledSeqs) != "[0 1]" {
		t.Errorf("handled %v, want [0 1]", handledSeqs)
	}
	if got := committed(t, b, "drain", orderTopic)[0]; got != 2 {
		t.Errorf("committed offset %d, want 2", got)
	}
}

// TestIdempotency pins the idempotency hook: the same event delivered twice
// (same ce_id, as after a redelivery) runs the handler once with a
// Processed, and twice without one — which shows the test can tell.
func TestIdempotency(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		processed bool
		want      int
	}{
		{"with processed", true, 1},
		{"without", false, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBroker(t, embedded.Topic{Name: orderTopic, Partitions: 1})
			c := memoryCodec(t)
			p := newProducer(t, b, c)
			typ := orderType(orderTopic)
			rec, err := events.NewRecord(t.Context(), p, typ, &OrderPlaced{OrderID: "once"})
			must(t, err)
			must(t, p.Send(t.Context(), rec))
			dup := *rec
			must(t, p.Send(t.Context(), &dup))
			must(t, events.Publish(t.Context(), p, typ, &OrderPlaced{OrderID: "other"}))

			var opts []events.ConsumerOption
			if tt.processed {
				opts = append(opts, events.WithIdempotency(events.NewMemoryProcessed()))
			}
			cons, err := events.NewConsumer(consumerClient(t, b, "idem", orderTopic), c, opts...)
			must(t, err)
			var mu sync.Mutex
			calls := map[string]int{}
			events.Handle(cons, typ, func(_ context.Context, _ events.Envelope, evt *OrderPlaced) error {
				mu.Lock()
				defer mu.Unlock()
				calls[evt.OrderID]++
				return nil
			})
			stop := runConsumer(t, cons)
			waitUntil(t, "all committed", func() bool { return committed(t, b, "idem", orderTopic)[0] == 3 })
			must(t, stop())
			if calls["once"] != tt.want || calls["other"] != 1 {
				t.Fatalf("handler calls %v, want once:%d other:1", calls, tt.want)
			}
		})
	}
}
