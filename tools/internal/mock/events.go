package mock

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/codec"
	"github.com/keiyaku/keiyaku/runtime/problem"
	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/subjects"
)

// EventsPath is the path prefix of the mock's event trigger:
// POST /_keiyaku/events/{messageName} publishes one event.
const EventsPath = "/_keiyaku/events/"

// EventMessage is a message a module sends (an AsyncAPI send operation)
// with an Avro payload: what the mock can publish.
type EventMessage struct {
	// Module is the module's name, e.g. "reservation/v1".
	Module string
	// Source is the ce_source of the mock's events: "/services/<service>",
	// as the reference services write it.
	Source string
	// Name is the message name, e.g. "ReservationCreated".
	Name string
	// Type is the ce_type: the Avro full name.
	Type string
	// Topic is the channel address; Partitions its Kafka binding's count
	// (0 when it declares none).
	Topic      string
	Partitions int
	// Schema is the self-contained Avro schema of the payload.
	Schema string
	// KeyField is the payload field the record key carries
	// (x-keiyaku-field of the key schema), empty if none.
	KeyField string
	// KeySchema is the self-contained Avro schema of an Avro record key,
	// empty for other keys: the mock generates a key record and writes it
	// with its schema, as generated publishers do (events.EncodeKey).
	KeySchema string
	// Subject and KeySubject are the Schema Registry subjects of the
	// payload and of an Avro record key (empty for other keys), the ones
	// the breaking gate checks and generated event types carry.
	Subject, KeySubject string
}

