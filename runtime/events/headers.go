package events

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/propagation"

	"github.com/keiyaku/keiyaku/runtime/events/codec"
)

// Header names and values of the CloudEvents 1.0 Kafka protocol binding,
// binary content mode, as written by [Publish] and [NewRecord] and read by
// [Consumer].
const (
	HeaderSpecVersion = "ce_specversion"
	HeaderID          = "ce_id"
	HeaderType        = "ce_type"
	HeaderSource      = "ce_source"
	HeaderTime        = "ce_time"
	HeaderDataSchema  = "ce_dataschema"
	HeaderContentType = "content-type"

	// SpecVersion is the CloudEvents version written to ce_specversion.
	SpecVersion = "1.0"
	// ContentType is the content-type of Avro event values: Avro binary
	// behind a schema header.
	ContentType = "application/avro"
	// ContentTypeJSON is the content-type of JSON event values (a [Type]
	// whose ContentType is ContentTypeJSON): the JSON of the event, with no
	// schema header.
	ContentTypeJSON = "application/json"
)

// Headers that [Consumer] adds to a record it copies to a dead-letter topic.
// The record keeps its key, value and original headers.
const (
	// HeaderDLQError is the error of the last attempt (at most 1 KiB).
	HeaderDLQError = "keiyaku_dlq_error"
	// HeaderDLQTopic, HeaderDLQPartition and HeaderDLQOffset locate the
	// original record (partition and offset in decimal).
	HeaderDLQTopic     = "keiyaku_dlq_topic"
	HeaderDLQPartition = "keiyaku_dlq_partition"
	HeaderDLQOffset    = "keiyaku_dlq_offset"
	// HeaderDLQAttempts is how many times the handler ran (decimal); 1 for
	// a record that could not be read.
	HeaderDLQAttempts = "keiyaku_dlq_attempts"
	// HeaderDLQGroup is the consumer group that gave up on the record.
	HeaderDLQGroup = "keiyaku_dlq_group"
	// HeaderDLQFirstError is when the first attempt failed (RFC 3339,
	// UTC, milliseconds).
	HeaderDLQFirstError = "keiyaku_dlq_first_error_time"
)

// timeLayout is RFC 3339 in UTC with milliseconds, the ce_time format.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// ErrNotEvent is wrapped by the errors of records that are not CloudEvents
// this package can read: a required attribute (ce_specversion, ce_id,
// ce_type, ce_source) is missing or repeated, the spec version is not 1.0,
// ce_time is not RFC 3339, the content-type is neither application/avro nor
// application/json, or it is not the one of the handler's event type.
// Such records go to the dead-letter topic without a handler call.
var ErrNotEvent = errors.New("not a keiyaku event")

// Envelope is what a handler learns about an event besides its data: the
// CloudEvents attributes and where the record sits in Kafka.
type Envelope struct {
	// ID is ce_id, unique per event: the key to deduplicate on.
	ID string
	// Type is ce_type, the Avro full name of the event.
	Type string
	// Source is ce_source, the URI of the producing service.
	Source string
	// DataSchema is ce_dataschema, the URI of the writer schema; empty when
	// the producer did not send it.
	DataSchema string
	// Time is ce_time; the zero time when the producer did not send it.
	Time time.Time
	// Topic, Partition and Offset locate the record.
	Topic     string
	Partition int32
	Offset    int64
	// Key is the record key, the aggregate id.
	Key []byte
	// Headers are all headers of the record. They are shared with the
	// consumer and must not be modified.
	Headers []kgo.RecordHeader
	// Attempt counts the handler calls for this record, from 1.
	Attempt int

	// keys is the codec of the consumer that delivered the record, for
	// DecodeKey; nil for an envelope of ParseEnvelope.
	keys   codec.Codec
	format format // what the content-type header names
}

// format is the value format a record's content-type names.
type format uint8

const (
	formatNone format = iota // no content-type header: the event type's own
	formatAvro
	formatJSON
)

