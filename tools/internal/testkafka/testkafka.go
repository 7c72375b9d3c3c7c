// Package testkafka is the Kafka fixture the tools' tests share: a
// Kafka-protocol broker (kfake, in-process) holding one topic, a producer
// client of it and the single-object codec whose schemas live on the
// broker's schema topic, as a service without a registry has them.
package testkafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/codec"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
)

// Start starts a broker with topic (of partitions partitions) and returns
// a client with the producer options of events, a single-object codec
// over the broker's schema topic, and the options that connect another
// client to the broker; all close when the test ends.
func Start(t testing.TB, topic string, partitions int32) (*kgo.Client, codec.Codec, []kgo.Opt) {
	t.Helper()
	broker, err := embedded.Start(t.Context(), embedded.WithTopics(embedded.Topic{Name: topic, Partitions: partitions}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Close)
	opts, err := events.ClientConfig{Brokers: broker.Addrs()}.Options()
	if err != nil {
		t.Fatal(err)
	}
	client, err := kgo.NewClient(append(opts, events.ProducerClientOptions()...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	store, err := codec.NewTopicStore(client)
	if err != nil {
		t.Fatal(err)
	}
	so, err := codec.NewSingleObject(store)
	if err != nil {
		t.Fatal(err)
	}
	return client, so, opts
}
