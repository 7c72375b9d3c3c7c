package generator_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/codec"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
)

// roundTripClients starts a Kafka-protocol broker (kfake) with the topics
// of a generated package's TopicPartitions and returns a producer (source
// its ce_source) and a consumer of group reading received, and the
// single-object codec they share; everything closes when the test ends.
func roundTripClients(t *testing.T, partitions map[string]int32, source, group string, received []string) (*events.Producer, *events.Consumer, codec.Codec) {
	t.Helper()
	var topics []embedded.Topic
	for name, n := range partitions {
		topics = append(topics, embedded.Topic{Name: name, Partitions: n})
	}
	broker, err := embedded.Start(t.Context(), embedded.WithTopics(topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Close)
	c, err := codec.NewSingleObject(codec.NewMemoryStore())
	if err != nil {
		t.Fatal(err)
	}
	pc, err := kgo.NewClient(append(events.ProducerClientOptions(), kgo.SeedBrokers(broker.Addrs()...))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pc.Close)
	producer, err := events.NewProducer(pc, c, source)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := kgo.NewClient(append(events.ConsumerClientOptions(group, received...), kgo.SeedBrokers(broker.Addrs()...))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Close)
	consumer, err := events.NewConsumer(cc, c)
	if err != nil {
		t.Fatal(err)
	}
	return producer, consumer, c
}