// maxInterned bounds an interner: attributes come from the records, and a
// hostile producer must not make it grow without end.
const maxInterned = 64

// interner reuses the strings of attributes that repeat from record to
// record (spec version, type, source, data schema, content-type), saving
// an allocation each. It first compares with the last value of the same
// attribute, which is all a partition of one event type needs, then looks
// in a bounded map. It is not safe for concurrent use; each partition
// worker has its own.
type interner struct {
	last [7]string // by attribute, as parseEnvelope numbers them
	m    map[string]string
}

func (in *interner) str(attr int, b []byte) string {
	if string(b) == in.last[attr] {
		return in.last[attr]
	}
	s, ok := in.m[string(b)]
	if !ok {
		s = string(b)
		if len(in.m) < maxInterned && len(s) <= 256 {
			if in.m == nil {
				in.m = make(map[string]string)
			}
			in.m[s] = s
		}
	}
	in.last[attr] = s
	return s
}

// ParseEnvelope reads the CloudEvents attributes of rec as a [Consumer]
// does; an error wraps [ErrNotEvent]. Tools use it to check records (the
// dev broker's contract enforcement).
func ParseEnvelope(rec *kgo.Record) (Envelope, error) {
	return parseEnvelope(rec, nil)
}

// parseEnvelope reads the CloudEvents attributes of rec. Attempt is left 0.
// in may be nil: no string is reused then.
func parseEnvelope(rec *kgo.Record, in *interner) (Envelope, error) {
	env := Envelope{
		Topic:     rec.Topic,
		Partition: rec.Partition,
		Offset:    rec.Offset,
		Key:       rec.Key,
		Headers:   rec.Headers,
	}
	var spec, ctype string
	var ts []byte
	var seen [7]bool
	for k := range rec.Headers {
		h := &rec.Headers[k]
		var dst *string
		var i int
		intern := in != nil
		switch h.Key {
		case HeaderSpecVersion:
			dst, i = &spec, 0
		case HeaderID:
			dst, i, intern = &env.ID, 1, false // unique per event
		case HeaderType:
			dst, i = &env.Type, 2
		case HeaderSource:
			dst, i = &env.Source, 3
		case HeaderTime:
			i = 4
		case HeaderDataSchema:
			dst, i = &env.DataSchema, 5
		case HeaderContentType:
			dst, i = &ctype, 6
		default:
			continue
		}
		if seen[i] {
			return env, fmt.Errorf("%w: header %s repeated", ErrNotEvent, h.Key)
		}
		seen[i] = true
		switch {
		case dst == nil:
			ts = h.Value
		case intern:
			*dst = in.str(i, h.Value)
		default:
			*dst = string(h.Value)
		}
	}
	switch {
	case spec != SpecVersion:
		if !seen[0] {
			return env, fmt.Errorf("%w: no %s header", ErrNotEvent, HeaderSpecVersion)
		}
		return env, fmt.Errorf("%w: %s %q, want %q", ErrNotEvent, HeaderSpecVersion, truncate(spec, 64), SpecVersion)
	case env.ID == "":
		return env, fmt.Errorf("%w: no %s header", ErrNotEvent, HeaderID)
	case env.Type == "":
		return env, fmt.Errorf("%w: no %s header", ErrNotEvent, HeaderType)
	case env.Source == "":
		return env, fmt.Errorf("%w: no %s header", ErrNotEvent, HeaderSource)
	}
	if seen[6] {
		if env.format = formatOf(ctype); env.format == formatNone {
			return env, fmt.Errorf("%w: content-type %q, want %q or %q", ErrNotEvent, truncate(ctype, 64), ContentType, ContentTypeJSON)
		}
	}
	if seen[4] {
		t, ok := parseMillis(ts)
		if !ok {
			var err error
			if t, err = time.Parse(time.RFC3339Nano, string(ts)); err != nil {
				return env, fmt.Errorf("%w: %s %q: not RFC 3339", ErrNotEvent, HeaderTime, truncate(string(ts), 64))
			}
		}
		env.Time = t
	}
	return env, nil
}

