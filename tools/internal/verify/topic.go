package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/codec"
	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
	"github.com/keiyaku/keiyaku/tools/internal/mock"
	"github.com/keiyaku/keiyaku/tools/internal/report"
)

// The rules of topic verification.
const (
	// RuleRecordHeaders: CloudEvents or trace headers missing, repeated,
	// or not as the message's header schema says.
	RuleRecordHeaders = "VERIFY_RECORD_HEADERS"
	// RuleRecordType: a ce_type that names no message of the topic.
	RuleRecordType = "VERIFY_RECORD_TYPE"
	// RuleRecordKey: a key that breaks the message's key schema, or that
	// is not the payload's key field.
	RuleRecordKey = "VERIFY_RECORD_KEY"
	// RuleRecordValue: a value that does not decode with a known schema
	// version (bad header, unknown fingerprint, incompatible writer,
	// malformed body).
	RuleRecordValue = "VERIFY_RECORD_VALUE"
	// RuleRecordTrace: a traceparent that is not a valid W3C trace context.
	RuleRecordTrace = "VERIFY_RECORD_TRACE"
)

// TopicOptions bounds a topic verification.
type TopicOptions struct {
	// MaxRecords stops reading after this many records; 0 means 1000.
	MaxRecords int
	// Idle stops reading when no record came for this long; 0 means 10s.
	// Reading also stops once every partition's end offset, as listed at
	// the start, is reached.
	Idle time.Duration
	// MaxFindings caps the findings listed (the counts stay exact); 0
	// means 50.
	MaxFindings int
}

// TopicResult is what a topic verification read and found.
type TopicResult struct {
	Records  int
	Messages []MessageCount
	// Unknown counts records whose ce_type names no message of the topic.
	Unknown  MessageCount
	Findings []report.Finding
}

// MessageCount tallies the records of one message.
type MessageCount struct {
	Message       string
	Conforming    int
	NonConforming int
	// Offenders are the first non-conforming records, "partition/offset".
	Offenders []string
}

type topicMessage struct {
	msg    *asyncapi.Message
	reader *codec.Schema
	key    *openapi3.Schema
	// keyReader is the schema of an Avro record key, nil for other keys.
	keyReader *codec.Schema
	header    *openapi3.Schema
	count     *MessageCount
}

// Topic reads topic through client from its start and checks each record
// against the messages doc declares on that topic: the CloudEvents headers
// (required ones present, none repeated, values as the header schema says,
// ce_type naming a message of the topic, ce_dataschema naming the value's
// writer schema), traceparent a valid W3C trace context, the key as the key
// schema says and equal to the payload's key field (an Avro record key
// decoding, as a value does, with a version of its schema the schema topic
// knows), and the value decoding
// with a schema version the schema topic knows (its fingerprint) that
// resolves against the contract's schema. client must be able to read the
// topic and the schema topic; Topic does not join a consumer group and
// commits nothing.
//
// Topic returns an error when doc declares no message on topic or the
// broker cannot be reached; non-conforming records are findings.
func Topic(ctx context.Context, client *kgo.Client, doc *asyncapi.Document, topic string, opts TopicOptions) (TopicResult, error) {
	if opts.MaxRecords <= 0 {
		opts.MaxRecords = 1000
	}
	if opts.Idle <= 0 {
		opts.Idle = 10 * time.Second
	}
	if opts.MaxFindings <= 0 {
		opts.MaxFindings = 50
	}
	var res TopicResult
	byType := map[string]*topicMessage{}
	var topics []string
	for _, ch := range doc.Channels {
		topics = append(topics, ch.Address)
		if ch.Address != topic {
			continue
		}
		for _, m := range ch.Messages {
			if m.Payload == nil || m.Payload.Avro == nil {
				continue
			}
			reader, err := codec.NewSchema(m.Payload.Avro.Schema)
			if err != nil {
				return res, fmt.Errorf("message %s: %w", m.Name, err)
			}
			tm := &topicMessage{msg: m, reader: reader}
			if tm.key, err = jsonSchema(m.Key); err != nil {
				return res, fmt.Errorf("message %s: key schema: %w", m.Name, err)
			}
			if m.Key != nil && m.Key.Avro != nil {
				if tm.keyReader, err = codec.NewSchema(m.Key.Avro.Schema); err != nil {
					return res, fmt.Errorf("message %s: key schema: %w", m.Name, err)
				}
			}
			if tm.header, err = jsonSchema(m.Headers); err != nil {
				return res, fmt.Errorf("message %s: header schema: %w", m.Name, err)
			}
			res.Messages = append(res.Messages, MessageCount{Message: m.Name})
			byType[m.Payload.Avro.Name] = tm
		}
	}
	if len(byType) == 0 {
		slices.Sort(topics)
		return res, fmt.Errorf("%s declares no Avro message on topic %q (its topics: %s)", doc.File, topic, strings.Join(slices.Compact(topics), ", "))
	}
	i := 0
	for _, m := range res.Messages {
		for _, tm := range byType {
			if tm.msg.Name == m.Message {
				tm.count = &res.Messages[i]
			}
		}
		i++
	}
	res.Unknown.Message = "(unknown ce_type)"

	store, err := codec.NewTopicStore(client)
	if err != nil {
		return res, err
	}
	so, err := codec.NewSingleObject(store)
	if err != nil {
		return res, err
	}
	ends, err := kadm.NewClient(client).ListEndOffsets(ctx, topic)
	if err != nil {
		return res, fmt.Errorf("list the end offsets of %s: %w", topic, err)
	}
	if err := ends.Error(); err != nil {
		return res, fmt.Errorf("list the end offsets of %s: %w", topic, err)
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	client.AddConsumeTopics(topic)
	v := &recordChecker{so: so, byType: byType, res: &res, max: opts.MaxFindings, file: doc.File}
	for len(remaining) > 0 && res.Records < opts.MaxRecords {
		pctx, cancel := context.WithTimeout(ctx, opts.Idle)
		fetches := client.PollRecords(pctx, opts.MaxRecords-res.Records)
		cancel()
		if err := ctx.Err(); err != nil {
			return res, err
		}
		var fetchErr error
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				fetchErr = fmt.Errorf("read %s/%d: %w", t, p, err)
			}
		})
		if fetchErr != nil {
			return res, fetchErr
		}
		if fetches.NumRecords() == 0 {
			break // idle
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if res.Records >= opts.MaxRecords {
				return
			}
			res.Records++
			v.check(ctx, r)
			if end, ok := remaining[r.Partition]; ok && r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
		})
	}
	report.Sort(res.Findings)
	return res, nil
}

