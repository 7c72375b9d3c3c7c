package events_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
)

// UserSignedUp is a JSON event written by hand the way generated code
// writes one from a JSON Schema payload.
type UserSignedUp struct {
	UserID   string    `json:"userId"`
	Email    *string   `json:"email,omitempty"`
	Tags     []string  `json:"tags,omitempty"`
	SignedUp time.Time `json:"signedUp"`
}

func signedUpType(topic string) events.Type[UserSignedUp] {
	return events.Type[UserSignedUp]{
		Name:        "UserSignedUp",
		Topic:       topic,
		ContentType: events.ContentTypeJSON,
		Key:         func(u *UserSignedUp) string { return u.UserID },
	}
}

// TestJSONRoundTrip pins the JSON path: a JSON event type is published as
// the JSON of the event with content-type application/json and neither a
// schema header nor ce_dataschema, next to Avro events on the same topic
// and producer, and the consumer decodes each with its own format.
func TestJSONRoundTrip(t *testing.T) {
	t.Parallel()
	b := newBroker(t, embedded.Topic{Name: orderTopic, Partitions: 1})
	c := memoryCodec(t)
	p := newProducer(t, b, c)
	ctx := t.Context()
	email := "ada@example.com"
	at := time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)
	sent := &UserSignedUp{UserID: "u-1", Email: &email, Tags: []string{"beta"}, SignedUp: at}
	must(t, events.Publish(ctx, p, signedUpType(orderTopic), sent))
	must(t, events.Publish(ctx, p, orderType(orderTopic), &OrderPlaced{OrderID: "o-1", Seq: 1}))

	recs := readAll(t, b, orderTopic, 2)
	jsonRec, avroRec := recs[0], recs[1]
	if got := header(t, jsonRec.Headers, events.HeaderContentType); got != events.ContentTypeJSON {
		t.Errorf("JSON record content-type %q, want %q", got, events.ContentTypeJSON)
	}
	if got := header(t, avroRec.Headers, events.HeaderContentType); got != events.ContentType {
		t.Errorf("Avro record content-type %q, want %q", got, events.ContentType)
	}
	for _, h := range jsonRec.Headers {
		if h.Key == events.HeaderDataSchema {
			t.Errorf("JSON record has %s %q; a JSON value has no writer schema", h.Key, h.Value)
		}
	}
	header(t, avroRec.Headers, events.HeaderDataSchema) // exactly one
	if got := header(t, jsonRec.Headers, events.HeaderType); got != "UserSignedUp" {
		t.Errorf("ce_type %q, want UserSignedUp", got)
	}
	if string(jsonRec.Key) != "u-1" {
		t.Errorf("key %q, want u-1", jsonRec.Key)
	}
	want := `{"userId":"u-1","email":"ada@example.com","tags":["beta"],"signedUp":"2026-03-01T12:30:00Z"}`
	if string(jsonRec.Value) != want {
		t.Errorf("value %s, want %s", jsonRec.Value, want)
	}

	cons, err := events.NewConsumer(consumerClient(t, b, "json", orderTopic), c)
	must(t, err)
	var mu sync.Mutex
	var got []string
	events.Handle(cons, signedUpType(orderTopic), func(_ context.Context, env events.Envelope, evt *UserSignedUp) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, fmt.Sprintf("%s %s %s %v %s", env.Type, evt.UserID, *evt.Email, evt.Tags, evt.SignedUp.Format(time.RFC3339)))
		return nil
	})
	events.Handle(cons, orderType(orderTopic), func(_ context.Context, env events.Envelope, evt *OrderPlaced) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, env.Type+" "+evt.OrderID)
		return nil
	})
	stop := runConsumer(t, cons)
	waitUntil(t, "both records committed", func() bool { return committed(t, b, "json", orderTopic)[0] == 2 })
	must(t, stop())
	wantGot := "[UserSignedUp u-1 ada@example.com [beta] 2026-03-01T12:30:00Z keiyaku.test.v1.OrderPlaced o-1]"
	if fmt.Sprint(got) != wantGot {
		t.Errorf("handled %v, want %s", got, wantGot)
	}
}

