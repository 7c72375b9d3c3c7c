package events

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/keiyaku/keiyaku/runtime/events/codec"
	"github.com/keiyaku/keiyaku/runtime/events/internal/bysubject"
)

// instrumentation is the name of this package's tracer and meter.
const instrumentation = "github.com/keiyaku/keiyaku/runtime/events"

// Type describes one event type. Generated code declares one per message
// payload of a contract (an Avro record or a JSON Schema); a Type is a
// plain value, safe to copy and share.
type Type[T any] struct {
	// Name is the ce_type of the event. For Avro it is the record's full
	// name, e.g. "hotel.reservation.v1.ReservationCreated"; empty means
	// Schema.FullName(). A JSON event type must set it (generated code
	// writes the AsyncAPI message's name).
	Name string
	// Topic is the Kafka topic, the AsyncAPI channel address.
	Topic string
	// Schema is the Avro schema this build was generated from: the writer
	// schema on produce, the reader schema on consume. A JSON event type
	// has none.
	Schema *codec.Schema
	// ContentType is the format of the event's values, the record's
	// content-type header (the CloudEvents datacontenttype): empty or
	// [ContentType] for Avro, written and read with the codec of the
	// Producer or Consumer and Schema; [ContentTypeJSON] for JSON, written
	// and read with [codec.JSON] (encoding/json), without a schema header
	// or a ce_dataschema header.
	ContentType string
	// Subject is the Schema Registry subject the producer's codec
	// registers (or looks up) Schema under, when the codec has subjects
	// ([codec.Confluent]; single-object encoding and JSON ignore it).
	// Generated types set it to the subject the breaking gate checks:
	// "<topic>-value" by default (TopicNameStrategy) for a channel carrying
	// one record type, "<topic>-<record full name>"
	// (TopicRecordNameStrategy) for one carrying several, or the strategy
	// keiyaku.yaml configures (breaking.avro.strategy, strategies). Empty
	// means the codec's own strategy ([codec.WithSubjectNameStrategy],
	// default [codec.RecordNameStrategy]: the record's full name).
	Subject string
	// KeySubject is the subject of the Kafka key when it is an Avro record
	// written by [EncodeKey] ("<topic>-key" by default), named as Subject
	// is; empty for other keys and for the codec's own strategy.
	KeySubject string
	// Key returns the aggregate id of an event, the record key. Records
	// with the same key go to the same partition and are consumed in
	// order.
	Key func(*T) string
}

// name returns the ce_type of t after checking the fields every use needs.
func (t *Type[T]) name() (string, error) {
	switch t.ContentType {
	case "", ContentType:
	case ContentTypeJSON:
		switch {
		case t.Name == "":
			return "", errors.New("event type: a JSON event type needs a Name")
		case t.Schema != nil:
			return "", fmt.Errorf("event type %q: a JSON event type has no Avro Schema", t.Name)
		}
		return t.Name, nil
	default:
		return "", fmt.Errorf("event type %q: content type %q, want %q or %q", t.Name, t.ContentType, ContentType, ContentTypeJSON)
	}
	if t.Schema == nil {
		return "", fmt.Errorf("event type %q: nil Schema", t.Name)
	}
	full := t.Schema.FullName()
	if t.Name != "" && t.Name != full {
		return "", fmt.Errorf("event type %q: schema is %q", t.Name, full)
	}
	return full, nil
}

// codec returns the codec of t's values, c for Avro, and its content-type.
func (t *Type[T]) codec(c codec.Codec) (codec.Codec, string) {
	if t.ContentType == ContentTypeJSON {
		return codec.JSON{}, ContentTypeJSON
	}
	return c, ContentType
}

// Producer publishes events: it encodes them with a [codec.Codec], adds the
// CloudEvents headers and the trace context, and produces them with a
// franz-go client. A Producer is safe for concurrent use. It does not own
// the client: the caller closes it after the last Publish or Send.
type Producer struct {
	client     *kgo.Client
	codec      codec.Codec
	source     string
	tracer     trace.Tracer
	prop       propagation.TextMapPropagator
	published  metric.Int64Counter
	sent       sync.Map     // topic → metric.MeasurementOption
	schemas    sync.Map     // *codec.Schema → *bysubject.Map[string] of ce_dataschema; bounded by the schemas and subjects of the build
	valueGuess atomic.Int64 // the largest value seen, up to maxValueGuess
}