// jsonSchema reads an AsyncAPI JSON Schema as a kin-openapi schema (the
// keywords both share); nil for none.
func jsonSchema(s *asyncapi.Schema) (*openapi3.Schema, error) {
	if s == nil || s.JSON == nil {
		return nil, nil
	}
	var out openapi3.Schema
	if err := json.Unmarshal(s.JSON, &out); err != nil {
		return nil, err
	}
	// JSON Schema's "examples" are not OpenAPI 3.0's: drop them.
	out.Examples = nil
	return &out, nil
}

type recordChecker struct {
	so     *codec.SingleObject
	byType map[string]*topicMessage
	res    *TopicResult
	max    int
	listed int
	file   string
}

func (c *recordChecker) find(r *kgo.Record, tm *topicMessage, rule, format string, args ...any) {
	if c.listed >= c.max {
		return
	}
	c.listed++
	f := report.Finding{
		Rule: rule, Severity: report.Error, Format: report.FormatAsyncAPI, File: c.file,
		Message: fmt.Sprintf("%s/%d offset %d: %s", r.Topic, r.Partition, r.Offset, fmt.Sprintf(format, args...)),
	}
	if tm != nil {
		f.File, f.Line, f.Column = tm.msg.File, tm.msg.Line, tm.msg.Column
		f.Operations = []string{tm.msg.Name}
	}
	c.res.Findings = append(c.res.Findings, f)
}

