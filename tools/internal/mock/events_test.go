package mock_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/propagation"

	reservationv1 "github.com/keiyaku/keiyaku/gen/reservation/v1"
	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/mock"
	"github.com/keiyaku/keiyaku/tools/internal/testkafka"
	"github.com/keiyaku/keiyaku/tools/internal/verify"
)

// TestMockEvents: the events the mock publishes for the reservation
// module's send operations — on request, with a body overriding a field —
// conform to the contract (keiyaku verify --topic finds nothing), and a
// consumer built on the generated types decodes them.
func TestMockEvents(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cfg, err := config.Load(filepath.Join("..", "..", "..", config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	mods, err := mock.Select(cfg, []string{"reservation", "member"})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := mock.SendMessages(ctx, cfg, mods)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].Name != "ReservationCreated" || msgs[1].Name != "ReservationCancelled" || msgs[0].KeyField != "reservationId" {
		t.Fatalf("send messages %+v, want the reservation events (member sends none)", msgs)
	}
	client, so, opts := testkafka.Start(t, msgs[0].Topic, 3)
	pub, err := mock.NewPublisher(msgs, func(source string) (*events.Producer, error) {
		return events.NewProducer(client, so, source, events.WithPropagator(propagation.TraceContext{}))
	}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(pub.Handler())
	t.Cleanup(srv.Close)

	post := func(name, body string, header ...string) (int, map[string]any) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+mock.EventsPath+name, strings.NewReader(body))
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	code, created := post("ReservationCreated", `{"reservationId":"9c8b7a6d-5e4f-4321-8fed-cba987654321","guests":3}`, "traceparent", traceparent)
	if code != http.StatusAccepted || created["key"] != "9c8b7a6d-5e4f-4321-8fed-cba987654321" {
		t.Fatalf("publish: %d %v", code, created)
	}
	if code, out := post("hotel.reservation.v1.ReservationCancelled", ""); code != http.StatusAccepted {
		t.Fatalf("publish by type: %d %v", code, out)
	}
	if code, out := post("Nope", ""); code != http.StatusNotFound || !strings.Contains(out["detail"].(string), "messages: ReservationCreated, ReservationCancelled") {
		t.Errorf("unknown message: %d %v", code, out)
	}
	if code, out := post("ReservationCreated", `{"guests":"many"}`); code != http.StatusBadRequest {
		t.Errorf("a body that breaks the schema: %d %v", code, out)
	}

	// The contract holds for what the mock published.
	doc, err := asyncapi.Load(ctx, cfg.Root, "contracts/reservation/v1/asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	reader, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reader.Close)
	res, err := verify.Topic(ctx, reader, doc, msgs[0].Topic, verify.TopicOptions{Idle: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 2 || len(res.Findings) != 0 {
		t.Fatalf("%d records, findings %v", res.Records, res.Findings)
	}

	// The generated consumer types read it, with the overridden field and
	// the caller's trace.
	consume, err := kgo.NewClient(append(opts, kgo.ConsumeTopics(msgs[0].Topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(consume.Close)
	fetches := consume.PollRecords(ctx, 10)
	var seen bool
	fetches.EachRecord(func(r *kgo.Record) {
		if string(r.Key) != created["key"] {
			return
		}
		var evt reservationv1.ReservationCreated
		if err := so.Decode(ctx, r.Value, reservationv1.ReservationCreatedSchema, &evt); err != nil {
			t.Fatal(err)
		}
		seen = evt.Guests == 3 && evt.ReservationID == created["key"]
		for _, h := range r.Headers {
			if h.Key == "traceparent" && !strings.HasPrefix(string(h.Value), "00-4bf92f3577b34da6a3ce929d0e0e4736-") {
				t.Errorf("traceparent %s, want the caller's trace", h.Value)
			}
		}
	})
	if !seen {
		t.Errorf("the created event with 3 guests was not read back")
	}
}

// TestMockRecordKey: for a message whose Kafka key is an Avro record, the
// mock generates a key record and writes it with its schema, as generated
// publishers do, so keiyaku verify --topic finds the record conforming
// (it decodes the key with the key schema), and Published.Key holds the
// key record in Avro JSON.
func TestMockRecordKey(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cfg, err := config.Load(filepath.Join("..", "generator", "testdata", "kinds", config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	all, err := mock.SendMessages(ctx, cfg, cfg.Modules)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []mock.EventMessage
	for _, m := range all {
		if m.Name == "RecordKeyed" {
			msgs = append(msgs, m)
		}
	}
	if len(msgs) != 1 || !strings.Contains(msgs[0].KeySchema, `"ShardKey"`) {
		t.Fatalf("send messages %+v, want RecordKeyed with its ShardKey key schema", msgs)
	}
	client, so, _ := testkafka.Start(t, msgs[0].Topic, 1)
	pub, err := mock.NewPublisher(msgs, func(source string) (*events.Producer, error) {
		return events.NewProducer(client, so, source)
	}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	published, err := pub.Publish(ctx, "RecordKeyed", nil)
	if err != nil {
		t.Fatal(err)
	}
	var key struct {
		Tenant string `json:"tenant"`
		ID     *int64 `json:"id"`
	}
	if err := json.Unmarshal([]byte(published.Key), &key); err != nil || key.Tenant == "" || key.ID == nil {
		t.Errorf("published key %q, want the ShardKey record in Avro JSON (%v)", published.Key, err)
	}
	doc, err := asyncapi.Load(ctx, cfg.Root, "contracts/kinds/v1/asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := verify.Topic(ctx, client, doc, msgs[0].Topic, verify.TopicOptions{Idle: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 1 || len(res.Findings) != 0 {
		t.Fatalf("%d records, findings %v; want one conforming record", res.Records, res.Findings)
	}
}