// parseMillis reads a time in the layout the producer writes to ce_time
// (timeLayout in UTC: "2006-01-02T15:04:05.000Z") without the string and
// the general parse of time.Parse; ok is false for any other text, which
// time.Parse then reads (or rejects).
func parseMillis(b []byte) (t time.Time, ok bool) {
	const layout = "2006-01-02T15:04:05.000Z"
	if len(b) != len(layout) {
		return t, false
	}
	var v [7]int // year, month, day, hour, minute, second, millisecond
	f := 0
	for i := range len(layout) {
		switch c := b[i]; {
		case layout[i] >= '0' && layout[i] <= '9':
			if c < '0' || c > '9' {
				return t, false
			}
			v[f] = v[f]*10 + int(c-'0')
		case c != layout[i]:
			return t, false
		default:
			f++
		}
	}
	if v[1] < 1 || v[1] > 12 || v[3] > 23 || v[4] > 59 || v[5] > 59 {
		return t, false
	}
	t = time.Date(v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], v[6]*1e6, time.UTC)
	if t.Day() != v[2] {
		return time.Time{}, false // day 0 or past the month's end
	}
	return t, true
}

func (f format) String() string {
	switch f {
	case formatAvro:
		return ContentType
	case formatJSON:
		return ContentTypeJSON
	}
	return "unknown"
}

// formatOf returns the format a content-type names, parameters aside:
// formatNone for one that is neither Avro nor JSON.
func formatOf(ctype string) format {
	switch ctype { // the producer's own, without parameters
	case ContentType:
		return formatAvro
	case ContentTypeJSON:
		return formatJSON
	}
	mt, _, _ := strings.Cut(ctype, ";")
	switch mt = strings.TrimSpace(mt); {
	case strings.EqualFold(mt, ContentType):
		return formatAvro
	case strings.EqualFold(mt, ContentTypeJSON):
		return formatJSON
	}
	return formatNone
}

// truncate shortens s to at most n bytes, not splitting a UTF-8 sequence,
// for error messages about hostile input.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// listHeaders are trace headers whose repeated values are one list, joined
// with commas (W3C tracestate, W3C baggage).
var listHeaders = map[string]bool{"tracestate": true, "baggage": true}

// HeaderCarrier returns rec's headers as a propagation.TextMapCarrier, with
// the reading rules of the consumer (see headerCarrier): for code outside
// this package that extracts or injects the trace context of a record,
// such as the outbox relay's send spans.
func HeaderCarrier(rec *kgo.Record) propagation.TextMapCarrier { return headerCarrier{rec} }

// headerCarrier lets an OpenTelemetry propagator read and write the
// headers of a record (propagation.TextMapCarrier).
//
// Get follows W3C trace context: a header that may appear only once
// (traceparent) and appears several times is invalid and reads as absent,
// so the consumer starts a new trace rather than pick one parent at random;
// repeated list headers (tracestate, baggage) are joined.
type headerCarrier struct{ rec *kgo.Record }

func (c headerCarrier) Get(key string) string {
	var val string
	n := 0
	for _, h := range c.rec.Headers {
		if h.Key != key {
			continue
		}
		n++
		if n == 1 {
			val = string(h.Value)
			continue
		}
		if !listHeaders[key] {
			return ""
		}
		val += "," + string(h.Value)
	}
	return val
}

// Set replaces every header named key with one holding value.
func (c headerCarrier) Set(key, value string) {
	hs := c.rec.Headers[:0]
	for _, h := range c.rec.Headers {
		if h.Key != key {
			hs = append(hs, h)
		}
	}
	c.rec.Headers = append(hs, kgo.RecordHeader{Key: key, Value: []byte(value)})
}

func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c.rec.Headers))
	for _, h := range c.rec.Headers {
		dup := false
		for _, k := range keys {
			if k == h.Key {
				dup = true
				break
			}
		}
		if !dup {
			keys = append(keys, h.Key)
		}
	}
	return keys
}