// SendMessages lists the messages the modules send, in module and
// document order. A module without an AsyncAPI document sends none.
func SendMessages(ctx context.Context, cfg *config.Config, modules []config.Module) ([]EventMessage, error) {
	var out []EventMessage
	for _, m := range modules {
		file := m.AsyncAPIDoc(cfg.Root)
		if file == "" {
			continue
		}
		doc, err := asyncapi.Load(ctx, cfg.Root, file)
		if err != nil {
			return nil, err
		}
		service := m.Service
		if service == "" {
			service = strings.SplitN(m.Name(), "/", 2)[0]
		}
		for _, op := range doc.Operations {
			if op.Action != asyncapi.Send || op.Channel == nil {
				continue
			}
			for _, msg := range op.Messages {
				if msg.Payload == nil || msg.Payload.Avro == nil || slices.ContainsFunc(out, func(e EventMessage) bool { return e.Type == msg.Payload.Avro.Name && e.Topic == op.Channel.Address }) {
					continue
				}
				e := EventMessage{
					Module: m.Name(), Source: "/services/" + service, Name: msg.Name, Type: msg.Payload.Avro.Name,
					Topic: op.Channel.Address, Schema: msg.Payload.Avro.Schema, KeyField: KeyField(msg.Key),
				}
				if op.Channel.Kafka != nil {
					e.Partitions = op.Channel.Kafka.Partitions
				}
				if msg.Key != nil && msg.Key.Avro != nil {
					e.KeySchema = msg.Key.Avro.Schema
				}
				names := subjects.Of(cfg.Breaking.Avro, m.Path, op.Channel, msg)
				e.Subject, e.KeySubject = names.Value, names.Key
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// KeyField is the payload field a message's key carries: x-keiyaku-field of
// its key schema, empty if none.
func KeyField(s *asyncapi.Schema) string {
	if s == nil || s.JSON == nil {
		return ""
	}
	var k struct {
		Field string `json:"x-keiyaku-field"`
	}
	_ = json.Unmarshal(s.JSON, &k)
	return k.Field
}

// Publisher publishes mock events of [EventMessage]s through producers of
// runtime/events: the record key, the CloudEvents headers, the trace
// context and the Avro encoding are those of the generated publishers. It
// is safe for concurrent use.
type Publisher struct {
	msgs      []EventMessage
	schemas   map[string]*codec.Schema
	keys      map[string]*codec.Schema    // Avro record key schemas, by message type
	producers map[string]*events.Producer // by source
	seed      uint64
	n         atomic.Uint64
	logger    *slog.Logger
}

// NewProducer builds the producer of one source; the command makes it
// on a franz-go client of the broker, with codec and options of its
// choosing.
type NewProducer func(source string) (*events.Producer, error)

// NewPublisher returns a publisher of msgs whose events are produced by
// the producers newProducer makes (one per source). The data of an event
// is generated from its schema, deterministic for seed and the count of
// events published before.
func NewPublisher(msgs []EventMessage, newProducer NewProducer, seed uint64, logger *slog.Logger) (*Publisher, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Publisher{msgs: msgs, schemas: map[string]*codec.Schema{}, keys: map[string]*codec.Schema{}, producers: map[string]*events.Producer{}, seed: seed, logger: logger}
	for _, m := range msgs {
		s, err := codec.NewSchema(m.Schema)
		if err != nil {
			return nil, fmt.Errorf("message %s: %w", m.Name, err)
		}
		p.schemas[m.Type] = s
		if m.KeySchema != "" {
			if p.keys[m.Type], err = codec.NewSchema(m.KeySchema); err != nil {
				return nil, fmt.Errorf("message %s: key schema: %w", m.Name, err)
			}
		}
		if _, ok := p.producers[m.Source]; !ok {
			prod, err := newProducer(m.Source)
			if err != nil {
				return nil, fmt.Errorf("producer of %s: %w", m.Source, err)
			}
			p.producers[m.Source] = prod
		}
	}
	return p, nil
}

// Messages returns the messages the publisher publishes.
func (p *Publisher) Messages() []EventMessage { return slices.Clone(p.msgs) }

// Published describes one event the mock produced.
type Published struct {
	Message   string `json:"message"`
	Type      string `json:"type"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	// Key is the record key; for an Avro record key, the key record in
	// Avro JSON (the record carries it encoded with its schema).
	Key string `json:"key"`
	ID  string `json:"id"`
}

// ErrBadPayload is returned by [Publisher.Publish] for a body that is not
// a JSON object or that does not fit the message's schema.
var ErrBadPayload = errors.New("bad payload")

// ErrUnknownMessage is returned by [Publisher.Publish] for a name that is
// no message the publisher knows.
var ErrUnknownMessage = errors.New("unknown message")

// Publish produces one event of the message name (its name or its Avro
// full name) and waits for the broker. body, when not empty, is a JSON
// object in the Avro JSON encoding whose fields replace the generated
// ones. ctx's trace context is carried; without one a new trace is
// started, so that every event has a traceparent.
func (p *Publisher) Publish(ctx context.Context, name string, body []byte) (Published, error) {
	i := slices.IndexFunc(p.msgs, func(m EventMessage) bool { return m.Name == name || m.Type == name })
	if i < 0 {
		names := make([]string, len(p.msgs))
		for j, m := range p.msgs {
			names[j] = m.Name
		}
		return Published{}, fmt.Errorf("%w %q (messages: %s)", ErrUnknownMessage, name, orNone(names))
	}
	m := p.msgs[i]
	g := NewGenerator(p.seed+p.n.Add(1), false)
	gen, err := g.AvroJSON(m.Schema)
	if err != nil {
		return Published{}, fmt.Errorf("message %s: %w", m.Name, err)
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		var over map[string]any
		if err := json.Unmarshal(body, &over); err != nil {
			return Published{}, fmt.Errorf("message %s: %w: the body must be a JSON object of payload fields: %w", m.Name, ErrBadPayload, err)
		}
		obj, _ := gen.(map[string]any)
		for k, v := range over {
			obj[k] = v
		}
	}
	raw, err := json.Marshal(gen)
	if err != nil {
		return Published{}, err
	}
	schema := p.schemas[m.Type]
	var native any
	if err := schema.Avro().DecodeJSON(raw, &native); err != nil {
		return Published{}, fmt.Errorf("message %s: %w: it does not fit the schema: %w", m.Name, ErrBadPayload, err)
	}
	if !trace.SpanContextFromContext(ctx).IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, newSpanContext())
	}
	prod := p.producers[m.Source]
	recordKey, keyJSON := "", ""
	if ks := p.keys[m.Type]; ks != nil {
		if recordKey, keyJSON, err = p.recordKey(ctx, prod, g, m, ks); err != nil {
			return Published{}, err
		}
	}
	keyOf := func(v *any) string {
		if recordKey != "" {
			return recordKey
		}
		if obj, ok := (*v).(map[string]any); ok && m.KeyField != "" {
			if k, ok := obj[m.KeyField]; ok {
				return fmt.Sprint(k)
			}
		}
		return g.f.UUID()
	}
	rec, err := events.NewRecord(ctx, prod, events.Type[any]{Name: m.Type, Topic: m.Topic, Schema: schema, Subject: m.Subject, Key: keyOf}, &native)
	if err != nil {
		return Published{}, fmt.Errorf("message %s: %w", m.Name, err)
	}
	if err := prod.Send(ctx, rec); err != nil {
		return Published{}, fmt.Errorf("message %s: %w", m.Name, err)
	}
	out := Published{Message: m.Name, Type: m.Type, Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Key: cmp.Or(keyJSON, string(rec.Key))}
	for _, h := range rec.Headers {
		if h.Key == events.HeaderID {
			out.ID = string(h.Value)
		}
	}
	return out, nil
}

// recordKey generates a key record of m's Avro key schema ks and writes it
// with its schema through prod's codec, as generated publishers do; it
// returns the key and the key record in Avro JSON.
func (p *Publisher) recordKey(ctx context.Context, prod *events.Producer, g *Generator, m EventMessage, ks *codec.Schema) (string, string, error) {
	gen, err := g.AvroJSON(m.KeySchema)
	if err != nil {
		return "", "", fmt.Errorf("message %s: key: %w", m.Name, err)
	}
	raw, err := json.Marshal(gen)
	if err != nil {
		return "", "", fmt.Errorf("message %s: key: %w", m.Name, err)
	}
	var native any
	if err := ks.Avro().DecodeJSON(raw, &native); err != nil {
		return "", "", fmt.Errorf("message %s: key: %w", m.Name, err)
	}
	key, err := events.EncodeKey(ctx, prod, ks, m.KeySubject, native)
	if err != nil {
		return "", "", fmt.Errorf("message %s: %w", m.Name, err)
	}
	return key, string(raw), nil
}

// newSpanContext starts a trace for an event published without one.
func newSpanContext() trace.SpanContext {
	var tid trace.TraceID
	var sid trace.SpanID
	_, _ = rand.Read(tid[:])
	_, _ = rand.Read(sid[:])
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true})
}

// Handler serves POST /_keiyaku/events/{messageName}: it publishes one
// event (the request body, optional, overrides payload fields) and
// answers 202 with the [Published] JSON; an unknown message is a 404
// problem, a body that does not fit the schema a 400 problem. The
// request's traceparent, if any, is carried into the event.
func (p *Publisher) Handler() http.Handler {
	prop := propagation.TraceContext{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := strings.CutPrefix(r.URL.Path, EventsPath)
		if !ok || name == "" || strings.Contains(name, "/") {
			problem.Write(w, problem.NotFound("use POST "+EventsPath+"{messageName}"))
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			problem.Write(w, problem.MethodNotAllowed("use POST"))
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			problem.Write(w, problem.BadRequest("the body cannot be read"))
			return
		}
		ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		out, err := p.Publish(ctx, name, body)
		switch {
		case errors.Is(err, ErrUnknownMessage):
			problem.Write(w, problem.NotFound(err.Error()))
			return
		case errors.Is(err, ErrBadPayload):
			problem.Write(w, problem.BadRequest(err.Error()))
			return
		case err != nil:
			problem.Write(w, problem.Unavailable(err.Error()))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(out)
	})
}

// Run publishes one event of every message each interval until ctx is
// done; a failed publish is logged and the next tick tries again.
func (p *Publisher) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("event interval %v: want a positive duration", interval)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for _, m := range p.msgs {
			if out, err := p.Publish(ctx, m.Name, nil); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				p.logger.Warn("mock: publish", slog.String("message", m.Name), slog.Any("error", err))
			} else {
				p.logger.Info("mock: published", slog.String("message", out.Message), slog.String("topic", out.Topic), slog.Int64("offset", out.Offset))
			}
		}
	}
}
