package verify_test

import (
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	reservationv1 "github.com/keiyaku/keiyaku/gen/reservation/v1"
	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/codec"
	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
	"github.com/keiyaku/keiyaku/tools/internal/testkafka"
	"github.com/keiyaku/keiyaku/tools/internal/verify"
)

// topicWithEvents starts the embedded broker and publishes n reservation
// events through the generated publisher — the wire format the services
// use — then, if bad is set, one record whose key is not its payload's
// reservation id and whose traceparent is all zeros. It returns a client
// of the broker.
func topicWithEvents(t *testing.T, n int, bad bool) *kgo.Client {
	t.Helper()
	ctx := t.Context()
	topic := reservationv1.ReservationCreatedEvent.Topic
	client, so, opts := testkafka.Start(t, topic, 2)
	producer, err := events.NewProducer(client, so, "/services/reservation", events.WithPropagator(propagation.TraceContext{}))
	if err != nil {
		t.Fatal(err)
	}
	pub := reservationv1.NewPublisher(producer)
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5}, TraceFlags: trace.FlagsSampled, Remote: true})
	tctx := trace.ContextWithRemoteSpanContext(ctx, sc)
	evt := func(i int) *reservationv1.ReservationCreated {
		day := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
		return &reservationv1.ReservationCreated{
			ReservationID: "9c8b7a6d-5e4f-4321-8fed-cba98765432" + string(rune('0'+i%10)),
			MemberID:      "3f1c2a9e-8b7d-4e6f-9a01-2b3c4d5e6f70", RoomID: "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d",
			CheckIn: day, CheckOut: day.AddDate(0, 0, 3), Guests: 2,
			TotalPrice: reservationv1.Money{Amount: big.NewRat(54000, 1), Currency: "JPY"},
			CreatedAt:  day.Add(-time.Hour),
		}
	}
	for i := range n {
		if err := pub.PublishReservationCreated(tctx, evt(i)); err != nil {
			t.Fatal(err)
		}
	}
	if bad {
		rec, err := pub.ReservationCreatedRecord(tctx, evt(n))
		if err != nil {
			t.Fatal(err)
		}
		rec.Key = []byte("not-the-reservation")
		for i, h := range rec.Headers {
			if h.Key == "traceparent" {
				rec.Headers[i].Value = []byte("00-00000000000000000000000000000000-0000000000000000-01")
			}
		}
		if err := producer.Send(ctx, rec); err != nil {
			t.Fatal(err)
		}
		garbage := &kgo.Record{Topic: topic, Key: []byte("9c8b7a6d-5e4f-4321-8fed-cba987654321"), Value: []byte{0xc3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 9}, Headers: rec.Headers}
		if err := producer.Send(ctx, garbage); err != nil {
			t.Fatal(err)
		}
	}
	reader, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reader.Close)
	return reader
}

func reservationEvents(t *testing.T) *asyncapi.Document {
	t.Helper()
	doc, err := asyncapi.Load(t.Context(), filepath.Join("..", "..", ".."), "contracts/reservation/v1/asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestTopicConforms: events written by the generated publisher conform to
// the contract they were generated from.
func TestTopicConforms(t *testing.T) {
	t.Parallel()
	client := topicWithEvents(t, 5, false)
	res, err := verify.Topic(t.Context(), client, reservationEvents(t), reservationv1.ReservationCreatedEvent.Topic, verify.TopicOptions{Idle: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 5 || len(res.Findings) != 0 {
		t.Fatalf("%d records, findings %v; want 5 conforming records", res.Records, res.Findings)
	}
	var out strings.Builder
	res.WriteSummary(&out)
	if !strings.Contains(out.String(), "ReservationCreated                    5              0") {
		t.Errorf("summary:\n%s", out.String())
	}
}

// TestTopicBadRecords: a record with a foreign key and an all-zero
// traceparent, and one whose value does not decode, are named with their
// offsets; the good ones still count as conforming.
func TestTopicBadRecords(t *testing.T) {
	t.Parallel()
	client := topicWithEvents(t, 3, true)
	res, err := verify.Topic(t.Context(), client, reservationEvents(t), reservationv1.ReservationCreatedEvent.Topic, verify.TopicOptions{Idle: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 5 || res.Messages[0].Conforming != 3 || res.Messages[0].NonConforming != 2 {
		t.Fatalf("%d records, counts %+v", res.Records, res.Messages)
	}
	var got []string
	for _, f := range res.Findings {
		if f.File != "contracts/reservation/v1/asyncapi.yaml" || f.Line == 0 {
			t.Errorf("finding at %s:%d, want the message in the AsyncAPI document", f.File, f.Line)
		}
		got = append(got, f.Rule+": "+f.Message)
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		`VERIFY_RECORD_KEY: hotel.reservation.events.v1/`,
		`key "not-the-reservation" is not the payload's reservationId "9c8b7a6d-5e4f-4321-8fed-cba987654323"`,
		`key: string doesn't match the format "uuid"`,
		`VERIFY_RECORD_TRACE:`,
		`the trace id is all zeros`,
		`VERIFY_RECORD_VALUE:`,
		`value does not decode with a known version of hotel.reservation.v1.ReservationCreated`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("findings lack %q:\n%s", want, all)
		}
	}
	var out strings.Builder
	res.WriteSummary(&out)
	if !strings.Contains(out.String(), "ReservationCreated                    3              2  ") {
		t.Errorf("summary:\n%s", out.String())
	}
}

// TestTopicRecordKey: a record whose Avro record key was written with its
// schema by the producer's codec conforms; one whose key is a plain string
// where the contract declares a record key is named.
func TestTopicRecordKey(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	doc, err := asyncapi.Load(ctx, filepath.Join("..", "generator", "testdata", "kinds"), "contracts/kinds/v1/asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const topic = "kinds.record-key.v1"
	var msg *asyncapi.Message
	for _, ch := range doc.Channels {
		if ch.Address == topic {
			msg = ch.Messages[0]
		}
	}
	if msg == nil || msg.Key == nil || msg.Key.Avro == nil {
		t.Fatalf("no message with an Avro record key on %s", topic)
	}
	client, so, _ := testkafka.Start(t, topic, 1)
	producer, err := events.NewProducer(client, so, "/services/kinds")
	if err != nil {
		t.Fatal(err)
	}
	value, keySchema := codec.MustSchema(msg.Payload.Avro.Schema), codec.MustSchema(msg.Key.Avro.Schema)
	key, err := events.EncodeKey(ctx, producer, keySchema, "", map[string]any{"tenant": "t1", "id": int64(42)})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{key, "t1/42"} {
		typ := events.Type[map[string]any]{Topic: topic, Schema: value, Key: func(*map[string]any) string { return k }}
		if err := events.Publish(ctx, producer, typ, &map[string]any{"what": "w"}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := verify.Topic(ctx, client, doc, topic, verify.TopicOptions{Idle: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 2 || res.Messages[0].Conforming != 1 || res.Messages[0].NonConforming != 1 {
		t.Fatalf("%d records, counts %+v, findings %v; want one conforming, one not", res.Records, res.Messages, res.Findings)
	}
	if len(res.Findings) != 1 || res.Findings[0].Rule != verify.RuleRecordKey || !strings.Contains(res.Findings[0].Message, "key does not decode with a known version of its schema example.kinds.v1.ShardKey") {
		t.Errorf("findings %v, want one VERIFY_RECORD_KEY naming the key schema", res.Findings)
	}
}
