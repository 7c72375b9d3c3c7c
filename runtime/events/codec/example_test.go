package codec_test

import (
	"context"
	"fmt"
	"log"

	"github.com/keiyaku/keiyaku/runtime/events/codec"
)

// A consumer built against v1 reads data a newer producer wrote with v2,
// finding v2 in the shared store by the fingerprint in the header.
func ExampleSingleObject() {
	v1 := codec.MustSchema(`{"type":"record","name":"Greeting","namespace":"example.v1",
		"fields":[{"name":"text","type":"string"}]}`)
	v2 := codec.MustSchema(`{"type":"record","name":"Greeting","namespace":"example.v1",
		"fields":[{"name":"text","type":"string"},{"name":"lang","type":"string","default":"en"}]}`)

	store := codec.NewMemoryStore() // a TopicStore when producer and consumer are processes
	producer, err := codec.NewSingleObject(store)
	if err != nil {
		log.Fatal(err)
	}
	consumer, err := codec.NewSingleObject(store)
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	data, err := producer.Encode(ctx, nil, v2, map[string]any{"text": "こんにちは", "lang": "ja"})
	if err != nil {
		log.Fatal(err)
	}
	var got struct {
		Text string `avro:"text"`
	}
	if err := consumer.Decode(ctx, data, v1, &got); err != nil {
		log.Fatal(err)
	}
	ds, _ := producer.DataSchema(ctx, v2)
	fmt.Printf("% x\n%s\n%s\n", data[:2], got.Text, ds[:21])
	// Output:
	// c3 01
	// こんにちは
	// urn:avro:fingerprint:
}
