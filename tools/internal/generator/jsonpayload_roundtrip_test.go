package generator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/events"
	jsonv1 "github.com/keiyaku/keiyaku/tools/internal/generator/internal/jsonv1"
)

// jsonHandler records the events, record keys and headers the generated
// consumer of testdata/jsonpayload hands it.
type jsonHandler struct {
	mu      sync.Mutex
	got     map[string]any                // by topic
	keys    map[string][]byte             // by topic
	headers map[string][]kgo.RecordHeader // by topic
	ids     map[string]string             // event ids, by topic
	tenant  jsonv1.TenantKey              // the record key of TenantMoved, decoded
	keyErr  error                         // decoding it
	done    chan struct{}
}

func (h *jsonHandler) add(env events.Envelope, evt any) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got[env.Topic] = evt
	h.keys[env.Topic] = env.Key
	h.headers[env.Topic] = env.Headers
	h.ids[env.Topic] = env.ID
	if len(h.got) == len(jsonv1.ReceivedTopics) {
		close(h.done)
	}
	return nil
}

func (h *jsonHandler) OnSignedUp(_ context.Context, env events.Envelope, evt *jsonv1.UserSignedUp) error {
	return h.add(env, evt)
}

func (h *jsonHandler) OnProfile(_ context.Context, env events.Envelope, evt *jsonv1.ProfileUpdated) error {
	return h.add(env, evt)
}

func (h *jsonHandler) OnAudit(_ context.Context, env events.Envelope, evt *jsonv1.AuditEntry) error {
	return h.add(env, evt)
}

func (h *jsonHandler) OnCounter(_ context.Context, env events.Envelope, evt *jsonv1.CounterBumped) error {
	return h.add(env, evt)
}

func (h *jsonHandler) OnSession(_ context.Context, env events.Envelope, evt *jsonv1.Session) error {
	return h.add(env, evt)
}

func (h *jsonHandler) OnSessionEnded(_ context.Context, env events.Envelope, evt *jsonv1.Session) error {
	return h.add(env, evt)
}

func (h *jsonHandler) OnTenant(ctx context.Context, env events.Envelope, evt *jsonv1.TenantMoved) error {
	h.mu.Lock()
	h.keyErr = env.DecodeKey(ctx, jsonv1.TenantKeySchema, &h.tenant)
	h.mu.Unlock()
	return h.add(env, evt)
}

func (h *jsonHandler) OnPing(_ context.Context, env events.Envelope, evt *jsonv1.Ping) error {
	return h.add(env, evt)
}

