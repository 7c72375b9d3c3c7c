package generator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/format"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
	"github.com/keiyaku/keiyaku/tools/internal/avroschema"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/diag"
	"github.com/keiyaku/keiyaku/tools/internal/report"
	"github.com/keiyaku/keiyaku/tools/internal/subjects"
)

// EventsFile is the generated file of a module's typed producer and
// consumer.
const EventsFile = "events" + Suffix

// KeyFieldExtension names, in a message's Kafka key schema, the payload
// field that holds the record key (the aggregate id).
const KeyFieldExtension = "x-keiyaku-field"

const eventsPkg = "github.com/keiyaku/keiyaku/runtime/events"

// The kinds of Kafka record keys a generated publisher writes.
const (
	keyNone   = "none"   // no key schema: a null key
	keyField  = "field"  // x-keiyaku-field: a string field of the payload
	keyString = "string" // a string the caller passes
	keyInt32  = "int32"  // an int the caller passes, 4 bytes big-endian (Kafka's IntegerSerializer)
	keyInt64  = "int64"  // a long the caller passes, 8 bytes big-endian (Kafka's LongSerializer)
	keyRecord = "record" // an Avro record the caller passes, written with its own schema by the producer's codec
	keyHeader = "header" // the value of a header the runtime writes (x-keiyaku-header)
)

// KeyHeaderExtension names, in a message's Kafka key schema, the record
// header whose value is the key: one the runtime writes, such as ce_id
// (the event id) or ce_source.
const KeyHeaderExtension = "x-keiyaku-header"

// keyHeaders are the headers every record of the runtime carries, by name,
// with the Go constant of runtime/events naming them.
var keyHeaders = map[string]string{
	"ce_id": "events.HeaderID", "ce_source": "events.HeaderSource", "ce_type": "events.HeaderType",
	"ce_time": "events.HeaderTime", "ce_specversion": "events.HeaderSpecVersion",
}

// eventMessage is one message an AsyncAPI document sends or receives.
type eventMessage struct {
	Msg      *asyncapi.Message
	Channel  *asyncapi.Channel
	Type     string // Go type of the payload: "ReservationCreated"
	Var      string // the events.Type variable: "ReservationCreatedEvent"
	Event    string // what Var and the methods are named after: the Avro record, or the message of a JSON payload
	Owned    bool   // the payload schema lives in this module
	Declared bool   // avro.gen.go declares the type (an .avsc of the module's avro folder)
	JSON     bool   // the payload is a JSON Schema: a JSON event type
	KeyPtr   bool   // the key field is optional: a *string
	KeyKind  string // one of the key kinds
	KeyField string // Go field of the key: "ReservationID"
	KeyType  string // Go type of an Avro record key: "ReservationKey"
	KeyConst string // the events constant of the key header: "events.HeaderID"
	Op       *asyncapi.Operation
	Method   string // "PublishReservationCreated" / "OnReservationCreated"
	// Subjects are the Schema Registry subjects of the payload and of an
	// Avro record key, the ones the breaking gate checks.
	Subjects subjects.Names
}

// Skipped is a part of a contract that generate writes no code for, or
// no typed code, and why: a channel of another protocol, a message without
// a payload (lint reports them as information); a oneOf in a JSON Schema
// payload, generated as json.RawMessage (Untyped; lint warns); or a whole
// module whose OpenAPI 3.1 document oapi-codegen cannot generate (OpenAPI;
// lint warns). It is no error.
type Skipped struct {
	asyncapi.Pos
	What, Why string
	// OpenAPI reports a module skipped for its OpenAPI 3.1 document
	// ([OpenAPINotGenerated]), or a file that needs such a module.
	OpenAPI bool
	// Untyped marks a part that is generated, but not typed: a oneOf of a
	// JSON Schema payload as json.RawMessage.
	Untyped bool
}

