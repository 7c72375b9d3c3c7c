//go:build peers

package peers_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/avro"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	memberv1 "github.com/keiyaku/keiyaku/gen/member/v1"
	reservationv1 "github.com/keiyaku/keiyaku/gen/reservation/v1"
	"github.com/keiyaku/keiyaku/runtime/app/apptest"
	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/codec"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
)

// waitTimeout bounds the waits on the broker and the consumer.
const waitTimeout = time.Minute

// eventsTopic is the topic of the reservation events.
var eventsTopic = reservationv1.ReservationCreatedEvent.Topic

// startBroker starts the embedded broker with the reservation topics on a
// loopback port, closed when t ends, and returns its address.
func startBroker(t *testing.T) string {
	t.Helper()
	var topics []embedded.Topic
	for name, n := range reservationv1.TopicPartitions {
		topics = append(topics, embedded.Topic{Name: name, Partitions: n})
	}
	b, err := embedded.Start(t.Context(), embedded.WithTopics(topics...))
	if err != nil {
		t.Fatalf("start the embedded broker: %v", err)
	}
	t.Cleanup(b.Close)
	return b.Addrs()[0]
}

// singleObject returns a single-object codec over an in-memory schema
// store.
func singleObject(t *testing.T) codec.Codec {
	t.Helper()
	c, err := codec.NewSingleObject(codec.NewMemoryStore())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// created returns a ReservationCreated event of reservation id.
func created(id string) *reservationv1.ReservationCreated {
	return &reservationv1.ReservationCreated{
		ReservationID: id,
		MemberID:      "3f0b9a4e-5c1d-4b7a-9e2f-1a2b3c4d5e6f",
		RoomID:        "6f5e4d3c-2b1a-4f9e-8d7c-6b5a4e3d2c1b",
		CheckIn:       time.Date(2027, 1, 10, 0, 0, 0, 0, time.UTC),
		CheckOut:      time.Date(2027, 1, 12, 0, 0, 0, 0, time.UTC),
		Guests:        2,
		TotalPrice:    reservationv1.Money{Amount: big.NewRat(36000, 100), Currency: "JPY"},
		CreatedAt:     time.UnixMilli(1_790_000_000_123).UTC(),
	}
}

// consumed is one record kcat read: `-f '%k\n%h\n%S\n%s'`.
type consumed struct {
	key     string
	headers map[string]string
	value   []byte
}

// kcatConsume reads the first n records of topic with kcat and parses
// the output of its format string, record after record: key, headers
// (name=value, comma separated), value length, value.
func kcatConsume(t *testing.T, kcat, addr, topic string, n int) []consumed {
	t.Helper()
	out, stderr, err := run(t, nil, nil, kcat, "-C", "-b", addr, "-t", topic, "-o", "beginning", "-c", strconv.Itoa(n), "-e",
		"-f", `%k\n%h\n%S\n%s`)
	if err != nil {
		t.Fatalf("kcat -C -t %s: %v\n%s", topic, err, stderr)
	}
	var recs []consumed
	for len(out) > 0 {
		parts := bytes.SplitN(out, []byte("\n"), 4)
		if len(parts) != 4 {
			t.Fatalf("kcat -C -t %s: want key, headers, length and value lines, got %q (stderr: %s)", topic, out, stderr)
		}
		size, err := strconv.Atoi(string(parts[2]))
		if err != nil || size < 0 || size > len(parts[3]) {
			t.Fatalf("kcat -C -t %s: value length %q, %d bytes left", topic, parts[2], len(parts[3]))
		}
		recs = append(recs, consumed{key: string(parts[0]), headers: parseHeaders(t, string(parts[1])), value: parts[3][:size]})
		out = parts[3][size:]
	}
	if len(recs) != n {
		t.Fatalf("kcat -C -t %s -c %d: read %d records (stderr: %s)", topic, n, len(recs), stderr)
	}
	return recs
}

// parseHeaders parses kcat's %h. It joins name=value pairs with commas and
// does not escape a comma in a value (the dead-letter error has some): a
// piece that does not start with a header name and "=" continues the
// previous value.
func parseHeaders(t *testing.T, s string) map[string]string {
	t.Helper()
	headers := map[string]string{}
	if s == "" {
		return headers
	}
	var last string
	for _, piece := range strings.Split(s, ",") {
		if m := headerStart.FindStringSubmatch(piece); m != nil {
			if _, dup := headers[m[1]]; dup {
				t.Fatalf("kcat headers %q: %s appears twice", s, m[1])
			}
			last = m[1]
			headers[last] = piece[len(m[0]):]
			continue
		}
		if last == "" {
			t.Fatalf("kcat headers %q do not start with name=value", s)
		}
		headers[last] += "," + piece
	}
	return headers
}

// headerStart matches the start of a name=value pair of kcat's %h.
var headerStart = regexp.MustCompile(`^([A-Za-z0-9_.-]+)=`)

// TestKcatReadsPublishedEvent pins the wire format of an event (DESIGN.md,
// "Wire format of an event") as librdkafka sees it: the generated publisher
// writes ReservationCreated to the embedded broker, and kcat reads the
// aggregate id as key, every CloudEvents binary-mode header and
// traceparent, and a value that starts with C3 01 and the CRC-64-AVRO
// fingerprint of the writer schema, little-endian.
func TestKcatReadsPublishedEvent(t *testing.T) {
	kcat := tool(t, "kcat", "kcat")
	t.Logf("kcat: %s", version(t, kcat, "-V"))
	addr := startBroker(t)

	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, events.ProducerClientOptions()...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	p, err := events.NewProducer(cl, singleObject(t), "/services/reservation",
		events.WithTracerProvider(tp), events.WithPropagator(propagation.TraceContext{}))
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.NewString()
	ctx, span := tp.Tracer("peers").Start(t.Context(), "book")
	err = reservationv1.NewPublisher(p).PublishReservationCreated(ctx, created(id))
	span.End()
	if err != nil {
		t.Fatalf("publish: %v", err)
	}

	got := kcatConsume(t, kcat, addr, eventsTopic, 1)[0]
	t.Logf("kcat read key %s, headers %v, %d value bytes", got.key, got.headers, len(got.value))
	if got.key != id {
		t.Errorf("key = %q, want the reservation id %q", got.key, id)
	}
	want := map[string]func(string) error{
		events.HeaderSpecVersion: equals("1.0"),
		events.HeaderID:          isUUID,
		events.HeaderType:        equals(reservationv1.ReservationCreatedEvent.Name),
		events.HeaderSource:      equals("/services/reservation"),
		events.HeaderTime:        isRFC3339,
		events.HeaderDataSchema:  nonEmpty,
		events.HeaderContentType: equals("application/avro"),
		"traceparent":            equals(fmt.Sprintf("00-%s-", span.SpanContext().TraceID())),
	}
	for name, check := range want {
		v, ok := got.headers[name]
		if !ok {
			t.Errorf("header %s missing", name)
			continue
		}
		if err := check(v); err != nil {
			t.Errorf("header %s = %q: %v", name, v, err)
		}
	}

	// The fingerprint as twmb/avro computes it from the contract's schema,
	// not from our codec.
	schema, err := avro.Parse(reservationv1.ReservationCreatedSchemaJSON)
	if err != nil {
		t.Fatal(err)
	}
	h := avro.NewRabin()
	schema.Fingerprint(h)
	header := []byte{0xC3, 0x01}
	header = binary.LittleEndian.AppendUint64(header, h.Sum64())
	if !bytes.HasPrefix(got.value, header) {
		t.Fatalf("value starts with % X, want C3 01 + CRC-64-AVRO fingerprint % X", got.value[:min(10, len(got.value))], header)
	}
	var back reservationv1.ReservationCreated
	if _, err := schema.Decode(got.value[len(header):], &back); err != nil {
		t.Fatalf("decode the value kcat read with the contract schema: %v", err)
	}
	if back.ReservationID != id || back.Guests != 2 || back.TotalPrice.Amount.Cmp(big.NewRat(360, 1)) != 0 {
		t.Errorf("value decodes to %+v", back)
	}
}

// equals checks that a header value is want, or starts with want when want
// ends in "-" (a traceparent's version and trace id).
func equals(want string) func(string) error {
	return func(v string) error {
		if v == want || (strings.HasSuffix(want, "-") && strings.HasPrefix(v, want)) {
			return nil
		}
		return fmt.Errorf("want %q", want)
	}
}

func isUUID(v string) error { _, err := uuid.Parse(v); return err }

func isRFC3339(v string) error { _, err := time.Parse(time.RFC3339Nano, v); return err }

func nonEmpty(v string) error {
	if v == "" {
		return fmt.Errorf("empty")
	}
	return nil
}

// history is the generated member consumer's EventHandler of the test: it
// records the ReservationCreated events it is handed.
type history struct {
	mu   sync.Mutex
	seen []handled
}

type handled struct {
	env     events.Envelope
	evt     memberv1.ReservationCreated
	traceID trace.TraceID
}

func (h *history) OnReservationCreated(ctx context.Context, env events.Envelope, evt *memberv1.ReservationCreated) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	env.Headers = nil // shared with the consumer
	h.seen = append(h.seen, handled{env: env, evt: *evt, traceID: trace.SpanContextFromContext(ctx).TraceID()})
	return nil
}

