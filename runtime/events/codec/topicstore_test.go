package codec_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/keiyaku/keiyaku/runtime/events/codec"
	"github.com/keiyaku/keiyaku/runtime/events/codec/storetest"
)

// newCluster starts an in-process Kafka-protocol broker on loopback TCP with
// the given topics, one partition each.
func newCluster(t testing.TB, topics ...string) *kfake.Cluster {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(1, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake.NewCluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// newClient returns a client of c, closed when the test ends: one per
// simulated process.
func newClient(t testing.TB, c *kfake.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, opts...)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func newTopicStore(t testing.TB, cl *kgo.Client, opts ...codec.TopicStoreOption) *codec.TopicStore {
	t.Helper()
	s, err := codec.NewTopicStore(cl, opts...)
	if err != nil {
		t.Fatalf("NewTopicStore: %v", err)
	}
	return s
}

// TestTopicStoreConformance runs the SchemaStore suite with writer and reader
// in two "processes": separate clients and stores on one broker.
func TestTopicStoreConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		c := newCluster(t, codec.DefaultTopic)
		return storetest.Stores{
			Writer: newTopicStore(t, newClient(t, c)),
			Reader: newTopicStore(t, newClient(t, c)),
		}
	})
}

// TestMemoryStoreConformance runs the SchemaStore suite on MemoryStore.
func TestMemoryStoreConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(*testing.T) storetest.Stores {
		s := codec.NewMemoryStore()
		return storetest.Stores{Writer: s, Reader: s}
	})
}

// TestTopicStoreAcrossProcesses pins the registry-free evolution promise end
// to end over Kafka: a consumer process built against v1 decodes data a
// producer process wrote with v2, finding v2 in the schema topic, and a v2
// consumer reads v1 data with defaults.
func TestTopicStoreAcrossProcesses(t *testing.T) {
	t.Parallel()
	v1, v2 := mustSchema(t, createdV1), mustSchema(t, createdV2)
	c := newCluster(t, codec.DefaultTopic)
	producer := newSingleObject(t, newTopicStore(t, newClient(t, c)))
	consumer := newSingleObject(t, newTopicStore(t, newClient(t, c)))
	sample := sampleV1()

	data, err := producer.Encode(t.Context(), nil, v2, &ReservationCreatedV2{ReservationCreatedV1: sample, Channel: "app"})
	if err != nil {
		t.Fatalf("Encode v2: %v", err)
	}
	var gotV1 ReservationCreatedV1
	if err := consumer.Decode(t.Context(), data, v1, &gotV1); err != nil {
		t.Fatalf("v1 Decode of v2 data: %v", err)
	}
	equalV1(t, gotV1, sample)

	data, err = producer.Encode(t.Context(), nil, v1, &sample)
	if err != nil {
		t.Fatalf("Encode v1: %v", err)
	}
	var gotV2 ReservationCreatedV2
	if err := consumer.Decode(t.Context(), data, v2, &gotV2); err != nil {
		t.Fatalf("v2 Decode of v1 data: %v", err)
	}
	equalV1(t, gotV2.ReservationCreatedV1, sample)
	if gotV2.Channel != "web" {
		t.Errorf("channel = %q, want the default \"web\"", gotV2.Channel)
	}
}

// endOffset returns the end offset of partition 0 of topic.
func endOffset(t *testing.T, cl *kgo.Client, topic string) int64 {
	t.Helper()
	ends, err := kadm.NewClient(cl).ListEndOffsets(t.Context(), topic)
	if err != nil {
		t.Fatalf("ListEndOffsets: %v", err)
	}
	o, ok := ends.Lookup(topic, 0)
	if !ok || o.Err != nil {
		t.Fatalf("ListEndOffsets(%s): %+v", topic, o)
	}
	return o.Offset
}

