package events_test

import (
	"context"
	"encoding/binary"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/codec"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
)

// The Avro record key of the key tests, in two versions: v2 adds a field
// with a default.
const shardKeyV1 = `{"type": "record", "name": "ShardKey", "namespace": "keiyaku.test.v1",
 "fields": [{"name": "tenant", "type": "string"}, {"name": "id", "type": "long"}]}`

var shardKeyV2 = strings.Replace(shardKeyV1, `{"name": "id", "type": "long"}`,
	`{"name": "id", "type": "long"}, {"name": "region", "type": "string", "default": "eu"}`, 1)

type ShardKey struct {
	Tenant string `avro:"tenant"`
	ID     int64  `avro:"id"`
}

type ShardKeyV2 struct {
	Tenant string `avro:"tenant"`
	ID     int64  `avro:"id"`
	Region string `avro:"region"`
}

// TestRecordKeys pins the wire format of an Avro record key: the
// producer's codec writes it as it writes a value — single-object encoding
// with the key schema's fingerprint, or Confluent framing with the id of
// the key schema registered under its own subject (here, given none, the
// codec's strategy: the key record's full name) — and a consumer built against v1 of the key reads a key written
// with v2 through Envelope.DecodeKey, in both modes.
func TestRecordKeys(t *testing.T) {
	t.Parallel()
	v1, v2 := mustSchema(t, shardKeyV1), mustSchema(t, shardKeyV2)
	for _, tt := range []struct {
		name string
		// codecs returns the producer's and the consumer's codec, and
		// checks the key's header.
		codecs func(t *testing.T, b *embedded.Broker) (prod, cons codec.Codec, header func(t *testing.T, key []byte))
	}{
		{"single-object topic store", func(t *testing.T, b *embedded.Broker) (codec.Codec, codec.Codec, func(*testing.T, []byte)) {
			return topicCodec(t, b), topicCodec(t, b), func(t *testing.T, key []byte) {
				if len(key) < 10 || key[0] != 0xc3 || key[1] != 0x01 || binary.LittleEndian.Uint64(key[2:10]) != v2.Fingerprint() {
					t.Errorf("key % x is not single-object encoded with the key schema (fingerprint %016x)", key, v2.Fingerprint())
				}
			}
		}},
		{"confluent registry", func(t *testing.T, _ *embedded.Broker) (codec.Codec, codec.Codec, func(*testing.T, []byte)) {
			reg := srfake.New()
			t.Cleanup(reg.Close)
			return confluentCodec(t, reg.URL()), confluentCodec(t, reg.URL()), func(t *testing.T, key []byte) {
				if len(key) < 5 || key[0] != 0 {
					t.Errorf("key % x is not Confluent-framed", key)
				}
				if !reg.SubjectExists(v2.FullName()) {
					t.Errorf("the key schema is not registered under its subject %s", v2.FullName())
				}
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBroker(t, embedded.Topic{Name: orderTopic, Partitions: 2})
			prodCodec, consCodec, header := tt.codecs(t, b)
			p := newProducer(t, b, prodCodec)
			key, err := events.EncodeKey(t.Context(), p, v2, "", &ShardKeyV2{Tenant: "t1", ID: 42, Region: "ap"})
			must(t, err)
			typ := orderType(orderTopic)
			typ.Key = func(*OrderPlaced) string { return key }
			must(t, events.Publish(t.Context(), p, typ, &OrderPlaced{OrderID: "o1", Seq: 1, Amount: 7}))

			cons, err := events.NewConsumer(consumerClient(t, b, "keys", orderTopic), consCodec)
			must(t, err)
			var mu sync.Mutex
			var got []byte
			var gotKey ShardKey
			var keyErr error
			events.Handle(cons, orderType(orderTopic), func(ctx context.Context, env events.Envelope, _ *OrderPlaced) error {
				mu.Lock()
				defer mu.Unlock()
				got = env.Key
				keyErr = env.DecodeKey(ctx, v1, &gotKey)
				return nil
			})
			stop := runConsumer(t, cons)
			waitUntil(t, "the keyed event", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return got != nil
			})
			must(t, stop())
			header(t, got)
			if keyErr != nil || gotKey != (ShardKey{Tenant: "t1", ID: 42}) {
				t.Errorf("the v1 reader decodes the v2 key to %+v, %v", gotKey, keyErr)
			}
		})
	}
}

// TestRecordKeyErrors pins the refusals: a nil producer or schema, a value
// the schema cannot write, and an envelope no consumer delivered.
func TestRecordKeyErrors(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, shardKeyV1)
	b := newBroker(t, embedded.Topic{Name: orderTopic, Partitions: 1})
	p := newProducer(t, b, memoryCodec(t))
	for name, encode := range map[string]func() (string, error){
		"nil producer": func() (string, error) { return events.EncodeKey(t.Context(), nil, s, "", &ShardKey{}) },
		"nil schema":   func() (string, error) { return events.EncodeKey(t.Context(), p, nil, "", &ShardKey{}) },
		"not a record": func() (string, error) { return events.EncodeKey(t.Context(), p, s, "", 42) },
	} {
		if k, err := encode(); err == nil {
			t.Errorf("%s: key % x, no error", name, k)
		}
	}
	env, err := events.ParseEnvelope(&kgo.Record{Key: []byte("plain"), Headers: []kgo.RecordHeader{
		{Key: events.HeaderSpecVersion, Value: []byte(events.SpecVersion)}, {Key: events.HeaderID, Value: []byte("1")},
		{Key: events.HeaderType, Value: []byte("t")}, {Key: events.HeaderSource, Value: []byte("/s")},
	}})
	must(t, err)
	var k ShardKey
	if err := env.DecodeKey(t.Context(), s, &k); err == nil || !strings.Contains(err.Error(), "not delivered by a Consumer") {
		t.Errorf("DecodeKey of a parsed envelope: %v, want the no-codec error", err)
	}
}
