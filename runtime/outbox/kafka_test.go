package outbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/codec"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
	"github.com/keiyaku/keiyaku/runtime/outbox"
)

// kafkaTimeout bounds each wait on the broker, so a lost record fails
// the test instead of hanging it.
const kafkaTimeout = 60 * time.Second

type orderPlaced struct {
	OrderID string `avro:"order_id"`
	Seq     int64  `avro:"seq"`
}

var orderSchema = codec.MustSchema(`{
  "type": "record", "name": "OrderPlaced", "namespace": "keiyaku.test.outbox.v1",
  "fields": [{"name": "order_id", "type": "string"}, {"name": "seq", "type": "long"}]
}`)

// TestRelayThroughKafka pins the wiring of the outbox to a real
// producer: events made by events.NewRecord, kept in the outbox in the
// writer's transaction and relayed by (*events.Producer).Send over TCP to
// the embedded broker arrive on the topic whole — key, Avro value,
// CloudEvents id — once each and in order per key.
func TestRelayThroughKafka(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			const topic = "orders"
			ctx := t.Context()
			broker, err := embedded.Start(ctx, embedded.WithTopics(embedded.Topic{Name: topic, Partitions: 3}))
			if err != nil {
				t.Fatalf("embedded.Start: %v", err)
			}
			t.Cleanup(broker.Close)
			client, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(broker.Addrs()...)}, events.ProducerClientOptions()...)...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(client.Close)
			c, err := codec.NewSingleObject(codec.NewMemoryStore())
			if err != nil {
				t.Fatal(err)
			}
			producer, err := events.NewProducer(client, c, "/services/test")
			if err != nil {
				t.Fatal(err)
			}
			typ := events.Type[orderPlaced]{
				Topic:  topic,
				Schema: orderSchema,
				Key:    func(o *orderPlaced) string { return o.OrderID },
			}

			db := b.Open(t)
			store, err := outbox.NewStore(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			relay, err := outbox.NewRelay(store, producer.Send, outbox.WithBatchSize(4))
			if err != nil {
				t.Fatal(err)
			}
			runCtx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- relay.Run(runCtx) }()
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
			})

			keys := []string{"o-1", "o-2", "o-3", "o-4"}
			const perKey = 6
			ids := make(map[string]string) // ce_id → "key/seq"
			for seq := range perKey {
				err := db.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
					for _, k := range keys {
						rec, err := events.NewRecord(ctx, producer, typ, &orderPlaced{OrderID: k, Seq: int64(seq)})
						if err != nil {
							return err
						}
						ids[header(rec, events.HeaderID)] = fmt.Sprintf("%s/%d", k, seq)
						if err := store.Add(ctx, tx, rec); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Fatalf("add: %v", err)
				}
				relay.Notify()
			}

			consumer, err := kgo.NewClient(kgo.SeedBrokers(broker.Addrs()...), kgo.ConsumeTopics(topic),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(consumer.Close)
			want := len(keys) * perKey
			var got []*kgo.Record
			pollCtx, cancelPoll := context.WithTimeout(ctx, kafkaTimeout)
			defer cancelPoll()
			for len(got) < want {
				fs := consumer.PollFetches(pollCtx)
				if pollCtx.Err() != nil {
					t.Fatalf("got %d of %d records from the broker before the timeout", len(got), want)
				}
				fs.EachError(func(topic string, p int32, err error) { t.Errorf("fetch %s/%d: %v", topic, p, err) })
				got = append(got, fs.Records()...)
			}
			next := make(map[string]int64)
			seen := make(map[string]bool)
			for _, r := range got {
				var o orderPlaced
				if err := c.Decode(ctx, r.Value, orderSchema, &o); err != nil {
					t.Fatalf("decode: %v", err)
				}
				id := header(r, events.HeaderID)
				if ids[id] != fmt.Sprintf("%s/%d", o.OrderID, o.Seq) {
					t.Errorf("record %s/%d has ce_id %q, which was made for %q", o.OrderID, o.Seq, id, ids[id])
				}
				if seen[id] {
					t.Errorf("event %s arrived twice", id)
				}
				seen[id] = true
				if string(r.Key) != o.OrderID {
					t.Errorf("record key %q, want the order id %q", r.Key, o.OrderID)
				}
				if o.Seq != next[o.OrderID] {
					t.Errorf("order %s: event %d arrived when %d was due", o.OrderID, o.Seq, next[o.OrderID])
				}
				next[o.OrderID] = o.Seq + 1
			}
			if len(seen) != want {
				t.Errorf("%d distinct events arrived, want %d", len(seen), want)
			}
		})
	}
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