func (c *recordChecker) check(ctx context.Context, r *kgo.Record) {
	headers := map[string]any{}
	var repeated []string
	for _, h := range r.Headers {
		if _, dup := headers[h.Key]; dup {
			repeated = append(repeated, h.Key)
		}
		headers[h.Key] = string(h.Value)
	}
	ceType, _ := headers[events.HeaderType].(string)
	tm := c.byType[ceType]
	bad := 0
	fail := func(rule, format string, args ...any) {
		bad++
		c.find(r, tm, rule, format, args...)
	}
	if tm == nil {
		known := make([]string, 0, len(c.byType))
		for t := range c.byType {
			known = append(known, t)
		}
		slices.Sort(known)
		fail(RuleRecordType, "ce_type %q names no message of the topic (want one of %s)", ceType, strings.Join(known, ", "))
		c.tally(r, nil, bad)
		return
	}
	if len(repeated) > 0 {
		fail(RuleRecordHeaders, "headers sent more than once: %s", strings.Join(repeated, ", "))
	}
	if tm.header != nil {
		if err := tm.header.VisitJSON(headers, visitOptions...); err != nil {
			for _, msg := range visitMessages("header", err) {
				fail(RuleRecordHeaders, "%s", msg)
			}
		}
	}
	if tp, ok := headers["traceparent"].(string); ok {
		if why := traceparentProblem(tp); why != "" {
			fail(RuleRecordTrace, "traceparent %q: %s", tp, why)
		}
	}
	if tm.key != nil {
		if err := tm.key.VisitJSON(string(r.Key), visitOptions...); err != nil {
			for _, msg := range visitMessages("key", err) {
				fail(RuleRecordKey, "%s", msg)
			}
		}
	}
	if tm.keyReader != nil {
		// An Avro record key is written like a value, with its own schema.
		var key map[string]any
		if err := c.so.Decode(ctx, r.Key, tm.keyReader, &key); err != nil {
			fail(RuleRecordKey, "key does not decode with a known version of its schema %s: %v", tm.keyReader.FullName(), err)
		}
	}
	var payload map[string]any
	if err := c.so.Decode(ctx, r.Value, tm.reader, &payload); err != nil {
		fail(RuleRecordValue, "value does not decode with a known version of %s: %v", tm.msg.Payload.Avro.Name, err)
	} else {
		if len(r.Value) >= 10 {
			var fp uint64
			for i := 9; i >= 2; i-- {
				fp = fp<<8 | uint64(r.Value[i])
			}
			want := fmt.Sprintf("urn:avro:fingerprint:%016x", fp)
			if ds, ok := headers[events.HeaderDataSchema].(string); ok && ds != want {
				fail(RuleRecordHeaders, "ce_dataschema %q, but the value was written with %s", ds, want)
			}
		}
		if field := mock.KeyField(tm.msg.Key); field != "" {
			if got, ok := payload[field]; ok && fmt.Sprint(got) != string(r.Key) {
				fail(RuleRecordKey, "key %q is not the payload's %s %q", r.Key, field, fmt.Sprint(got))
			}
		}
	}
	c.tally(r, tm, bad)
}

func (c *recordChecker) tally(r *kgo.Record, tm *topicMessage, bad int) {
	count := &c.res.Unknown
	if tm != nil {
		count = tm.count
	}
	if bad == 0 {
		count.Conforming++
		return
	}
	count.NonConforming++
	if len(count.Offenders) < 5 {
		count.Offenders = append(count.Offenders, fmt.Sprintf("%d/%d", r.Partition, r.Offset))
	}
}

// visitOptions validate headers and keys, formats included (uuid as
// the canonical 8-4-4-4-12 form).
var visitOptions = []openapi3.SchemaValidationOption{
	openapi3.MultiErrors(),
	openapi3.EnableFormatValidation(),
	openapi3.WithStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)),
}

func visitMessages(where string, err error) []string {
	var out []string
	for _, err := range leafErrors(err) {
		var se *openapi3.SchemaError
		if errors.As(err, &se) {
			out = append(out, schemaErrorLine(se, where, " "))
			continue
		}
		out = append(out, where+": "+err.Error())
	}
	return out
}

// traceparentProblem says why tp is not a valid W3C traceparent of
// version 00, or "".
func traceparentProblem(tp string) string {
	parts := strings.Split(tp, "-")
	if len(parts) != 4 || len(parts[0]) != 2 || len(parts[1]) != 32 || len(parts[2]) != 16 || len(parts[3]) != 2 {
		return "want version-traceid-parentid-flags (2-32-16-2 lower-case hex digits)"
	}
	for _, p := range parts {
		if strings.Trim(p, "0123456789abcdef") != "" {
			return "not lower-case hexadecimal"
		}
	}
	switch {
	case parts[0] == "ff":
		return "version ff is invalid"
	case strings.Trim(parts[1], "0") == "":
		return "the trace id is all zeros"
	case strings.Trim(parts[2], "0") == "":
		return "the parent id is all zeros"
	}
	return ""
}

// WriteSummary writes the table of conforming and non-conforming records
// per message.
func (r TopicResult) WriteSummary(w interface{ Write([]byte) (int, error) }) {
	fmt.Fprintf(w, "%-28s %10s %14s  %s\n", "message", "conforming", "non-conforming", "first offenders (partition/offset)")
	rows := append(slices.Clone(r.Messages), r.Unknown)
	for _, m := range rows {
		if m.Message == r.Unknown.Message && m.Conforming+m.NonConforming == 0 {
			continue
		}
		fmt.Fprintf(w, "%-28s %10d %14d  %s\n", m.Message, m.Conforming, m.NonConforming, strings.Join(m.Offenders, " "))
	}
}