func (h *history) OnReservationCancelled(context.Context, events.Envelope, *memberv1.ReservationCancelled) error {
	return nil
}

func (h *history) handled() []handled {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.seen)
}

// kcatProduce produces the file at path as one record (kcat sends a file
// named without -l whole, so binary values keep every byte) with key and
// headers.
func kcatProduce(t *testing.T, kcat, addr, key string, headers []string, path string) {
	t.Helper()
	args := []string{"-P", "-b", addr, "-t", eventsTopic, "-k", key}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	if _, stderr, err := run(t, nil, nil, kcat, append(args, path)...); err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, stderr)
	}
}

// TestGeneratedConsumerReadsKcatRecords pins the other direction: records
// that kcat produces — an event whose value the codec wrote and whose
// CloudEvents headers and traceparent kcat sets — reach the generated
// member consumer with their id, key, data and trace; and records that are
// not events — garbage behind valid headers, plain text without headers —
// go to the dead-letter topic with the error in their headers while the
// consumer goes on to the next event.
func TestGeneratedConsumerReadsKcatRecords(t *testing.T) {
	kcat := tool(t, "kcat", "kcat")
	t.Logf("kcat: %s", version(t, kcat, "-V"))
	addr := startBroker(t)
	c := singleObject(t)
	dir := t.TempDir()

	// Four records of one key (one partition, handled in order): an event;
	// garbage behind valid CloudEvents headers; a plain text record without
	// headers, as `echo … | kcat -P` sends; an event.
	key := uuid.NewString()
	traceID := "4bf92f3577b34da6a3ce929d0e0e4736"
	garbage, plain := []byte("\x00not avro at all\n\xff"), []byte("hello, kcat")
	var ids []string
	for i, name := range []string{"first", "garbage", "plain", "second"} {
		value, headers := garbage, []string(nil)
		id := uuid.NewString()
		switch name {
		case "plain":
			value, id = plain, ""
		case "first", "second":
			v, err := c.Encode(t.Context(), nil, reservationv1.ReservationCreatedSchema, created(key))
			if err != nil {
				t.Fatal(err)
			}
			value = v
		}
		if id != "" {
			headers = []string{
				"ce_specversion=1.0",
				"ce_id=" + id,
				"ce_type=" + reservationv1.ReservationCreatedEvent.Name,
				"ce_source=/tools/kcat",
				"ce_time=" + time.Date(2026, 12, 6, 8, 0, i, 0, time.UTC).Format(time.RFC3339),
				"content-type=application/avro",
				fmt.Sprintf("traceparent=00-%s-00f067aa0ba902b%d-01", traceID, i),
			}
		}
		path := filepath.Join(dir, name+".bin")
		if err := os.WriteFile(path, value, 0o600); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		kcatProduce(t, kcat, addr, key, headers, path)
	}

	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)},
		events.ConsumerClientOptions(memberv1.ConsumerGroup, memberv1.ReceivedTopics...)...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.CloseAllowingRebalance)
	cons, err := events.NewConsumer(cl, c, events.WithTracerProvider(tp), events.WithPropagator(propagation.TraceContext{}),
		events.WithRetryBackoff(time.Millisecond, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	h := &history{}
	memberv1.RegisterEventHandler(cons, h)
	ctx, cancel := context.WithCancel(t.Context())
	runErr := make(chan error, 1)
	go func() { runErr <- cons.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("consumer Run: %v", err)
		}
	})

	apptest.Wait(t, waitTimeout, "the consumer to handle both events", func() (bool, error) {
		select {
		case err := <-runErr:
			return false, fmt.Errorf("consumer stopped: %v", err)
		default:
		}
		return len(h.handled()) >= 2, nil
	})
	got := h.handled()
	if len(got) != 2 || got[0].env.ID != ids[0] || got[1].env.ID != ids[3] {
		t.Fatalf("handled %d events, want the ids %s and %s in order: %+v", len(got), ids[0], ids[3], got)
	}
	for _, g := range got {
		if string(g.env.Key) != key || g.env.Source != "/tools/kcat" || g.env.Time.IsZero() {
			t.Errorf("envelope %+v: want key %s, source /tools/kcat and a time", g.env, key)
		}
		if g.evt.ReservationID != key || g.evt.Guests != 2 || g.evt.TotalPrice.Amount.Cmp(big.NewRat(360, 1)) != 0 || g.evt.TotalPrice.Currency != "JPY" {
			t.Errorf("event %+v: not what the codec wrote", g.evt)
		}
		if g.traceID.String() != traceID {
			t.Errorf("handler's trace id %s, want the traceparent's %s", g.traceID, traceID)
		}
	}

	// The garbage and the plain record were dead-lettered before the second
	// event was handled (one partition is handled in order): kcat reads
	// them there, with where they came from and why.
	dlq := kcatConsume(t, kcat, addr, events.DeadLetterTopic(eventsTopic, memberv1.ConsumerGroup), 2)
	for i, want := range []struct {
		id     string
		value  []byte
		offset string
	}{{ids[1], garbage, "1"}, {ids[2], plain, "2"}} {
		d := dlq[i]
		t.Logf("dead-letter record %d: key %s, headers %v", i, d.key, d.headers)
		if d.key != key || d.headers[events.HeaderID] != want.id || !bytes.Equal(d.value, want.value) {
			t.Errorf("dead-letter record %d: key %q, ce_id %q, value %q; want key %s, ce_id %q, value %q",
				i, d.key, d.headers[events.HeaderID], d.value, key, want.id, want.value)
		}
		if d.headers[events.HeaderDLQError] == "" || d.headers[events.HeaderDLQTopic] != eventsTopic || d.headers[events.HeaderDLQOffset] != want.offset {
			t.Errorf("dead-letter record %d headers %v: want %s, %s=%s and %s=%s",
				i, d.headers, events.HeaderDLQError, events.HeaderDLQTopic, eventsTopic, events.HeaderDLQOffset, want.offset)
		}
	}
}
