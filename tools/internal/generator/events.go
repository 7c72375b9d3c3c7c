package generator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/format"
	"path"
	"slices"
	"strings"

	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
	"github.com/keiyaku/keiyaku/tools/internal/avroschema"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/diag"
)

// AsyncAPIFile is the name of a module's AsyncAPI contract.
const AsyncAPIFile = "asyncapi.yaml"

// EventsFile is the generated file of a module's typed producer and
// consumer.
const EventsFile = "events" + Suffix

// KeyFieldExtension names, in a message's Kafka key schema, the payload
// field that holds the record key (the aggregate id).
const KeyFieldExtension = "x-keiyaku-field"

const eventsPkg = "github.com/keiyaku/keiyaku/runtime/events"

// eventMessage is one message an AsyncAPI document sends or receives.
type eventMessage struct {
	Msg      *asyncapi.Message
	Channel  *asyncapi.Channel
	Type     string // Go type of the payload, in the owner's package: "ReservationCreated"
	Var      string // the events.Type variable: "ReservationCreatedEvent"
	Owned    bool   // the Avro schema lives in this module (avro.gen.go declares the type)
	KeyField string // Go field of the key: "ReservationID"
	Op       *asyncapi.Operation
	Method   string // "PublishReservationCreated" / "OnReservationCreated"
}