// TestJSONPayloadRoundTrip publishes an event of every message of
// testdata/jsonpayload through the embedded broker with the generated
// publisher and reads it back with the generated consumer: the JSON
// payloads (nested objects, enums, arrays, date-time, a $ref'd file, an
// allOf, a oneOf kept raw, a map, a string payload, one payload schema of
// two messages) arrive intact, as JSON
// with content-type application/json, and the record keys are the payload
// property (required, and optional), the event id header, the string, the
// big-endian int, the Avro record (single-object encoded) and none.
func TestJSONPayloadRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	producer, consumer, _ := roundTripClients(t, jsonv1.TopicPartitions, "/services/accounts", jsonv1.ConsumerGroup, jsonv1.ReceivedTopics)
	h := &jsonHandler{got: map[string]any{}, keys: map[string][]byte{}, headers: map[string][]kgo.RecordHeader{}, ids: map[string]string{}, done: make(chan struct{})}
	jsonv1.RegisterEventHandler(consumer, h)
	runCtx, stop := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- consumer.Run(runCtx) }()

	pub := jsonv1.NewPublisher(producer)
	str := func(s string) *string { return &s }
	at := time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC)
	kind := jsonv1.UserSignedUpDevicesItemKindLaptop
	signed := &jsonv1.UserSignedUp{
		UserID: "u-1", Email: "ada@example.com", SignedUpAt: at, Plan: jsonv1.UserSignedUpPlanPro,
		Tags:     []string{"a", "b"},
		Devices:  []jsonv1.UserSignedUpDevicesItem{{ID: "d-1", Kind: &kind}, {ID: "d-2"}},
		Address:  &jsonv1.Address{City: "Kyoto", PostalCode: str("600-8216")},
		Referrer: &jsonv1.Named{Name: str("Grace")},
	}
	profile := &jsonv1.ProfileUpdated{Version: 3, UserID: str("u-1"), Name: str("Ada"), Attributes: map[string]float64{"height": 1.7}}
	audit := &jsonv1.AuditEntry{Action: "login", At: at, Detail: json.RawMessage(`{"code":7}`)}
	session := &jsonv1.Session{SessionID: "s-1", StartedAt: &at, Extra: map[string]any{"ip": "127.0.0.1"}}
	ended := &jsonv1.Session{SessionID: "s-0"}
	moved := &jsonv1.TenantMoved{From: str("eu"), To: str("us")}
	ping := jsonv1.Ping("hello")
	tenant := &jsonv1.TenantKey{Tenant: "t1", Region: "eu"}
	for _, publish := range []func() error{
		func() error { return pub.PublishUserSignedUp(ctx, signed) },
		func() error { return pub.PublishProfileUpdated(ctx, profile) },
		func() error { return pub.PublishAuditEntry(ctx, audit) },
		func() error { return pub.PublishCounterBumped(ctx, 258, &jsonv1.CounterBumped{Counter: 9}) },
		func() error { return pub.PublishSessionStarted(ctx, "k-1", session) },
		func() error { return pub.PublishSessionEnded(ctx, ended) },
		func() error { return pub.PublishTenantMoved(ctx, tenant, moved) },
		func() error { return pub.PublishPing(ctx, &ping) },
	} {
		if err := publish(); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-h.done:
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	stop()
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	for topic, want := range map[string]any{
		"accounts.user-signed-up.v1":  signed,
		"accounts.profile-updated.v1": profile,
		"accounts.audit.v1":           audit,
		"accounts.counters.v1":        &jsonv1.CounterBumped{Counter: 9},
		"accounts.sessions.v1":        session,
		"accounts.sessions-ended.v1":  ended,
		"accounts.tenants.v1":         moved,
		"accounts.pings.v1":           &ping,
	} {
		if got := h.got[topic]; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, want %+v", topic, got, want)
		}
		var ctype string
		for _, hd := range h.headers[topic] {
			switch hd.Key {
			case events.HeaderContentType:
				ctype = string(hd.Value)
			case events.HeaderDataSchema:
				t.Errorf("%s: a JSON record has %s %q", topic, hd.Key, hd.Value)
			}
		}
		if ctype != events.ContentTypeJSON {
			t.Errorf("%s: content-type %q, want %q", topic, ctype, events.ContentTypeJSON)
		}
	}
	if h.keyErr != nil || h.tenant != *tenant {
		t.Errorf("accounts.tenants.v1: the record key decodes to %+v, %v; want %+v", h.tenant, h.keyErr, *tenant)
	}
	for topic, want := range map[string][]byte{
		"accounts.user-signed-up.v1":  []byte("u-1"),
		"accounts.profile-updated.v1": []byte("u-1"),
		"accounts.audit.v1":           []byte(h.ids["accounts.audit.v1"]),
		"accounts.counters.v1":        {0, 0, 1, 2},
		"accounts.sessions.v1":        []byte("k-1"),
	} {
		if len(want) == 0 || !bytes.Equal(h.keys[topic], want) {
			t.Errorf("%s: key % x, want % x", topic, h.keys[topic], want)
		}
	}
	// One payload schema, two events: each its own ce_type.
	for topic, want := range map[string]string{"accounts.sessions.v1": "SessionStarted", "accounts.sessions-ended.v1": "SessionEnded"} {
		for _, hd := range h.headers[topic] {
			if hd.Key == events.HeaderType && string(hd.Value) != want {
				t.Errorf("%s: ce_type %q, want %q", topic, hd.Value, want)
			}
		}
	}
	if k := h.keys["accounts.pings.v1"]; k != nil {
		t.Errorf("ping record has key %q, want a null key", k)
	}
}