// ProducerClientOptions returns the franz-go options a producing client
// needs: acks from all in-sync replicas, idempotent writes (the franz-go
// default, which NewProducer checks), no linger — Publish waits for each
// record, so lingering would add its full length to every call, while
// records produced during an in-flight request still batch — and a
// delivery timeout of two minutes (Kafka's delivery.timeout.ms) so that a
// record is never retried without end. Append SeedBrokers and the options of
// [ClientConfig.Options].
func ProducerClientOptions() []kgo.Opt {
	return []kgo.Opt{
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		kgo.RecordDeliveryTimeout(2 * time.Minute),
	}
}

// NewProducer returns a Producer that produces with client, encodes with c
// and writes source to ce_source (a URI reference, e.g.
// "/services/reservation"). client must require acks from all in-sync
// replicas and keep idempotent writes on, as [ProducerClientOptions] sets;
// NewProducer returns an error otherwise, and for a nil client or codec or
// a bad source or option.
func NewProducer(client *kgo.Client, c codec.Codec, source string, opts ...ProducerOption) (*Producer, error) {
	if client == nil {
		return nil, errors.New("new producer: nil client")
	}
	if c == nil {
		return nil, errors.New("new producer: nil codec")
	}
	if source == "" {
		return nil, errors.New("new producer: empty source")
	}
	if _, err := url.Parse(source); err != nil {
		return nil, fmt.Errorf("new producer: source %q: %w", source, err)
	}
	if acks, _ := client.OptValue(kgo.RequiredAcks).(kgo.Acks); acks != kgo.AllISRAcks() {
		return nil, errors.New("new producer: client must use kgo.RequiredAcks(kgo.AllISRAcks())")
	}
	if off, _ := client.OptValue(kgo.DisableIdempotentWrite).(bool); off {
		return nil, errors.New("new producer: client must keep idempotent writes (no kgo.DisableIdempotentWrite)")
	}
	cfg := producerConfig{telemetryConfig: defaultTelemetry()}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("new producer: nil option")
		}
		o.applyProducer(&cfg)
	}
	if err := cfg.err(); err != nil {
		return nil, fmt.Errorf("new producer: %w", err)
	}
	published, err := cfg.meter.Meter(instrumentation).Int64Counter("keiyaku.events.published",
		metric.WithDescription("Events produced and acknowledged by the broker."),
		metric.WithUnit("{event}"))
	if err != nil {
		return nil, fmt.Errorf("new producer: counter: %w", err)
	}
	return &Producer{
		client:    client,
		codec:     c,
		source:    source,
		tracer:    cfg.tracer.Tracer(instrumentation),
		prop:      cfg.propagator,
		published: published,
	}, nil
}

// Publish encodes evt as an event of type typ and produces it, waiting for
// the broker's acknowledgement: a nil error means the record is stored on
// all in-sync replicas. It runs in a "send <topic>" producer span whose
// context the record carries, so the consumer's span joins the caller's
// trace. Publish is safe for concurrent use; the order of two concurrent
// calls is not defined.
func Publish[T any](ctx context.Context, p *Producer, typ Type[T], evt *T) error {
	return publish(ctx, p, typ, []*T{evt}, false)
}

// PublishBatch encodes evts as events of type typ and produces them
// together, waiting once for the broker: a nil error means every record
// is stored on all in-sync replicas; otherwise the errors of the records
// that failed are returned, joined, and those that did not fail are
// stored (publishing the batch again publishes them twice, under the same
// event ids only if the caller kept the records: PublishBatch makes new
// ids each call). Events with the same key keep their order. One
// "send <topic>" producer span covers the batch (its attributes are set
// only when it is sampled), and every record carries its context. An
// event that cannot be encoded fails the batch before anything is
// produced. PublishBatch is safe for concurrent use.
func PublishBatch[T any](ctx context.Context, p *Producer, typ Type[T], evts []*T) error {
	if len(evts) == 0 {
		return nil
	}
	return publish(ctx, p, typ, evts, true)
}

