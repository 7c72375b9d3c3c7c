package embedded_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/events/embedded"
)

// TestProduceCheck pins WithProduceCheck: every record of a produce
// request is seen — with its topic, also when the client names topics by
// id, and whatever the batch compression — and a refused one fails the
// producer with INVALID_RECORD while accepted ones are written.
func TestProduceCheck(t *testing.T) {
	t.Parallel()
	if _, err := embedded.Start(t.Context(), embedded.WithProduceCheck(nil)); err == nil {
		t.Fatal("Start with a nil check succeeded")
	}
	for _, comp := range []kgo.CompressionCodec{kgo.NoCompression(), kgo.GzipCompression(), kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression()} {
		b := start(t, embedded.WithTopics(embedded.Topic{Name: "checked", Partitions: 1}),
			embedded.WithProduceCheck(func(r *kgo.Record) error {
				if r.Topic == "checked" && string(r.Value) == "bad" {
					return errors.New("value is bad")
				}
				return nil
			}))
		cl := newClient(t, b, kgo.ProducerBatchCompression(comp), kgo.RecordRetries(1))
		if err := cl.ProduceSync(t.Context(), &kgo.Record{Topic: "checked", Value: []byte("good"), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}}).FirstErr(); err != nil {
			t.Errorf("good record refused: %v", err)
		}
		if err := cl.ProduceSync(t.Context(), &kgo.Record{Topic: "checked", Value: []byte("bad")}).FirstErr(); err == nil || !strings.Contains(err.Error(), "INVALID_RECORD") {
			t.Errorf("bad record: %v, want INVALID_RECORD", err)
		}
	}
}
