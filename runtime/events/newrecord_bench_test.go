package events_test

import (
	"context"
	"testing"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
)

// BenchmarkNewRecord measures the CPU work Publish adds to a produce:
// encoding, the CloudEvents headers and trace context, without I/O.
func BenchmarkNewRecord(b *testing.B) {
	br := newBroker(b, embedded.Topic{Name: "t", Partitions: 1})
	tel := benchTelemetry(b)
	p := newProducer(b, br, memoryCodec(b), tel[0], tel[1])
	evt := &OrderPlaced{OrderID: "order-123456", Seq: 42, Amount: 129900}
	typ := orderType("t")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := events.NewRecord(context.Background(), p, typ, evt); err != nil {
			b.Fatal(err)
		}
	}
}