// publish is Publish (batch false, one event) and PublishBatch: one
// "send <topic>" producer span, the records made in it, then Send. The
// span names the event id of a single event, the count of a batch.
func publish[T any](ctx context.Context, p *Producer, typ Type[T], evts []*T, batch bool) error {
	op := "publish"
	if batch {
		op = "publish batch"
	}
	ctx, span := p.tracer.Start(ctx, "send "+typ.Topic, producerSpan)
	defer span.End()
	recs := make([]*kgo.Record, len(evts))
	var err error
	for i, evt := range evts {
		var id uuid.UUID
		if id, err = uuid.NewV7(); err != nil {
			err = fmt.Errorf("%s: event id: %w", op, err)
			break
		}
		if i == 0 && span.IsRecording() {
			span.SetAttributes(
				attribute.String("messaging.system", "kafka"),
				attribute.String("messaging.operation.type", "send"),
				attribute.String("messaging.destination.name", typ.Topic),
			)
			if batch {
				span.SetAttributes(attribute.Int("messaging.batch.message_count", len(evts)))
			} else {
				span.SetAttributes(attribute.String("messaging.message.id", id.String()))
			}
		}
		if recs[i], err = newRecord(ctx, p, typ, evt, id); err != nil {
			if batch {
				err = fmt.Errorf("%s: event %d: %w", op, i, err)
			}
			break
		}
	}
	if err == nil {
		err = p.Send(ctx, recs...)
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return err
	}
	return nil
}

// producerSpan is the start option of every producer span.
var producerSpan = trace.WithSpanKind(trace.SpanKindProducer)

// NewRecord encodes evt as an event of type typ and returns the record to
// produce, without producing it: key, value, and the CloudEvents and trace
// context headers (from ctx) are set. A transactional outbox stores such
// records in the same database transaction as the state change and hands
// them to [Producer.Send] later. NewRecord may do I/O (registering the
// writer schema on first use). The key, value and header values of the
// record share one buffer.
func NewRecord[T any](ctx context.Context, p *Producer, typ Type[T], evt *T) (*kgo.Record, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("new record: event id: %w", err)
	}
	return newRecord(ctx, p, typ, evt, id)
}

func newRecord[T any](ctx context.Context, p *Producer, typ Type[T], evt *T, id uuid.UUID) (*kgo.Record, error) {
	name, err := typ.name()
	if err != nil {
		return nil, fmt.Errorf("new record: %w", err)
	}
	switch {
	case typ.Topic == "":
		return nil, fmt.Errorf("new record %s: empty Topic", name)
	case typ.Key == nil:
		return nil, fmt.Errorf("new record %s: nil Key", name)
	case evt == nil:
		return nil, fmt.Errorf("new record %s: nil event", name)
	}
	c, ctype := typ.codec(p.codec)
	dataschema, err := p.dataSchema(ctx, c, typ.Schema, typ.Subject)
	if err != nil {
		return nil, fmt.Errorf("new record %s: data schema: %w", name, err)
	}
	key := typ.Key(evt)

	// One buffer holds the header values, the key and then the value,
	// which the codec appends (reallocating if the guess is short).
	const idLen, timeLen = 36, len("2006-01-02T15:04:05.000Z")
	fixed := len(SpecVersion) + idLen + len(name) + len(p.source) + timeLen + len(ctype) + len(dataschema) + len(key)
	buf := make([]byte, 0, fixed+int(p.valueGuess.Load()))
	var hs [7]kgo.RecordHeader
	var spans [8]int // the end of each piece in buf
	buf = append(buf, SpecVersion...)
	spans[0] = len(buf)
	buf = appendUUID(buf, id)
	spans[1] = len(buf)
	buf = append(buf, name...)
	spans[2] = len(buf)
	buf = append(buf, p.source...)
	spans[3] = len(buf)
	buf = time.Now().UTC().AppendFormat(buf, timeLayout)
	spans[4] = len(buf)
	buf = append(buf, ctype...)
	spans[5] = len(buf)
	buf = append(buf, dataschema...)
	spans[6] = len(buf)
	buf = append(buf, key...)
	spans[7] = len(buf)
	piece := func(i int) []byte {
		from := 0
		if i > 0 {
			from = spans[i-1]
		}
		return buf[from:spans[i]:spans[i]]
	}
	for i, k := range [7]string{HeaderSpecVersion, HeaderID, HeaderType, HeaderSource, HeaderTime, HeaderContentType, HeaderDataSchema} {
		hs[i] = kgo.RecordHeader{Key: k, Value: piece(i)}
	}
	nh := len(hs)
	if dataschema == "" {
		nh-- // no writer schema to name (JSON): no ce_dataschema
	}
	keyBytes := piece(7)

	start := len(buf)
	out, err := codec.EncodeSubject(ctx, c, buf, typ.Schema, typ.Subject, evt)
	if err != nil {
		return nil, fmt.Errorf("new record %s: encode: %w", name, err)
	}
	value := out[start:len(out):len(out)]
	if n := int64(len(value)); n > p.valueGuess.Load() && n <= maxValueGuess {
		p.valueGuess.Store(n)
	}

	rec := &kgo.Record{
		Topic:   typ.Topic,
		Key:     keyBytes,
		Value:   value,
		Headers: make([]kgo.RecordHeader, nh, len(hs)+3), // + traceparent, tracestate, baggage
	}
	copy(rec.Headers, hs[:nh])
	p.prop.Inject(ctx, headerCarrier{rec})
	return rec, nil
}

