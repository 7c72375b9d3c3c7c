package events_test

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/sr/srfake"

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

// BenchmarkNewRecordConfluent is BenchmarkNewRecord with a Schema Registry
// (franz-go's srfake over loopback, reached on the first record only):
// strategy is a type without a Subject (the codec's strategy names the
// subject), subject one with the Subject generated code sets. The two
// cost the same: ids and ce_dataschema are cached by schema and subject.
func BenchmarkNewRecordConfluent(b *testing.B) {
	reg := srfake.New()
	b.Cleanup(reg.Close)
	br := newBroker(b, embedded.Topic{Name: "t", Partitions: 1})
	tel := benchTelemetry(b)
	p := newProducer(b, br, confluentCodec(b, reg.URL()), tel[0], tel[1])
	evt := &OrderPlaced{OrderID: "order-123456", Seq: 42, Amount: 129900}
	withSubject := orderType("t")
	withSubject.Subject = "t-value"
	for _, tt := range []struct {
		name string
		typ  events.Type[OrderPlaced]
	}{{"strategy", orderType("t")}, {"subject", withSubject}} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := events.NewRecord(context.Background(), p, tt.typ, evt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
