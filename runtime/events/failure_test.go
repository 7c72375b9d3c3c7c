package events_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
)

// TestDeadLetterTopicGone pins issue 14 finding 1: a poison record whose
// dead-letter topic was deleted (on a cluster that does not create topics
// on first use) and later recreated with a new topic id neither stops the
// consumer nor is skipped.
// The consumer stays up and reports unready, the record and the one after
// it stay uncommitted; once the topic is back the record is dead-lettered,
// the next one handled, everything committed, and the consumer is ready.
func TestDeadLetterTopicGone(t *testing.T) {
	t.Parallel()
	const group = "dlqgone"
	dlqTopic := events.DeadLetterTopic(orderTopic, group)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, orderTopic, dlqTopic))
	must(t, err)
	t.Cleanup(cluster.Close)
	seeds := kgo.SeedBrokers(cluster.ListenAddrs()...)
	c := memoryCodec(t)
	pcl, err := kgo.NewClient(append(events.ProducerClientOptions(), seeds)...)
	must(t, err)
	t.Cleanup(pcl.Close)
	p, err := events.NewProducer(pcl, c, "/services/test")
	must(t, err)
	ctx := t.Context()
	typ := orderType(orderTopic)

	// The consumer first writes to the dead-letter topic (and learns its
	// topic id), then the topic is deleted under it.
	must(t, pcl.ProduceSync(ctx, &kgo.Record{Topic: orderTopic, Value: []byte("first garbage")}).FirstErr())
	must(t, events.Publish(ctx, p, typ, &OrderPlaced{OrderID: "before"}))

	ccl, err := kgo.NewClient(append(events.ConsumerClientOptions(group, orderTopic), seeds)...)
	must(t, err)
	t.Cleanup(ccl.CloseAllowingRebalance)
	cons, err := events.NewConsumer(ccl, c, fastRetry)
	must(t, err)
	var mu sync.Mutex
	var handled []string
	events.Handle(cons, typ, func(_ context.Context, _ events.Envelope, evt *OrderPlaced) error {
		mu.Lock()
		defer mu.Unlock()
		handled = append(handled, evt.OrderID)
		return nil
	})
	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- cons.Run(runCtx) }()
	waitUntil(t, "the first garbage dead-lettered", func() bool {
		return committedOn(t, cluster, group, orderTopic) == 2
	})

	must(t, cluster.DeleteTopic(dlqTopic))
	must(t, pcl.ProduceSync(ctx, &kgo.Record{Topic: orderTopic, Value: []byte("garbage from kcat")}).FirstErr())
	must(t, events.Publish(ctx, p, typ, &OrderPlaced{OrderID: "after"}))

	waitUntil(t, "the consumer to report the dead-letter topic unwritable", func() bool { return cons.Ready(ctx) != nil })
	if got := committedOn(t, cluster, group, orderTopic); got != 2 {
		t.Errorf("committed %d while the dead-letter topic was gone, want 2 (before the poison)", got)
	}
	select {
	case err := <-errc:
		t.Fatalf("Run returned %v while the dead-letter topic was missing; want it to keep running", err)
	default:
	}
	mu.Lock()
	if fmt.Sprint(handled) != "[before]" {
		t.Errorf("handled %v while the poison waited, want [before] (order per partition)", handled)
	}
	mu.Unlock()

	// Recreated: a new topic id, which the client must look up again.
	must(t, cluster.CreateTopic(dlqTopic, 1, nil))
	waitUntil(t, "everything committed after the topic came back", func() bool {
		return committedOn(t, cluster, group, orderTopic) == 4
	})
	if err := cons.Ready(ctx); err != nil {
		t.Errorf("Ready after the topic came back = %v, want nil", err)
	}
	cancel()
	must(t, <-errc)
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(handled) != "[before after]" {
		t.Errorf("handled %v, want [before after]", handled)
	}
	dlq := readFrom(t, cluster, dlqTopic, 1)
	if string(dlq[0].Value) != "garbage from kcat" || header(t, dlq[0].Headers, events.HeaderDLQGroup) != group {
		t.Errorf("dead letter %q with group %q, want the garbage record of group %s", dlq[0].Value, header(t, dlq[0].Headers, events.HeaderDLQGroup), group)
	}
}

