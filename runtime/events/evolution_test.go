package events_test

import (
	"context"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/codec"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
)

// TestEvolution pins the promise of schema versions on the wire: a
// consumer built against v1 reads events written by a producer built
// against v2 (a field added with a default) without being rebuilt, and a
// v2 consumer reads v1 events with the default filled in — in single-object
// mode, where each side finds the other's schema in the schema topic of
// the broker, and in Confluent mode through a Schema Registry.
func TestEvolution(t *testing.T) {
	t.Parallel()
	modes := []struct {
		name string
		// codecs returns the producer's and the consumer's codec, built
		// the way two processes would build them.
		codecs func(t *testing.T, b *embedded.Broker) (prod, cons codec.Codec)
	}{
		{"single-object topic store", func(t *testing.T, b *embedded.Broker) (codec.Codec, codec.Codec) {
			return topicCodec(t, b), topicCodec(t, b)
		}},
		{"confluent registry", func(t *testing.T, _ *embedded.Broker) (codec.Codec, codec.Codec) {
			reg := srfake.New()
			t.Cleanup(reg.Close)
			return confluentCodec(t, reg.URL()), confluentCodec(t, reg.URL())
		}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			b := newBroker(t, embedded.Topic{Name: orderTopic, Partitions: 2})
			prodCodec, consCodec := m.codecs(t, b)
			p := newProducer(t, b, prodCodec)
			note := "gift"
			must(t, events.Publish(t.Context(), p, orderTypeV2(orderTopic),
				&OrderPlacedV2{OrderID: "v2", Seq: 2, Amount: 42, Note: &note, Channel: "app"}))
			must(t, events.Publish(t.Context(), p, orderType(orderTopic),
				&OrderPlaced{OrderID: "v1", Seq: 1, Amount: 7}))

			// The v1 build.
			consV1, err := events.NewConsumer(consumerClient(t, b, "v1-build", orderTopic), consCodec)
			must(t, err)
			var mu sync.Mutex
			gotV1 := map[string]OrderPlaced{}
			events.Handle(consV1, orderType(orderTopic), func(_ context.Context, _ events.Envelope, evt *OrderPlaced) error {
				mu.Lock()
				defer mu.Unlock()
				gotV1[evt.OrderID] = *evt
				return nil
			})
			// The v2 build, another group on the same topic.
			consV2, err := events.NewConsumer(consumerClient(t, b, "v2-build", orderTopic), consCodec)
			must(t, err)
			gotV2 := map[string]OrderPlacedV2{}
			events.Handle(consV2, orderTypeV2(orderTopic), func(_ context.Context, _ events.Envelope, evt *OrderPlacedV2) error {
				mu.Lock()
				defer mu.Unlock()
				gotV2[evt.OrderID] = *evt
				return nil
			})
			stop1, stop2 := runConsumer(t, consV1), runConsumer(t, consV2)
			waitUntil(t, "both builds read both events", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(gotV1) == 2 && len(gotV2) == 2
			})
			must(t, stop1())
			must(t, stop2())

			if g := gotV1["v2"]; g.Seq != 2 || g.Amount != 42 || g.Note == nil || *g.Note != "gift" {
				t.Errorf("v1 build read v2 event as %+v", g)
			}
			if g := gotV1["v1"]; g.Seq != 1 || g.Amount != 7 || g.Note != nil {
				t.Errorf("v1 build read v1 event as %+v", g)
			}
			if g := gotV2["v2"]; g.Channel != "app" || g.Amount != 42 {
				t.Errorf("v2 build read v2 event as %+v", g)
			}
			if g := gotV2["v1"]; g.Channel != "web" || g.Amount != 7 {
				t.Errorf("v2 build read v1 event as %+v, want channel defaulted to web", g)
			}
		})
	}
}

// topicCodec returns a single-object codec whose schemas live in the
// broker's schema topic, on a client of its own.
func topicCodec(t testing.TB, b *embedded.Broker) codec.Codec {
	t.Helper()
	store, err := codec.NewTopicStore(newClient(t, b))
	must(t, err)
	if store.Topic() != embedded.SchemaTopic {
		t.Fatalf("codec schema topic %q, embedded broker creates %q", store.Topic(), embedded.SchemaTopic)
	}
	c, err := codec.NewSingleObject(store)
	must(t, err)
	return c
}

func confluentCodec(t testing.TB, url string) codec.Codec {
	t.Helper()
	cl, err := sr.NewClient(sr.URLs(url))
	must(t, err)
	c, err := codec.NewConfluent(cl)
	must(t, err)
	return c
}
