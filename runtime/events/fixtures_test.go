package events_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/codec"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
)

// The test event, written by hand the way generated code will be: an Avro
// record in two versions (v2 adds a field with a default) and the Go types
// each build decodes into.

const orderV1 = `{
  "type": "record", "name": "OrderPlaced", "namespace": "keiyaku.test.v1",
  "doc": "An order was placed.",
  "fields": [
    {"name": "order_id", "type": "string"},
    {"name": "seq", "type": "long"},
    {"name": "amount", "type": "long"},
    {"name": "note", "type": ["null", "string"], "default": null}
  ]
}`

var orderV2 = strings.Replace(orderV1,
	`{"name": "note", "type": ["null", "string"], "default": null}`,
	`{"name": "note", "type": ["null", "string"], "default": null},
    {"name": "channel", "type": "string", "default": "web"}`, 1)

const shippedV1 = `{
  "type": "record", "name": "OrderShipped", "namespace": "keiyaku.test.v1",
  "fields": [{"name": "order_id", "type": "string"}]
}`

type OrderPlaced struct {
	OrderID string  `avro:"order_id"`
	Seq     int64   `avro:"seq"`
	Amount  int64   `avro:"amount"`
	Note    *string `avro:"note"`
}

type OrderPlacedV2 struct {
	OrderID string  `avro:"order_id"`
	Seq     int64   `avro:"seq"`
	Amount  int64   `avro:"amount"`
	Note    *string `avro:"note"`
	Channel string  `avro:"channel"`
}

type OrderShipped struct {
	OrderID string `avro:"order_id"`
}

var (
	orderSchemaV1   = codec.MustSchema(orderV1)
	orderSchemaV2   = codec.MustSchema(orderV2)
	shippedSchemaV1 = codec.MustSchema(shippedV1)
)

const orderTopic = "orders"

func orderType(topic string) events.Type[OrderPlaced] {
	return events.Type[OrderPlaced]{
		Name:   "keiyaku.test.v1.OrderPlaced",
		Topic:  topic,
		Schema: orderSchemaV1,
		Key:    func(o *OrderPlaced) string { return o.OrderID },
	}
}

func orderTypeV2(topic string) events.Type[OrderPlacedV2] {
	return events.Type[OrderPlacedV2]{
		Name:   "keiyaku.test.v1.OrderPlaced",
		Topic:  topic,
		Schema: orderSchemaV2,
		Key:    func(o *OrderPlacedV2) string { return o.OrderID },
	}
}

func shippedType(topic string) events.Type[OrderShipped] {
	return events.Type[OrderShipped]{
		Name:   "keiyaku.test.v1.OrderShipped",
		Topic:  topic,
		Schema: shippedSchemaV1,
		Key:    func(o *OrderShipped) string { return o.OrderID },
	}
}

// testTimeout bounds every wait of a test on the broker, so a bug shows as
// a failure rather than a hang.
const testTimeout = 60 * time.Second

// newBroker starts an embedded broker with the given topics.
func newBroker(t testing.TB, topics ...embedded.Topic) *embedded.Broker {
	t.Helper()
	b, err := embedded.Start(context.Background(), embedded.WithTopics(topics...))
	if err != nil {
		t.Fatalf("embedded.Start: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

// newClient returns a kgo client of b, closed when the test ends.
func newClient(t testing.TB, b *embedded.Broker, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Addrs()...)}, opts...)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// newProducer returns a producer on its own client of b.
func newProducer(t testing.TB, b *embedded.Broker, c codec.Codec, opts ...events.ProducerOption) *events.Producer {
	t.Helper()
	p, err := events.NewProducer(newClient(t, b, events.ProducerClientOptions()...), c, "/services/test", opts...)
	if err != nil {
		t.Fatalf("NewProducer: %v", err)
	}
	return p
}

// consumerClient returns a group client of b for the given topics. It is
// closed with CloseAllowingRebalance when the test ends, which is safe
// even if a test stopped in the middle of a poll.
func consumerClient(t testing.TB, b *embedded.Broker, group string, topics ...string) *kgo.Client {
	t.Helper()
	opts := append([]kgo.Opt{kgo.SeedBrokers(b.Addrs()...)}, events.ConsumerClientOptions(group, topics...)...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.CloseAllowingRebalance)
	return cl
}

// memoryCodec returns a single-object codec over a fresh in-memory schema
// store; share it between a producer and a consumer of one test.
func memoryCodec(t testing.TB) codec.Codec {
	t.Helper()
	c, err := codec.NewSingleObject(codec.NewMemoryStore())
	if err != nil {
		t.Fatalf("NewSingleObject: %v", err)
	}
	return c
}

// runConsumer runs c until the returned stop is called; stop cancels Run's
// context and returns Run's error.
func runConsumer(t testing.TB, c *events.Consumer) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-errc:
			case <-time.After(testTimeout):
				t.Errorf("Run did not return within %v of cancel", testTimeout)
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// waitUntil polls cond until it holds or the test timeout passes.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// committed returns the group's committed offset per partition of topic.
func committed(t testing.TB, b *embedded.Broker, group, topic string) map[int32]int64 {
	t.Helper()
	return committedWith(t, newClient(t, b), group, topic)
}

// committedWith is committed through the client cl.
func committedWith(t testing.TB, cl *kgo.Client, group, topic string) map[int32]int64 {
	t.Helper()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	resp, err := adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return map[int32]int64{}
	}
	if err != nil {
		t.Fatalf("FetchOffsets: %v", err)
	}
	out := make(map[int32]int64)
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil {
			out[o.Partition] = o.At
		}
	})
	return out
}

// endOffsets returns the end offset per partition of topic.
func endOffsets(t testing.TB, b *embedded.Broker, topic string) map[int32]int64 {
	t.Helper()
	adm := kadm.NewClient(newClient(t, b))
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("ListEndOffsets: %v", err)
	}
	out := make(map[int32]int64)
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// readAll reads n records of topic from the start, without a group.
func readAll(t testing.TB, b *embedded.Broker, topic string, n int) []*kgo.Record {
	t.Helper()
	return readWith(t, newClient(t, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())), topic, n)
}

// readWith reads n records with cl, a client consuming topic.
func readWith(t testing.TB, cl *kgo.Client, topic string, n int) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %s: got %d of %d records: %v", topic, len(out), n, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("read %s: %v", topic, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

// header returns the value of the one header named key, failing the test
// if there is not exactly one.
func header(t testing.TB, hs []kgo.RecordHeader, key string) string {
	t.Helper()
	var vals []string
	for _, h := range hs {
		if h.Key == key {
			vals = append(vals, string(h.Value))
		}
	}
	if len(vals) != 1 {
		t.Fatalf("header %q: %d values %q, want one", key, len(vals), vals)
	}
	return vals[0]
}

func mustSchema(t testing.TB, avsc string) *codec.Schema {
	t.Helper()
	s, err := codec.NewSchema(avsc)
	if err != nil {
		t.Fatalf("NewSchema: %v", err)
	}
	return s
}