// TestOutageDeadLettersNothing pins issue 14 finding 2: a handler whose
// dependency (a database) fails with retryable errors for a while during a
// burst retries — its partitions waiting — until the dependency is back:
// every event is handled exactly once and nothing is dead-lettered.
func TestOutageDeadLettersNothing(t *testing.T) {
	t.Parallel()
	const group, n, parts = "outage", 60, 4
	b := newBroker(t, embedded.Topic{Name: orderTopic, Partitions: parts})
	c := memoryCodec(t)
	p := newProducer(t, b, c)
	typ := orderType(orderTopic)

	cons, err := events.NewConsumer(consumerClient(t, b, group, orderTopic), c,
		fastRetry, events.WithIdempotency(events.NewMemoryProcessed()))
	must(t, err)
	var down atomic.Bool
	down.Store(true)
	var failures atomic.Int64
	var mu sync.Mutex
	done := map[string]int{}
	events.Handle(cons, typ, func(_ context.Context, _ events.Envelope, evt *OrderPlaced) error {
		if down.Load() {
			failures.Add(1)
			return errors.New("database: connection refused")
		}
		mu.Lock()
		defer mu.Unlock()
		done[evt.OrderID]++
		return nil
	})
	stop := runConsumer(t, cons)
	for i := range n {
		must(t, events.Publish(t.Context(), p, typ, &OrderPlaced{OrderID: fmt.Sprintf("order-%d", i), Seq: int64(i)}))
	}
	// Far more failures than the old limit of 5 attempts per record.
	waitUntil(t, "the outage to last", func() bool { return failures.Load() >= 20*parts })
	down.Store(false)
	waitUntil(t, "all committed", func() bool {
		got := committed(t, b, group, orderTopic)
		sum := int64(0)
		for _, o := range got {
			sum += o
		}
		return sum == n
	})
	must(t, stop())
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		if id := fmt.Sprintf("order-%d", i); done[id] != 1 {
			t.Errorf("%s handled %d times, want 1", id, done[id])
		}
	}
	if got := endOffsets(t, b, events.DeadLetterTopic(orderTopic, group)); got[0] != 0 {
		t.Errorf("dead-letter topic holds %d records, want none", got[0])
	}
}

// TestKilledMemberPartitionsMove pins issue 14 finding 3: a group member
// that dies without leaving (its connections cut, as a SIGKILL does) loses
// its partitions to the surviving member after the configured session
// timeout, and the survivor handles them.
func TestKilledMemberPartitionsMove(t *testing.T) {
	t.Parallel()
	const group = "killed"
	b := newBroker(t, embedded.Topic{Name: orderTopic, Partitions: 2})
	c := memoryCodec(t)
	p, err := events.NewProducer(newClient(t, b, append(events.ProducerClientOptions(), kgo.RecordPartitioner(kgo.ManualPartitioner()))...), c, "/services/test")
	must(t, err)
	typ := orderType(orderTopic)
	gcfg, err := events.GroupConfig{SessionTimeout: 6 * time.Second, HeartbeatInterval: time.Second, ClientID: "test"}.Options()
	must(t, err)

	var mu sync.Mutex
	seen := map[string]map[int32]bool{"a": {}, "b": {}}
	member := func(name string, extra ...kgo.Opt) {
		opts := append(append([]kgo.Opt{kgo.SeedBrokers(b.Addrs()...)}, events.ConsumerClientOptions(group, orderTopic)...), gcfg...)
		cl, err := kgo.NewClient(append(opts, extra...)...)
		must(t, err)
		t.Cleanup(cl.Close)
		cons, err := events.NewConsumer(cl, c, events.WithDrainTimeout(time.Second))
		must(t, err)
		events.Handle(cons, typ, func(_ context.Context, env events.Envelope, _ *OrderPlaced) error {
			mu.Lock()
			defer mu.Unlock()
			seen[name][env.Partition] = true
			return nil
		})
		runConsumer(t, cons)
	}
	var killed atomic.Bool
	var connsMu sync.Mutex
	var conns []net.Conn
	member("a", kgo.Dialer(func(ctx context.Context, network, host string) (net.Conn, error) {
		if killed.Load() {
			return nil, errors.New("killed")
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, host)
		if err == nil {
			connsMu.Lock()
			conns = append(conns, conn)
			connsMu.Unlock()
		}
		return conn, err
	}))
	member("b")

	publishBoth := func() {
		for part := range int32(2) {
			rec, err := events.NewRecord(t.Context(), p, typ, &OrderPlaced{OrderID: "x"})
			must(t, err)
			rec.Partition = part
			must(t, p.Send(t.Context(), rec))
		}
	}
	each := func(what string, cond func() bool) {
		waitUntil(t, what, func() bool {
			publishBoth()
			time.Sleep(50 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			ok := cond()
			seen = map[string]map[int32]bool{"a": {}, "b": {}} // judge each round on its own records
			return ok
		})
	}
	each("both members to own a partition", func() bool { return len(seen["a"]) == 1 && len(seen["b"]) == 1 })
	// Kill a: its connections drop and it can dial no more, so it can
	// neither heartbeat nor leave the group.
	killed.Store(true)
	connsMu.Lock()
	for _, conn := range conns {
		conn.Close()
	}
	connsMu.Unlock()
	each("the survivor to handle both partitions", func() bool { return len(seen["b"]) == 2 })
}

// committedOn returns the committed offset of partition 0 of topic.
func committedOn(t testing.TB, cluster *kfake.Cluster, group, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	must(t, err)
	defer cl.Close()
	return committedWith(t, cl, group, topic)[0]
}

// readFrom reads n records of topic from the start.
func readFrom(t testing.TB, cluster *kfake.Cluster, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	must(t, err)
	defer cl.Close()
	return readWith(t, cl, topic, n)
}