// generateEvents writes the typed producer for the send operations of doc
// and the typed handler interface and registration for its receive
// operations, with an events.Type per message. A receiver gets its own Go
// types of the events it receives (the owner's schema at generation time:
// its reader schema), so that no generated package imports another for
// events and a sync dependency the other way round (Reservation → Member)
// never makes an import cycle.
func generateEvents(cfg *config.Config, m config.Module, doc *asyncapi.Document, taken namer) ([]byte, error) {
	imports := map[string]string{"context": "", eventsPkg: ""}
	var sends, receives []eventMessage
	declared := map[string]eventMessage{} // events.Type vars this package declares
	for _, op := range doc.Operations {
		for _, msg := range op.Messages {
			em, err := describe(cfg, m, op, msg, imports, taken)
			if err != nil {
				return nil, err
			}
			declared[em.Var] = em
			if op.Action == asyncapi.Send {
				em.Method = "Publish" + em.Type
				sends = append(sends, em)
			} else {
				em.Method = exported(op.Name)
				if len(op.Messages) > 1 {
					em.Method += em.Type
				}
				receives = append(receives, em)
			}
		}
	}
	if i := slices.IndexFunc(sends, func(e eventMessage) bool { return !e.Owned }); i >= 0 {
		return nil, &diag.Error{File: sends[i].Op.File, Line: sends[i].Op.Line, Column: sends[i].Op.Column,
			Msg:  fmt.Sprintf("operation %s sends %s, whose Avro schema another module owns", sends[i].Op.Name, sends[i].Type),
			Hint: "a service sends only events whose schemas live in its own contract folder"}
	}
	// The types of events received from other modules.
	var foreign []*avroschema.Record
	for _, em := range declared {
		if !em.Owned {
			foreign = append(foreign, em.Msg.Payload.Avro)
		}
	}
	var decls []byte
	if len(foreign) > 0 {
		body, imps, err := avroDecls(reachable(foreign...), taken)
		if err != nil {
			return nil, err
		}
		decls = body
		for k, v := range imps {
			imports[k] = v
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n// source: %s\n\npackage %s\n\n", Header, doc.File, m.GoPackage())
	writeImports(&b, imports)
	b.Write(decls)

	names := make([]string, 0, len(declared))
	for n := range declared {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		em := declared[n]
		fmt.Fprintf(&b, "// %s is the %s message of channel %s (topic %s):\n// its type, topic, schema and key, for events.Publish and events.Handle.\n",
			em.Var, em.Msg.Name, em.Channel.Name, em.Channel.Address)
		fmt.Fprintf(&b, "var %s = events.Type[%s]{\n\tName: %q,\n\tTopic: %q,\n\tSchema: %sSchema,\n\tKey: func(e *%s) string { return e.%s },\n}\n\n",
			em.Var, em.Type, em.Msg.Payload.Avro.Name, em.Channel.Address, em.Type, em.Type, em.KeyField)
	}

	// Topics this document works on, with their partitions, for creating
	// them (e.g. in an embedded broker).
	var topics []*asyncapi.Channel
	for _, op := range doc.Operations {
		if !slices.Contains(topics, op.Channel) {
			topics = append(topics, op.Channel)
		}
	}
	slices.SortFunc(topics, func(a, b *asyncapi.Channel) int { return strings.Compare(a.Address, b.Address) })
	b.WriteString("// TopicPartitions maps the Kafka topics of this contract's operations to\n// the partition count of their Kafka binding (0 when unset), for creating\n// them (e.g. in an embedded broker).\nvar TopicPartitions = map[string]int32{\n")
	for _, c := range topics {
		parts := 0
		if c.Kafka != nil {
			parts = c.Kafka.Partitions
		}
		fmt.Fprintf(&b, "\t%q: %d,\n", c.Address, parts)
	}
	b.WriteString("}\n\n")

	if len(sends) > 0 {
		var ops []string
		for _, s := range sends {
			ops = append(ops, s.Op.Name)
		}
		fmt.Fprintf(&b, "// Publisher sends the events of %s (operations %s).\n// It is safe for concurrent use.\ntype Publisher struct{ p *events.Producer }\n\n", doc.Info.Title, strings.Join(slices.Compact(ops), ", "))
		b.WriteString("// NewPublisher returns a Publisher sending through p.\nfunc NewPublisher(p *events.Producer) *Publisher { return &Publisher{p: p} }\n\n")
		for _, s := range sends {
			summary := strings.TrimSpace(s.Op.Summary)
			if summary == "" {
				summary = "Sends a " + s.Type + "."
			}
			fmt.Fprintf(&b, "// %s publishes evt on %s and waits for the broker (operation\n// %s). %s\nfunc (p *Publisher) %s(ctx context.Context, evt *%s) error {\n\treturn events.Publish(ctx, p.p, %s, evt)\n}\n\n",
				s.Method, s.Channel.Address, s.Op.Name, summary, s.Method, s.Type, s.Var)
			fmt.Fprintf(&b, "// %sRecord encodes evt as a Kafka record with all its headers, to be\n// sent later (e.g. by a transactional outbox relay).\nfunc (p *Publisher) %sRecord(ctx context.Context, evt *%s) (*kgo.Record, error) {\n\treturn events.NewRecord(ctx, p.p, %s, evt)\n}\n\n",
				s.Type, s.Type, s.Type, s.Var)
		}
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

// describe resolves what code needs of one message of an operation.
func describe(cfg *config.Config, m config.Module, op *asyncapi.Operation, msg *asyncapi.Message, imports map[string]string, taken namer) (eventMessage, error) {
	at := func(format string, args ...any) error {
		return &diag.Error{File: msg.File, Line: msg.Line, Column: msg.Column, Msg: fmt.Sprintf(format, args...)}
	}
	if msg.Payload == nil || msg.Payload.Avro == nil {
		return eventMessage{}, at("message %s: the payload is not an Avro record; generated producers and consumers carry Avro", msg.Name)
	}
	rec := msg.Payload.Avro
	owner, ok := ownerOf(cfg, rec.File)
	if !ok {
		return eventMessage{}, at("message %s: no module of keiyaku.yaml holds %s", msg.Name, rec.File)
	}
	em := eventMessage{Msg: msg, Channel: op.Channel, Op: op, Type: taken.name(rec.Name), Var: typeName(rec.Name) + "Event", Owned: owner.Path == m.Path}
	if op.Action == asyncapi.Send {
		imports["github.com/twmb/franz-go/pkg/kgo"] = ""
	}
	field, err := keyField(msg)
	if err != nil {
		return eventMessage{}, err
	}
	i := slices.IndexFunc(rec.Fields, func(f *avroschema.Field) bool { return f.Name == field })
	if i < 0 {
		return eventMessage{}, at("message %s: the key field %q (%s) is not a field of %s", msg.Name, field, KeyFieldExtension, rec.Name)
	}
	if k := rec.Fields[i].Type; k.Kind != avroschema.KindString {
		return eventMessage{}, at("message %s: the key field %q is %s; a record key is a string field", msg.Name, field, k.Kind)
	}
	em.KeyField = exported(field)
	return em, nil
}

// keyField reads the payload field that holds the record key from the
// message's Kafka key schema.
func keyField(msg *asyncapi.Message) (string, error) {
	at := func(s *asyncapi.Schema) error {
		p := msg.Pos
		if s != nil {
			p = s.Pos
		}
		return &diag.Error{File: p.File, Line: p.Line, Column: p.Column,
			Msg:  fmt.Sprintf("message %s: the Kafka key schema does not say which payload field holds the key", msg.Name),
			Hint: fmt.Sprintf("add %s: <field> to the key schema (bindings.kafka.key), e.g. %s: reservationId", KeyFieldExtension, KeyFieldExtension)}
	}
	if msg.Key == nil || msg.Key.JSON == nil {
		return "", at(msg.Key)
	}
	var key map[string]any
	if err := json.Unmarshal(msg.Key.JSON, &key); err != nil {
		return "", at(msg.Key)
	}
	field, _ := key[KeyFieldExtension].(string)
	if field == "" {
		return "", at(msg.Key)
	}
	return field, nil
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