// Finding is how lint and generate report s: ASYNCAPI_NOT_GENERATED
// (information) for a part of an AsyncAPI document, "not generated: …";
// ASYNCAPI_PAYLOAD_UNTYPED (a warning) for an untyped part, "not typed:
// …"; [OpenAPINotGenerated] (a warning) for an OpenAPI module.
func (s Skipped) Finding() report.Finding {
	why := s.Why
	if !strings.Contains(why, s.What) {
		why = s.What + ": " + why
	}
	f := report.Finding{Rule: "ASYNCAPI_NOT_GENERATED", Severity: report.Info, Format: report.FormatAsyncAPI,
		File: s.File, Line: s.Line, Column: s.Column, Message: "not generated: " + why}
	switch {
	case s.OpenAPI:
		f.Rule, f.Severity, f.Format = OpenAPINotGenerated, report.Warning, report.FormatOpenAPI
	case s.Untyped:
		f.Rule, f.Severity, f.Message = "ASYNCAPI_PAYLOAD_UNTYPED", report.Warning, "not typed: "+why
	}
	return f
}

// EventsSkipped returns what generating the events of doc leaves out, in
// document order.
func EventsSkipped(doc *asyncapi.Document) []Skipped {
	var out []Skipped
	for _, c := range doc.Channels {
		if c.Skip != "" {
			out = append(out, Skipped{Pos: c.Pos, What: "channel " + c.Name, Why: c.Skip})
		}
	}
	seen := map[*asyncapi.Message]bool{}
	for _, op := range doc.Operations {
		if op.Channel.Skip != "" {
			continue
		}
		for _, msg := range op.Messages {
			if seen[msg] {
				continue
			}
			seen[msg] = true
			if why := messageSkip(msg); why != "" {
				out = append(out, Skipped{Pos: msg.Pos, What: "message " + msg.Name, Why: why})
			} else if msg.Payload.AvroType == nil {
				jt := newJSONTypes(nil)
				if _, err := jt.payload(msg); err == nil {
					out = append(out, jt.notes...)
				}
			}
		}
	}
	return out
}

// messageSkip says why no code is generated for msg, empty when it is.
func messageSkip(msg *asyncapi.Message) string {
	switch {
	case msg.Payload == nil:
		return fmt.Sprintf("message %s has no payload; generated producers and consumers carry an Avro record or a JSON Schema payload", msg.Name)
	case msg.Payload.AvroType == nil && !jsonContent(msg.ContentType):
		return fmt.Sprintf("message %s has a JSON Schema payload in content type %s; generated producers and consumers write it as JSON (application/json), so it is checked by lint only", msg.Name, msg.ContentType)
	case msg.Payload.AvroType == nil:
		return ""
	case msg.Payload.Avro == nil:
		return fmt.Sprintf("the Avro payload of message %s is a %s, not a record; generated producers and consumers carry an Avro record", msg.Name, msg.Payload.AvroType.Kind)
	}
	return ""
}

