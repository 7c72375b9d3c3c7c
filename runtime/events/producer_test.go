package events_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/codec"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
)

// TestNewProducerRejectsBadInput pins NewProducer's checks: a client that
// could lose or duplicate records (acks below all, idempotency off), and
// missing or bad arguments, are errors naming the problem.
func TestNewProducerRejectsBadInput(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	good := newClient(t, b, events.ProducerClientOptions()...)
	c := memoryCodec(t)
	tests := []struct {
		name   string
		client *kgo.Client
		codec  codec.Codec
		source string
		opts   []events.ProducerOption
		want   string
	}{
		{"nil client", nil, c, "/s", nil, "nil client"},
		{"nil codec", good, nil, "/s", nil, "nil codec"},
		{"empty source", good, c, "", nil, "empty source"},
		{"bad source", good, c, "%zz", nil, "source"},
		{"leader acks", newClient(t, b, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()), c, "/s", nil, "AllISRAcks"},
		{"no idempotency", newClient(t, b, kgo.DisableIdempotentWrite()), c, "/s", nil, "idempotent"},
		{"nil option", good, c, "/s", []events.ProducerOption{nil}, "nil option"},
		{"nil logger", good, c, "/s", []events.ProducerOption{events.WithLogger(nil)}, "nil logger"},
		{"nil tracer", good, c, "/s", []events.ProducerOption{events.WithTracerProvider(nil)}, "nil tracer provider"},
		{"nil propagator", good, c, "/s", []events.ProducerOption{events.WithPropagator(nil)}, "nil propagator"},
		{"nil meter", good, c, "/s", []events.ProducerOption{events.WithMeterProvider(nil)}, "nil meter provider"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := events.NewProducer(tt.client, tt.codec, tt.source, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewProducer error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestPublishRejectsBadType pins that a malformed Type or a nil event is an
// error before anything is produced, never a panic.
func TestPublishRejectsBadType(t *testing.T) {
	t.Parallel()
	b := newBroker(t, embedded.Topic{Name: orderTopic, Partitions: 1})
	p := newProducer(t, b, memoryCodec(t))
	ok := orderType(orderTopic)
	noSchema, wrongName, noTopic, noKey := ok, ok, ok, ok
	noSchema.Schema = nil
	wrongName.Name = "keiyaku.test.v1.Other"
	noTopic.Topic = ""
	noKey.Key = nil
	tests := []struct {
		name string
		typ  events.Type[OrderPlaced]
		evt  *OrderPlaced
		want string
	}{
		{"nil schema", noSchema, &OrderPlaced{}, "nil Schema"},
		{"name differs from schema", wrongName, &OrderPlaced{}, `schema is "keiyaku.test.v1.OrderPlaced"`},
		{"no topic", noTopic, &OrderPlaced{}, "empty Topic"},
		{"no key", noKey, &OrderPlaced{}, "nil Key"},
		{"nil event", ok, nil, "nil event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := events.Publish(t.Context(), p, tt.typ, tt.evt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Publish error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if got := endOffsets(t, b, orderTopic)[0]; got != 0 {
		t.Fatalf("%d records produced by failed Publish calls, want 0", got)
	}
}

// TestPublishSurfacesBrokerErrors pins that Publish is synchronous: the
// broker's refusal (a topic that does not exist) and a cancelled context
// come back to the caller as errors.
func TestPublishSurfacesBrokerErrors(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	p := newProducer(t, b, memoryCodec(t))

	err := events.Publish(t.Context(), p, orderType("missing"), &OrderPlaced{OrderID: "x"})
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("Publish to a missing topic = %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = events.Publish(ctx, p, orderType("missing-too"), &OrderPlaced{OrderID: "x"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Publish with a cancelled context = %v, want context.Canceled", err)
	}
}

// TestSendReportsEachFailure pins Send's error: records that failed are
// named by event id in the joined error, and acknowledged ones are not.
func TestSendReportsEachFailure(t *testing.T) {
	t.Parallel()
	b := newBroker(t, embedded.Topic{Name: orderTopic, Partitions: 1})
	p := newProducer(t, b, memoryCodec(t))
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	okRec, err := events.NewRecord(ctx, p, orderType(orderTopic), &OrderPlaced{OrderID: "ok"})
	must(t, err)
	badRec, err := events.NewRecord(ctx, p, orderType("nowhere"), &OrderPlaced{OrderID: "bad"})
	must(t, err)
	err = p.Send(ctx, okRec, badRec)
	if err == nil {
		t.Fatal("Send succeeded, want an error for the record to a missing topic")
	}
	badID := header(t, badRec.Headers, events.HeaderID)
	okID := header(t, okRec.Headers, events.HeaderID)
	if !strings.Contains(err.Error(), badID) || strings.Contains(err.Error(), okID) {
		t.Errorf("Send error %q should name %s and not %s", err, badID, okID)
	}
	if got := endOffsets(t, b, orderTopic)[0]; got != 1 {
		t.Errorf("%d records on %s, want the 1 good one", got, orderTopic)
	}
	if err := p.Send(ctx, nil); err == nil {
		t.Error("Send(nil record) succeeded, want an error")
	}
}

// TestPublishBatch pins the batched publish: every event of the batch
// reaches the topic once, under its own event id, in order per key across
// partitions, decodable with the reader schema; an event that cannot be
// encoded (nil) fails the whole batch before anything is produced.
func TestPublishBatch(t *testing.T) {
	t.Parallel()
	b := newBroker(t, embedded.Topic{Name: orderTopic, Partitions: 3}, embedded.Topic{Name: "untouched", Partitions: 1})
	c := memoryCodec(t)
	p := newProducer(t, b, c)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	const n, keys = 60, 7
	evts := make([]*OrderPlaced, n)
	for i := range evts {
		evts[i] = &OrderPlaced{OrderID: fmt.Sprint("order-", i%keys), Seq: int64(i), Amount: int64(100 * i)}
	}
	must(t, events.PublishBatch(ctx, p, orderType(orderTopic), evts))

	recs := readAll(t, b, orderTopic, n)
	if len(recs) != n {
		t.Fatalf("%d records, want %d", len(recs), n)
	}
	ids := map[string]bool{}
	lastSeq := map[string]int64{}
	for _, r := range recs {
		ids[header(t, r.Headers, events.HeaderID)] = true
		var got OrderPlaced
		if err := c.Decode(ctx, r.Value, orderType(orderTopic).Schema, &got); err != nil {
			t.Fatalf("decode offset %d: %v", r.Offset, err)
		}
		if got.OrderID != string(r.Key) || got.Amount != 100*got.Seq {
			t.Errorf("record key %q holds %+v", r.Key, got)
		}
		if last, ok := lastSeq[got.OrderID]; ok && got.Seq <= last {
			t.Errorf("key %s: seq %d after %d", got.OrderID, got.Seq, last)
		}
		lastSeq[got.OrderID] = got.Seq
	}
	if len(ids) != n {
		t.Errorf("%d distinct event ids for %d events", len(ids), n)
	}

	err := events.PublishBatch(ctx, p, orderType("untouched"), []*OrderPlaced{{OrderID: "a"}, nil})
	if err == nil || !strings.Contains(err.Error(), "event 1") {
		t.Errorf("PublishBatch with a nil event = %v, want an error naming event 1", err)
	}
	if got := endOffsets(t, b, "untouched")[0]; got != 0 {
		t.Errorf("%d records produced by a failed batch, want 0", got)
	}
	must(t, events.PublishBatch[OrderPlaced](ctx, p, orderType("untouched"), nil))
}