// TestJSONPoisonDeadLettered pins that a JSON value that cannot be read —
// not JSON, a field of the wrong type, or a record whose content-type is
// Avro while its ce_type is a JSON event type — goes the way of an Avro
// value that cannot be decoded: to the dead-letter topic with the error,
// without a handler call, and the partition moves on.
func TestJSONPoisonDeadLettered(t *testing.T) {
	t.Parallel()
	const group = "jsonpoison"
	dlqTopic := events.DeadLetterTopic(orderTopic, group)
	b := newBroker(t, embedded.Topic{Name: orderTopic, Partitions: 1}, embedded.Topic{Name: dlqTopic, Partitions: 1})
	c := memoryCodec(t)
	p := newProducer(t, b, c)
	ctx := t.Context()
	typ := signedUpType(orderTopic)

	valid, err := events.NewRecord(ctx, p, typ, &UserSignedUp{UserID: "good"})
	must(t, err)
	withValue := func(value, ctype string) *kgo.Record {
		r, err := events.NewRecord(ctx, p, typ, &UserSignedUp{UserID: "bad"})
		must(t, err)
		r.Value = []byte(value)
		for i, h := range r.Headers {
			if h.Key == events.HeaderContentType {
				r.Headers[i].Value = []byte(ctype)
			}
		}
		return r
	}
	poison := []*kgo.Record{
		withValue(`{"userId": "bad"`, events.ContentTypeJSON),       // truncated
		withValue(`{"userId": 42}`, events.ContentTypeJSON),         // wrong type
		withValue(`{"userId": "bad"} {}`, events.ContentTypeJSON),   // trailing value
		withValue(`{"userId": "bad"}`, events.ContentType),          // Avro content-type
		withValue(`{"userId": "bad"}`, "application/json; charset"), // JSON, with a parameter: handled
	}
	must(t, p.Send(ctx, append(poison, valid)...))

	cons, err := events.NewConsumer(consumerClient(t, b, group, orderTopic), c, fastRetry)
	must(t, err)
	var mu sync.Mutex
	var handled []string
	events.Handle(cons, typ, func(_ context.Context, _ events.Envelope, evt *UserSignedUp) error {
		mu.Lock()
		defer mu.Unlock()
		handled = append(handled, evt.UserID)
		return nil
	})
	stop := runConsumer(t, cons)
	waitUntil(t, "everything committed", func() bool { return committed(t, b, group, orderTopic)[0] == 6 })
	must(t, stop())
	if fmt.Sprint(handled) != "[bad good]" {
		t.Errorf("handled %v, want [bad good] (the poison records never reach the handler)", handled)
	}
	dlq := readAll(t, b, dlqTopic, 4)
	for i, want := range []string{"malformed", "malformed", "malformed", "not a keiyaku event: content-type application/avro"} {
		if got := header(t, dlq[i].Headers, events.HeaderDLQError); !strings.Contains(got, want) {
			t.Errorf("dead letter %d (%s): error %q, want it to contain %q", i, dlq[i].Value, got, want)
		}
	}
}

// TestJSONTypeChecked pins the checks of a JSON event type: it needs a
// Name (its ce_type), has no Avro Schema, and a content type is Avro or
// JSON.
func TestJSONTypeChecked(t *testing.T) {
	t.Parallel()
	b := newBroker(t, embedded.Topic{Name: orderTopic, Partitions: 1})
	p := newProducer(t, b, memoryCodec(t))
	noName := signedUpType(orderTopic)
	noName.Name = ""
	withSchema := signedUpType(orderTopic)
	withSchema.Schema = orderSchemaV1
	xml := signedUpType(orderTopic)
	xml.ContentType = "application/xml"
	for _, tc := range []struct {
		name string
		typ  events.Type[UserSignedUp]
		want string
	}{
		{"no name", noName, "needs a Name"},
		{"schema", withSchema, "has no Avro Schema"},
		{"xml", xml, `content type "application/xml"`},
	} {
		_, err := events.NewRecord(t.Context(), p, tc.typ, &UserSignedUp{UserID: "u"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NewRecord error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}