// jsonContent reports whether a message content type is JSON (or unset):
// application/json, text/json or a +json type.
func jsonContent(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "" || mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

// CheckEvents runs every check generating the events of doc for module m
// runs, without writing code: lint calls it, so that lint passing means
// generate works.
func CheckEvents(cfg *config.Config, m config.Module, doc *asyncapi.Document) error {
	_, err := generateEvents(cfg, m, doc, namer{})
	return err
}

// generateEvents writes the typed producer for the send operations of doc
// and the typed handler interface and registration for its receive
// operations, with an events.Type per message. A receiver gets its own Go
// types of the events it receives (the owner's schema at generation time:
// its reader schema), so that no generated package imports another for
// events and a sync dependency the other way round (Reservation → Member)
// never makes an import cycle. Payload records that the module's avro
// folder does not hold (an .avsc elsewhere, a .json file, an inline
// schema) are declared here too, and so are the Go types of JSON Schema
// payloads ([jsonTypes]), whose events.Type is a JSON one named after the
// message. Channels and messages it cannot generate for ([EventsSkipped])
// are left out.
func generateEvents(cfg *config.Config, m config.Module, doc *asyncapi.Document, taken namer) ([]byte, error) {
	imports := map[string]string{"context": "", eventsPkg: ""}
	var sends, receives []eventMessage
	declared := map[string]eventMessage{} // events.Type vars this package declares
	used := map[string]bool{"Publisher": true, "NewPublisher": true, "EventHandler": true, "RegisterEventHandler": true,
		"ReceivedTopics": true, "ConsumerGroup": true, "TopicPartitions": true}
	for n := range taken {
		used[n] = true
	}
	jt := newJSONTypes(used)
	for _, op := range doc.Operations {
		if op.Channel.Skip != "" {
			continue
		}
		var msgs []*asyncapi.Message
		for _, msg := range op.Messages {
			if messageSkip(msg) == "" {
				msgs = append(msgs, msg)
			}
		}
		for _, msg := range msgs {
			em, err := describe(cfg, m, op, msg, imports, taken, jt)
			if err != nil {
				return nil, err
			}
			if prev, ok := declared[em.Var]; ok && !samePayload(prev.Msg.Payload, em.Msg.Payload) {
				return nil, &diag.Error{File: msg.File, Line: msg.Line, Column: msg.Column,
					Msg:  fmt.Sprintf("message %s: its payload %s differs from the payload of the same name of message %s", msg.Name, em.Type, prev.Msg.Name),
					Hint: "give the payloads different names, or make them identical"}
			}
			declared[em.Var] = em
			if op.Action == asyncapi.Send {
				em.Method = "Publish" + em.Event
				sends = append(sends, em)
			} else {
				em.Method = exported(op.Name)
				if len(msgs) > 1 {
					em.Method += em.Event
				}
				receives = append(receives, em)
			}
		}
	}
	if i := slices.IndexFunc(sends, func(e eventMessage) bool { return !e.Owned }); i >= 0 {
		return nil, &diag.Error{File: sends[i].Op.File, Line: sends[i].Op.Line, Column: sends[i].Op.Column,
			Msg:  fmt.Sprintf("operation %s sends %s, whose schema another module owns", sends[i].Op.Name, sends[i].Type),
			Hint: "a service sends only events whose schemas live in its own contract folder"}
	}
	// The types that avro.gen.go does not declare: events received from
	// other modules, and records kept outside the module's avro folder.
	var roots []*avroschema.Record
	for _, n := range slices.Sorted(maps.Keys(declared)) {
		em := declared[n]
		if !em.Declared && !em.JSON {
			roots = append(roots, em.Msg.Payload.Avro)
		}
		if k := em.Msg.Key; em.KeyKind == keyRecord && !declaredByAvro(m, k.Avro) {
			roots = append(roots, k.Avro)
		}
	}
	var decls []byte
	if len(roots) > 0 {
		records, err := reachable(roots...)
		if err != nil {
			return nil, err
		}
		body, imps, err := avroDecls(records, nil, taken)
		if err != nil {
			return nil, err
		}
		decls = body
		for k, v := range imps {
			imports[k] = v
		}
	}
	decls = append(decls, jt.code()...)
	for imp := range jt.imports {
		imports[imp] = ""
	}
	if len(declared) == 0 {
		// Nothing to publish or handle (every channel or message skipped):
		// the file holds TopicPartitions only.
		delete(imports, "context")
		delete(imports, eventsPkg)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n// source: %s\n\n", Header, doc.File)
	skipped := EventsSkipped(doc)
	for _, untyped := range []bool{false, true} {
		title := "// Not generated (see keiyaku lint):\n"
		if untyped {
			title = "// Not typed (see keiyaku lint):\n"
		}
		for _, s := range skipped {
			if s.Untyped == untyped {
				fmt.Fprintf(&b, "%s//   - %s (%s:%d): %s\n", title, s.What, s.File, s.Line, s.Why)
				title = ""
			}
		}
		if title == "" {
			b.WriteString("\n")
		}
	}
	fmt.Fprintf(&b, "package %s\n\n", m.GoPackage())
	for _, em := range declared {
		switch em.KeyKind {
		case keyInt32, keyInt64:
			imports[codecPkg] = ""
		}
	}
	writeImports(&b, imports)
	b.Write(decls)

	for _, n := range slices.Sorted(maps.Keys(declared)) {
		em := declared[n]
		fmt.Fprintf(&b, "// %s is the %s message of channel %s (topic %s):\n// its type, topic, schema and key, for events.Publish and events.Handle.\n",
			em.Var, em.Msg.Name, em.Channel.Name, em.Channel.Address)
		key := "func(*" + em.Type + ") string { return \"\" }"
		switch em.KeyKind {
		case keyField:
			key = fmt.Sprintf("func(e *%s) string { return e.%s }", em.Type, em.KeyField)
			if em.KeyPtr {
				b.WriteString("// Its key field is optional: an event without one has an empty key.\n")
				key = fmt.Sprintf("func(e *%s) string {\n\t\tif e.%s == nil {\n\t\t\treturn \"\"\n\t\t}\n\t\treturn *e.%s\n\t}", em.Type, em.KeyField, em.KeyField)
			}
		case keyNone:
			b.WriteString("// Its records have no key (a null key): Key gives none.\n")
		case keyHeader:
			fmt.Fprintf(&b, "// Its record key is the value of its header %s: Key gives none.\n", em.KeyField)
		default:
			fmt.Fprintf(&b, "// Its key (%s) is given to each publish call: Key gives none.\n", em.KeyKind)
		}
		keySubject := ""
		if em.KeyKind == keyRecord {
			keySubject = fmt.Sprintf("\tKeySubject: %q,\n", em.Subjects.Key)
		}
		if em.JSON {
			fmt.Fprintf(&b, "// Its values are JSON (the payload is a JSON Schema); its ce_type is the\n// message name.\nvar %s = events.Type[%s]{\n\tName: %q,\n\tTopic: %q,\n\tContentType: events.ContentTypeJSON,\n%s\tKey: %s,\n}\n\n",
				em.Var, em.Type, em.Msg.Name, em.Channel.Address, keySubject, key)
			continue
		}
		fmt.Fprintf(&b, "// Its schema registers under the Schema Registry subject %s (%s).\nvar %s = events.Type[%s]{\n\tName: %q,\n\tTopic: %q,\n\tSchema: %sSchema,\n\tSubject: %q,\n%s\tKey: %s,\n}\n\n",
			em.Subjects.Value, em.Subjects.Strategy, em.Var, em.Type, em.Msg.Payload.Avro.Name, em.Channel.Address, em.Type, em.Subjects.Value, keySubject, key)
	}

	// Topics this document works on, with their partitions, for creating
	// them (e.g. in an embedded broker).
	var topics []*asyncapi.Channel
	for _, op := range doc.Operations {
		if op.Channel.Skip == "" && !slices.Contains(topics, op.Channel) {
			topics = append(topics, op.Channel)
		}
	}
	slices.SortFunc(topics, func(a, b *asyncapi.Channel) int { return strings.Compare(a.Address, b.Address) })
	b.WriteString("// TopicPartitions maps the Kafka topics of this contract's operations to\n// the partition count of their Kafka binding (1, Kafka's default, when\n// unset), for creating them (e.g. in an embedded broker).\nvar TopicPartitions = map[string]int32{\n")
	for _, c := range topics {
		parts := 1
		if c.Kafka != nil && c.Kafka.Partitions > 0 {
			parts = c.Kafka.Partitions
		}
		fmt.Fprintf(&b, "\t%q: %d,\n", c.Address, parts)
	}
	b.WriteString("}\n\n")

	if len(sends) > 0 {
		writePublisher(&b, doc, sends)
	}

	if len(receives) > 0 {
		b.WriteString("// EventHandler handles the events this service receives. A method\n// returning an error is retried with backoff until it succeeds, its\n// partition waiting; one returning events.Permanent(err) sends the record to\n// the consumer group's dead-letter topic. Handlers must be idempotent (an\n// event may be delivered again).\ntype EventHandler interface {\n")
		for _, r := range receives {
			summary := strings.TrimSpace(r.Op.Summary)
			if summary == "" {
				summary = "Handles a " + r.Type + "."
			}
			fmt.Fprintf(&b, "\t// %s handles %s (operation %s): %s\n\t%s(ctx context.Context, env events.Envelope, evt *%s) error\n", r.Method, r.Type, r.Op.Name, summary, r.Method, r.Type)
		}
		b.WriteString("}\n\n// RegisterEventHandler registers h on c for every event this service\n// receives. Call it before c.Run.\nfunc RegisterEventHandler(c *events.Consumer, h EventHandler) {\n")
		for _, r := range receives {
			fmt.Fprintf(&b, "\tevents.Handle(c, %s, h.%s)\n", r.Var, r.Method)
		}
		b.WriteString("}\n\n")
		var topics []string
		for _, r := range receives {
			if !slices.Contains(topics, r.Channel.Address) {
				topics = append(topics, r.Channel.Address)
			}
		}
		fmt.Fprintf(&b, "// ReceivedTopics are the topics to consume for EventHandler.\nvar ReceivedTopics = %#v\n\n", topics)
		if group := consumerGroup(receives); group != "" {
			fmt.Fprintf(&b, "// ConsumerGroup is the Kafka consumer group of the receive operations\n// (their Kafka binding's groupId).\nconst ConsumerGroup = %q\n", group)
		}
	}
	src, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("generate events of %s: format: %w\n%s", m.Path, err, b.Bytes())
	}
	return src, nil
}

// writePublisher writes the Publisher of the send operations.
func writePublisher(b *bytes.Buffer, doc *asyncapi.Document, sends []eventMessage) {
	var ops []string
	for _, s := range sends {
		ops = append(ops, s.Op.Name)
	}
	fmt.Fprintf(b, "// Publisher sends the events of %s (operations %s).\n// It is safe for concurrent use.\ntype Publisher struct{ p *events.Producer }\n\n", doc.Info.Title, strings.Join(slices.Compact(ops), ", "))
	b.WriteString("// NewPublisher returns a Publisher sending through p.\nfunc NewPublisher(p *events.Producer) *Publisher { return &Publisher{p: p} }\n\n")
	for _, s := range sends {
		summary := strings.TrimSpace(s.Op.Summary)
		if summary == "" {
			summary = "Sends a " + s.Type + "."
		}
		param, keyExpr := "", ""
		switch s.KeyKind {
		case keyString:
			param, keyExpr = "key string, ", "key"
		case keyInt32:
			param, keyExpr = "key int32, ", "codec.Int32Key(key)"
		case keyInt64:
			param, keyExpr = "key int64, ", "codec.Int64Key(key)"
		case keyRecord:
			param, keyExpr = "key *"+s.KeyType+", ", "k"
		}
		keyDoc := ""
		switch s.KeyKind {
		case keyNone:
			keyDoc = " The record has no key (a null key)."
		case keyHeader:
			keyDoc = " The record key is the value of its header " + s.KeyField + "."
		case keyString, keyInt32, keyInt64:
			keyDoc = " key is the record key."
		case keyRecord:
			keyDoc = " key, written with its own schema by the producer's codec\n// (events.EncodeKey), is the record key; a handler reads it with env.DecodeKey."
		}
		fmt.Fprintf(b, "// %s publishes evt on %s and waits for the broker (operation\n// %s). %s%s\n", s.Method, s.Channel.Address, s.Op.Name, summary, keyDoc)
		fmt.Fprintf(b, "func (p *Publisher) %s(ctx context.Context, %sevt *%s) error {\n", s.Method, param, s.Type)
		switch s.KeyKind {
		case keyField:
			fmt.Fprintf(b, "\treturn events.Publish(ctx, p.p, %s, evt)\n}\n\n", s.Var)
		case keyNone, keyHeader:
			fmt.Fprintf(b, "\trec, err := p.%sRecord(ctx, evt)\n\tif err != nil {\n\t\treturn err\n\t}\n\treturn p.p.Send(ctx, rec)\n}\n\n", s.Event)
		default:
			writeRecordKey(b, s, "err")
			fmt.Fprintf(b, "\ttyp := %s\n\ttyp.Key = func(*%s) string { return %s }\n\treturn events.Publish(ctx, p.p, typ, evt)\n}\n\n", s.Var, s.Type, keyExpr)
		}
		fmt.Fprintf(b, "// %sRecord encodes evt as a Kafka record with all its headers, to be\n// sent later (e.g. by a transactional outbox relay).%s\nfunc (p *Publisher) %sRecord(ctx context.Context, %sevt *%s) (*kgo.Record, error) {\n", s.Event, keyDoc, s.Event, param, s.Type)
		switch s.KeyKind {
		case keyField:
			fmt.Fprintf(b, "\treturn events.NewRecord(ctx, p.p, %s, evt)\n}\n\n", s.Var)
		case keyNone:
			fmt.Fprintf(b, "\trec, err := events.NewRecord(ctx, p.p, %s, evt)\n\tif err != nil {\n\t\treturn nil, err\n\t}\n\trec.Key = nil\n\treturn rec, nil\n}\n\n", s.Var)
		case keyHeader:
			fmt.Fprintf(b, "\trec, err := events.NewRecord(ctx, p.p, %s, evt)\n\tif err != nil {\n\t\treturn nil, err\n\t}\n\trec.Key = nil\n\tfor _, h := range rec.Headers {\n\t\tif h.Key == %s {\n\t\t\trec.Key = h.Value\n\t\t\tbreak\n\t\t}\n\t}\n\treturn rec, nil\n}\n\n", s.Var, s.KeyConst)
		default:
			writeRecordKey(b, s, "nil, err")
			fmt.Fprintf(b, "\ttyp := %s\n\ttyp.Key = func(*%s) string { return %s }\n\treturn events.NewRecord(ctx, p.p, typ, evt)\n}\n\n", s.Var, s.Type, keyExpr)
		}
	}
}

// writeRecordKey writes the encoding of an Avro record key into k, by the
// producer's codec (events.EncodeKey), for a method returning ret on error.
func writeRecordKey(b *bytes.Buffer, s eventMessage, ret string) {
	if s.KeyKind != keyRecord {
		return
	}
	fmt.Fprintf(b, "\tk, err := events.EncodeKey(ctx, p.p, %sSchema, %s.KeySubject, key)\n\tif err != nil {\n\t\treturn %s\n\t}\n", s.KeyType, s.Var, ret)
}

// declaredByAvro reports whether avro.gen.go of module m declares rec: an
// .avsc file of its avro folder.
func declaredByAvro(m config.Module, rec *avroschema.Record) bool {
	return path.Dir(rec.File) == path.Join(m.Path, AvroDir) && path.Ext(rec.File) == avroschema.Extension
}

// samePayload reports whether two payloads are the same schema.
func samePayload(a, b *asyncapi.Schema) bool {
	if a.Avro != nil || b.Avro != nil {
		return a.Avro != nil && b.Avro != nil && a.Avro.Canonical == b.Avro.Canonical
	}
	return bytes.Equal(a.JSON, b.JSON)
}

// describe resolves what code needs of one message of an operation,
// declaring the Go types of a JSON Schema payload in jt.
func describe(cfg *config.Config, m config.Module, op *asyncapi.Operation, msg *asyncapi.Message, imports map[string]string, taken namer, jt *jsonTypes) (eventMessage, error) {
	at := func(format string, args ...any) error {
		return &diag.Error{File: msg.File, Line: msg.Line, Column: msg.Column, Msg: fmt.Sprintf(format, args...)}
	}
	rec := msg.Payload.Avro
	file := msg.Payload.File
	if rec != nil {
		file = rec.File
	}
	owner, ok := ownerOf(cfg, file)
	if !ok {
		return eventMessage{}, at("message %s: no module of keiyaku.yaml holds %s", msg.Name, file)
	}
	em := eventMessage{Msg: msg, Channel: op.Channel, Op: op, Owned: owner.Path == m.Path,
		Subjects: subjects.Of(cfg.Breaking.Avro, m.Path, op.Channel, msg)}
	if rec != nil {
		em.Type, em.Event = taken.name(rec.Name), typeName(rec.Name)
		em.Var = em.Event + "Event"
		em.Declared = em.Owned && declaredByAvro(m, rec)
	} else {
		typ, err := jt.payload(msg)
		if err != nil {
			return eventMessage{}, at("%v", err)
		}
		// Named after the message, its ce_type: two messages may share
		// one payload schema.
		em.Type, em.Event, em.JSON = typ, goIdent(msg.Name), true
		em.Var = em.Event + "Event"
		jt.used[em.Var] = true
	}
	if op.Action == asyncapi.Send {
		imports["github.com/twmb/franz-go/pkg/kgo"] = ""
	}
	kind, field, err := keyOf(msg)
	if err != nil {
		return eventMessage{}, err
	}
	em.KeyKind = kind
	if kind == keyRecord {
		if o, ok := ownerOf(cfg, msg.Key.Avro.File); !ok || (o.Path != m.Path && op.Action == asyncapi.Send) {
			return eventMessage{}, at("message %s: the Avro key record %s is not in this module", msg.Name, msg.Key.Avro.Name)
		}
		em.KeyType = taken.name(msg.Key.Avro.Name)
	}
	if kind == keyHeader {
		em.KeyField, em.KeyConst = field, keyHeaders[field]
	}
	if kind != keyField {
		return em, nil
	}
	if em.JSON {
		f, ok := jt.field(em.Type, field)
		switch {
		case !ok:
			return eventMessage{}, jsonKeyError(msg, jt, em.Type, fmt.Sprintf("message %s: the key field %q (%s) is not a property of its payload %s", msg.Name, field, KeyFieldExtension, em.Type))
		case f.Type != "string" && f.Type != "*string":
			return eventMessage{}, jsonKeyError(msg, jt, em.Type, fmt.Sprintf("message %s: the key field %q is not a string (it generates as %s); %s names a string property", msg.Name, field, f.Type, KeyFieldExtension))
		}
		em.KeyField, em.KeyPtr = f.Go, f.Type == "*string"
		return em, nil
	}
	i := slices.IndexFunc(rec.Fields, func(f *avroschema.Field) bool { return f.Name == field })
	if i < 0 {
		return eventMessage{}, keyError(msg, rec, fmt.Sprintf("message %s: the key field %q (%s) is not a field of %s", msg.Name, field, KeyFieldExtension, rec.Name))
	}
	if k := rec.Fields[i].Type; k.Kind != avroschema.KindString {
		return eventMessage{}, keyError(msg, rec, fmt.Sprintf("message %s: the key field %q is %s; %s names a string field", msg.Name, field, k.Kind, KeyFieldExtension))
	}
	em.KeyField = exported(field)
	return em, nil
}

// jsonKeyError is keyError for a JSON Schema payload, the struct typ: its
// hint names a string property that could hold the key.
func jsonKeyError(msg *asyncapi.Message, jt *jsonTypes, typ, text string) error {
	p := msg.Key.Pos
	var props []string
	if d := jt.decls[typ]; d != nil {
		for _, f := range d.fields {
			if f.Type == "string" || f.Type == "*string" {
				props = append(props, f.Prop)
			}
		}
	}
	hint := fmt.Sprintf("%s names a string property of the payload %s, the aggregate id", KeyFieldExtension, typ)
	if f := keyCandidate(props); f != "" {
		hint = fmt.Sprintf("write %s: %s (a string property of %s), or drop %s to pass the key to each publish call", KeyFieldExtension, f, typ, KeyFieldExtension)
	} else {
		hint += "; it has none: drop " + KeyFieldExtension + " to pass the key to each publish call"
	}
	return &diag.Error{File: p.File, Line: p.Line, Column: p.Column, Msg: text, Hint: hint}
}

// keyError is an error in the key schema of msg, with a hint naming a
// string field of its payload rec that could hold the key.
func keyError(msg *asyncapi.Message, rec *avroschema.Record, text string) error {
	p := msg.Key.Pos
	hint := fmt.Sprintf("%s names a string field of the payload %s, the aggregate id", KeyFieldExtension, rec.Name)
	if f := KeyCandidate(rec); f != "" {
		hint = fmt.Sprintf("write %s: %s (a string field of %s), or drop %s to pass the key to each publish call", KeyFieldExtension, f, rec.Name, KeyFieldExtension)
	} else {
		hint += "; it has none: drop " + KeyFieldExtension + " to pass the key to each publish call"
	}
	return &diag.Error{File: p.File, Line: p.Line, Column: p.Column, Msg: text, Hint: hint}
}

// KeyCandidate returns the string field of rec most likely to be its
// aggregate id: the first whose name ends in "id" (any case), else the
// first string field; empty when rec has no string field.
func KeyCandidate(rec *avroschema.Record) string {
	var names []string
	for _, f := range rec.Fields {
		if f.Type.Kind == avroschema.KindString {
			names = append(names, f.Name)
		}
	}
	return keyCandidate(names)
}

// keyCandidate returns the name of names, string fields in order, most
// likely to be the aggregate id: the first ending in "id" (any case), else
// the first; empty for none.
func keyCandidate(names []string) string {
	for _, n := range names {
		if strings.HasSuffix(strings.ToLower(n), "id") {
			return n
		}
	}
	if len(names) > 0 {
		return names[0]
	}
	return ""
}

// keyOf reads the kind of the record key from the message's Kafka key
// schema: none without one; a payload field with x-keiyaku-field; else a
// string, int or long the publisher is given.
func keyOf(msg *asyncapi.Message) (kind, field string, err error) {
	k := msg.Key
	if k == nil {
		return keyNone, "", nil
	}
	at := func(text, hint string) error {
		return &diag.Error{File: k.File, Line: k.Line, Column: k.Column, Msg: fmt.Sprintf("message %s: %s", msg.Name, text), Hint: hint}
	}
	const kinds = "a Kafka key is a string, an int or a long (type: string, or type: integer with format: int32 or int64), an Avro record, or a string field of the payload named by " + KeyFieldExtension
	if t := k.AvroType; t != nil {
		switch {
		case t.Kind == avroschema.KindString:
			return keyString, "", nil
		case t.Kind == avroschema.KindInt && t.Logical == "":
			return keyInt32, "", nil
		case t.Kind == avroschema.KindLong && t.Logical == "":
			return keyInt64, "", nil
		case t.Kind == avroschema.KindRecord:
			return keyRecord, "", nil
		}
		return "", "", at(fmt.Sprintf("the Avro Kafka key is %s, which generated publishers do not write", describeAvro(t)), kinds)
	}
	var key map[string]any
	if err := json.Unmarshal(k.JSON, &key); err != nil {
		return "", "", at("the Kafka key schema is not a JSON Schema object", kinds)
	}
	if h, ok := key[KeyHeaderExtension]; ok {
		name, _ := h.(string)
		if keyHeaders[name] == "" {
			return "", "", at(fmt.Sprintf("%s %v is not a header every record carries", KeyHeaderExtension, h),
				"name one of: "+strings.Join(slices.Sorted(maps.Keys(keyHeaders)), ", ")+" (ce_id: each event its own key)")
		}
		return keyHeader, name, nil
	}
	if f, ok := key[KeyFieldExtension]; ok {
		name, _ := f.(string)
		if name == "" {
			return "", "", at(fmt.Sprintf("%s must be the name of a payload field, not %v", KeyFieldExtension, f), kinds)
		}
		if t, ok := key["type"]; ok && t != "string" {
			return "", "", at(fmt.Sprintf("the Kafka key with %s is of type %v; a payload field key is a string", KeyFieldExtension, t), "write type: string")
		}
		return keyField, name, nil
	}
	switch key["type"] {
	case "string":
		return keyString, "", nil
	case "integer":
		if key["format"] == "int32" {
			return keyInt32, "", nil
		}
		return keyInt64, "", nil
	}
	return "", "", at(fmt.Sprintf("the Kafka key schema (type %v) is not one generated publishers write", key["type"]), kinds)
}

// describeAvro names an Avro type for messages: its kind and name.
func describeAvro(t *avroschema.Type) string {
	s := string(t.Kind)
	if t.Name != "" {
		s += " " + t.Name
	}
	if t.Logical != "" {
		s += " (" + t.Logical + ")"
	}
	return "a " + s
}

// ownerOf returns the module whose folder holds file.
func ownerOf(cfg *config.Config, file string) (config.Module, bool) {
	for _, m := range slices.Concat(cfg.Modules, cfg.DepModules()) {
		if strings.HasPrefix(file, m.Path+"/") {
			return m, true
		}
	}
	// A file of a dependency's copy outside its module (the provider's
	// schemas of events the module receives) belongs to a provider module
	// this workspace does not generate: its types are copied in.
	for _, d := range cfg.Deps {
		if strings.HasPrefix(file, d.Dir()+"/") {
			return config.Module{Path: path.Dir(file), Dep: d.Name}, true
		}
	}
	return config.Module{}, false
}

// consumerGroup is the groupId const of the receive operations' Kafka
// bindings, when they agree on one.
func consumerGroup(receives []eventMessage) string {
	group := ""
	for _, r := range receives {
		if g := r.Op.Kafka.Group(); g != "" {
			if group != "" && group != g {
				return ""
			}
			group = g
		}
	}
	return group
}

// writeImports writes an import block: the standard library, then the
// rest, each sorted; a non-empty value is the alias.
func writeImports(b *bytes.Buffer, imports map[string]string) {
	var std, ext []string
	for imp := range imports {
		if strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
			ext = append(ext, imp)
		} else {
			std = append(std, imp)
		}
	}
	if len(imports) == 0 {
		return
	}
	slices.Sort(std)
	slices.Sort(ext)
	b.WriteString("import (\n")
	for _, imp := range std {
		fmt.Fprintf(b, "\t%q\n", imp)
	}
	b.WriteString("\n")
	for _, imp := range ext {
		if alias := imports[imp]; alias != "" {
			fmt.Fprintf(b, "\t%s %q\n", alias, imp)
		} else {
			fmt.Fprintf(b, "\t%q\n", imp)
		}
	}
	b.WriteString(")\n\n")
}