// TestTopicStorePutOnce pins "one record per schema per process": repeated
// and concurrent Puts and Encodes produce the schema once.
func TestTopicStorePutOnce(t *testing.T) {
	t.Parallel()
	v1 := mustSchema(t, createdV1)
	c := newCluster(t, codec.DefaultTopic)
	cl := newClient(t, c)
	store := newTopicStore(t, cl)
	enc := newSingleObject(t, store)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 8 {
		wg.Go(func() { errs <- store.Put(t.Context(), v1) })
		wg.Go(func() {
			_, err := enc.Encode(t.Context(), nil, v1, ptr(sampleV1()))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := endOffset(t, cl, codec.DefaultTopic); n != 1 {
		t.Errorf("schema topic holds %d records, want 1", n)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger used from several
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTopicStoreSkipsBadRecords pins that records a consumer cannot trust
// (a key that is no fingerprint, a value that is no schema, a schema whose
// fingerprint is not its key) are skipped and logged, and never served.
func TestTopicStoreSkipsBadRecords(t *testing.T) {
	t.Parallel()
	v1, v2 := mustSchema(t, createdV1), mustSchema(t, createdV2)
	c := newCluster(t, codec.DefaultTopic)
	cl := newClient(t, c)
	bad := []*kgo.Record{
		{Key: []byte("short"), Value: []byte(v1.String())},
		{Key: []byte("zzzzzzzzzzzzzzzz"), Value: []byte(v1.String())},
		{Key: []byte(hex16(v1.Fingerprint())), Value: []byte(`{"type":`)},
		{Key: []byte(hex16(v1.Fingerprint())), Value: []byte(v2.String())}, // v2 posing as v1
		{Key: []byte(hex16(v2.Fingerprint())), Value: []byte(v2.String())},
	}
	for _, r := range bad {
		r.Topic = codec.DefaultTopic
	}
	if err := cl.ProduceSync(t.Context(), bad...).FirstErr(); err != nil {
		t.Fatalf("ProduceSync: %v", err)
	}
	var logs syncBuffer
	reader := newTopicStore(t, newClient(t, c), codec.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	got, err := reader.Get(t.Context(), v2.Fingerprint())
	if err != nil || got.String() != v2.String() {
		t.Fatalf("Get(v2) = %v, %v; want v2", got, err)
	}
	if _, err := reader.Get(t.Context(), v1.Fingerprint()); !errors.Is(err, codec.ErrUnknownSchema) {
		t.Fatalf("Get(v1), only ever written badly: error = %v, want ErrUnknownSchema", err)
	}
	if n := strings.Count(logs.String(), "skip schema topic record"); n != 4 {
		t.Errorf("logged %d skipped records, want 4:\n%s", n, logs.String())
	}
}

// TestTopicStoreEnsureTopic pins that the store works against a cluster
// without the topic: Get reports ErrUnknownSchema, and EnsureTopic creates
// the topic compacted, idempotently.
func TestTopicStoreEnsureTopic(t *testing.T) {
	t.Parallel()
	v1 := mustSchema(t, createdV1)
	c := newCluster(t)
	cl := newClient(t, c)
	store := newTopicStore(t, cl, codec.WithTopic("schemas.test"))
	if _, err := store.Get(t.Context(), v1.Fingerprint()); !errors.Is(err, codec.ErrUnknownSchema) {
		t.Fatalf("Get without the topic: error = %v, want ErrUnknownSchema", err)
	}
	for range 2 {
		if err := store.EnsureTopic(t.Context()); err != nil {
			t.Fatalf("EnsureTopic: %v", err)
		}
	}
	cfgs, err := kadm.NewClient(cl).DescribeTopicConfigs(t.Context(), "schemas.test")
	if err != nil {
		t.Fatalf("DescribeTopicConfigs: %v", err)
	}
	cfg, err := cfgs.On("schemas.test", nil)
	if err != nil {
		t.Fatalf("DescribeTopicConfigs: %v", err)
	}
	var policy string
	for _, kv := range cfg.Configs {
		if kv.Key == "cleanup.policy" && kv.Value != nil {
			policy = *kv.Value
		}
	}
	if policy != "compact" {
		t.Errorf("cleanup.policy = %q, want compact", policy)
	}
	if err := store.Put(t.Context(), v1); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if _, err := newTopicStore(t, newClient(t, c), codec.WithTopic("schemas.test")).Get(t.Context(), v1.Fingerprint()); err != nil {
		t.Fatalf("Get from another process: %v", err)
	}
}

// TestTopicStoreBoundedWait pins that a Get miss against a broker that stops
// answering fetches gives up after the read timeout with a retryable error
// (not ErrUnknownSchema), that the caller's context ends the wait too, and
// that the store recovers once the broker answers again.
func TestTopicStoreBoundedWait(t *testing.T) {
	t.Parallel()
	v1 := mustSchema(t, createdV1)
	c := newCluster(t, codec.DefaultTopic)
	if err := newTopicStore(t, newClient(t, c)).Put(t.Context(), v1); err != nil {
		t.Fatalf("Put: %v", err)
	}
	var stall atomic.Bool
	stall.Store(true)
	c.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		return nil, nil, stall.Load() // handled without a response: the fetch hangs
	})
	reader := newTopicStore(t, newClient(t, c), codec.WithReadTimeout(300*time.Millisecond))

	_, err := reader.Get(t.Context(), v1.Fingerprint())
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, codec.ErrUnknownSchema) {
		t.Fatalf("Get with fetches stalled: error = %v, want DeadlineExceeded", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := reader.Get(ctx, v1.Fingerprint()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a canceled context: error = %v, want Canceled", err)
	}
	stall.Store(false)
	if _, err := reader.Get(t.Context(), v1.Fingerprint()); err != nil {
		t.Fatalf("Get after the broker recovered: %v", err)
	}
}

// TestTopicStoreGroupClient pins that the store can be built on a consumer
// group client: it reads the schema topic with its own reader and leaves the
// group client's consumption alone.
func TestTopicStoreGroupClient(t *testing.T) {
	t.Parallel()
	v1 := mustSchema(t, createdV1)
	c := newCluster(t, codec.DefaultTopic, "events")
	if err := newTopicStore(t, newClient(t, c)).Put(t.Context(), v1); err != nil {
		t.Fatalf("Put: %v", err)
	}
	group := newClient(t, c, kgo.ConsumerGroup("g"), kgo.ConsumeTopics("events"), kgo.DisableAutoCommit())
	if _, err := newTopicStore(t, group).Get(t.Context(), v1.Fingerprint()); err != nil {
		t.Fatalf("Get through a group client: %v", err)
	}
	if err := group.ProduceSync(t.Context(), &kgo.Record{Topic: "events", Value: []byte("e")}).FirstErr(); err != nil {
		t.Fatalf("ProduceSync: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	fetches := group.PollFetches(ctx)
	if err := fetches.Err(); err != nil {
		t.Fatalf("group PollFetches: %v", err)
	}
	for _, r := range fetches.Records() {
		if r.Topic != "events" {
			t.Errorf("group client received a record of %q", r.Topic)
		}
	}
}

// TestNewTopicStoreValidation pins that bad configuration is an error from
// the constructor.
func TestNewTopicStoreValidation(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cl := newClient(t, c)
	leaderAcks := newClient(t, c, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	for _, tc := range []struct {
		name string
		cl   *kgo.Client
		opts []codec.TopicStoreOption
	}{
		{"nil client", nil, nil},
		{"acks=1", leaderAcks, nil},
		{"empty topic", cl, []codec.TopicStoreOption{codec.WithTopic("")}},
		{"illegal topic", cl, []codec.TopicStoreOption{codec.WithTopic("a/b")}},
		{"dot topic", cl, []codec.TopicStoreOption{codec.WithTopic("..")}},
		{"long topic", cl, []codec.TopicStoreOption{codec.WithTopic(strings.Repeat("t", 250))}},
		{"zero timeout", cl, []codec.TopicStoreOption{codec.WithReadTimeout(0)}},
		{"nil logger", cl, []codec.TopicStoreOption{codec.WithLogger(nil)}},
		{"zero option", cl, []codec.TopicStoreOption{{}}},
	} {
		if _, err := codec.NewTopicStore(tc.cl, tc.opts...); err == nil {
			t.Errorf("%s: NewTopicStore succeeded", tc.name)
		}
	}
}