// maxValueGuess bounds the value size NewRecord reserves room for.
const maxValueGuess = 64 << 10

// appendUUID appends the canonical text form of id.
func appendUUID(dst []byte, id uuid.UUID) []byte {
	var text [36]byte
	hex.Encode(text[0:8], id[0:4])
	text[8] = '-'
	hex.Encode(text[9:13], id[4:6])
	text[13] = '-'
	hex.Encode(text[14:18], id[6:8])
	text[18] = '-'
	hex.Encode(text[19:23], id[8:10])
	text[23] = '-'
	hex.Encode(text[24:], id[10:])
	return append(dst, text[:]...)
}

// dataSchema returns the ce_dataschema of s registered under subject,
// asking c once per schema and subject; "" for a type without one (JSON).
func (p *Producer) dataSchema(ctx context.Context, c codec.Codec, s *codec.Schema, subject string) (string, error) {
	if s == nil {
		return "", nil
	}
	v, ok := p.schemas.Load(s)
	if ok {
		if ds, ok := v.(*bysubject.Map[string]).Get(subject); ok {
			return ds, nil
		}
	}
	ds, err := codec.DataSchemaSubject(ctx, c, s, subject)
	if err != nil {
		return "", err
	}
	if !ok {
		v, _ = p.schemas.LoadOrStore(s, &bysubject.Map[string]{})
	}
	v.(*bysubject.Map[string]).Put(subject, ds)
	return ds, nil
}

// Send produces records, typically made by [NewRecord] and kept in an
// outbox, and waits for the broker. It returns nil when every record is
// acknowledged, or the errors of those that failed, joined; records that
// failed may be sent again (the event id is unchanged, so consumers
// deduplicate). Records produced by one Send to one partition keep their
// order.
//
// The records are handed to franz-go at once, without waiting for one
// before the next: they share produce requests (franz-go batches by
// partition), and Send waits once for the last acknowledgement. A batch
// costs about what kgo's asynchronous Produce of the same records costs
// (BenchmarkPublishBatch).
func (p *Producer) Send(ctx context.Context, recs ...*kgo.Record) error {
	if len(recs) == 0 {
		return nil
	}
	for i, r := range recs {
		if r == nil {
			return fmt.Errorf("send: record %d is nil", i)
		}
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   []error
		failed map[*kgo.Record]bool
	)
	wg.Add(len(recs))
	promise := func(r *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			errs = append(errs, fmt.Errorf("send %s event %s: %w", r.Topic, recordID(r), err))
			if failed == nil {
				failed = make(map[*kgo.Record]bool)
			}
			failed[r] = true
			mu.Unlock()
		}
		wg.Done()
	}
	for _, r := range recs {
		p.client.Produce(ctx, r, promise)
	}
	wg.Wait()
	p.count(ctx, recs, failed)
	return errors.Join(errs...)
}

// count adds the acknowledged records of a Send, those not in failed, to
// the published counter: one Add per run of records of one topic.
func (p *Producer) count(ctx context.Context, recs []*kgo.Record, failed map[*kgo.Record]bool) {
	topic, n := recs[0].Topic, int64(0)
	for _, r := range recs {
		if r.Topic != topic {
			if n > 0 {
				p.published.Add(ctx, n, p.topicAttrs(topic))
			}
			topic, n = r.Topic, 0
		}
		if !failed[r] {
			n++
		}
	}
	if n > 0 {
		p.published.Add(ctx, n, p.topicAttrs(topic))
	}
}

// recordID returns the ce_id header of rec, or "" without one.
func recordID(rec *kgo.Record) string {
	for _, h := range rec.Headers {
		if h.Key == HeaderID {
			return string(h.Value)
		}
	}
	return ""
}

// topicAttrs returns the measurement option for a topic, built once.
func (p *Producer) topicAttrs(topic string) metric.MeasurementOption {
	if v, ok := p.sent.Load(topic); ok {
		return v.(metric.MeasurementOption)
	}
	v, _ := p.sent.LoadOrStore(topic, metric.WithAttributeSet(
		attribute.NewSet(attribute.String("messaging.destination.name", topic))))
	return v.(metric.MeasurementOption)
}
