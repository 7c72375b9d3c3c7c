package docs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
	"github.com/keiyaku/keiyaku/tools/internal/avroschema"
)

// eventOp is one AsyncAPI operation: a send or a receive on a topic.
type eventOp struct {
	Name, Title, Summary string
	Description          []string
	Action               asyncapi.Action
	Topic                string
	ChannelTitle         string
	Partitions           int
	Group                string // the Kafka consumer group, when the binding fixes it
	Messages             []*message
	Peers                []string // the services on the other side
}

// message is one kind of Kafka record.
type message struct {
	Name, Anchor, Title, Summary string
	Description                  []string
	ContentType                  string
	Key, Headers                 string // JSON Schemas, indented
	Payload                      *avroView
	PayloadJSON                  string // a payload that is JSON Schema, indented
}

// avroView is an Avro payload: its record and every named type it uses,
// each as a table.
type avroView struct {
	Name, Doc, File string
	Fingerprint     string
	Types           []avroType
}

type avroType struct {
	Name, Anchor, Kind, Doc string
	Fields                  []avroField
	Symbols                 []string
	Size                    int
}

type avroField struct {
	Name, Type, TypeAnchor, Default, Doc string
	HasDefault                           bool
}

// events lists the operations of a document and the distinct messages they
// use, in document order.
func events(doc *asyncapi.Document) ([]*eventOp, []*message) {
	var ops []*eventOp
	var msgs []*message
	byMsg := map[*asyncapi.Message]*message{}
	for _, op := range doc.Operations {
		v := &eventOp{
			Name: op.Name, Title: op.Title, Summary: op.Summary, Description: paragraphs(op.Description),
			Action: op.Action,
		}
		if op.Channel != nil {
			v.Topic = topicOf(op.Channel)
			v.ChannelTitle = op.Channel.Title
			if op.Channel.Kafka != nil {
				v.Partitions = op.Channel.Kafka.Partitions
			}
		}
		if op.Kafka != nil && op.Kafka.GroupID != nil {
			var g struct {
				Const string `json:"const"`
			}
			if json.Unmarshal(op.Kafka.GroupID.JSON, &g) == nil {
				v.Group = g.Const
			}
		}
		for _, m := range op.Messages {
			mv := byMsg[m]
			if mv == nil {
				mv = newMessage(m)
				byMsg[m] = mv
				msgs = append(msgs, mv)
			}
			v.Messages = append(v.Messages, mv)
		}
		ops = append(ops, v)
	}
	return ops, msgs
}

func newMessage(m *asyncapi.Message) *message {
	v := &message{
		Name: m.Name, Anchor: "msg-" + anchor(m.Name), Title: m.Title, Summary: m.Summary,
		Description: paragraphs(m.Description), ContentType: m.ContentType,
	}
	if m.Key != nil {
		v.Key = schemaText(m.Key)
	}
	if m.Headers != nil {
		v.Headers = schemaText(m.Headers)
	}
	if m.Payload != nil {
		if m.Payload.Avro != nil {
			v.Payload = newAvroView(m.Payload.Avro)
		} else {
			v.PayloadJSON = schemaText(m.Payload)
		}
	}
	return v
}

// schemaText renders a JSON Schema (a key, headers) as indented JSON, or
// names the Avro record.
func schemaText(s *asyncapi.Schema) string {
	if s.Avro != nil {
		return "Avro record " + s.Avro.Name
	}
	if s.AvroType != nil {
		return "Avro " + s.AvroCanonical
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, s.JSON, "", "  "); err != nil {
		return string(s.JSON)
	}
	return buf.String()
}

// newAvroView tabulates a record and every named type reachable from it,
// the record first, then the others by full name.
func newAvroView(r *avroschema.Record) *avroView {
	v := &avroView{Name: r.Name, Doc: r.Doc, File: r.File, Fingerprint: fmt.Sprintf("%016x", r.Fingerprint)}
	seen := map[*avroschema.Type]bool{}
	var named []*avroschema.Type
	var collect func(t *avroschema.Type)
	collect = func(t *avroschema.Type) {
		if t == nil {
			return
		}
		switch t.Kind {
		case avroschema.KindRecord, avroschema.KindEnum, avroschema.KindFixed:
			if seen[t] {
				return
			}
			seen[t] = true
			named = append(named, t)
			if t.Record != nil {
				for _, f := range t.Record.Fields {
					collect(f.Type)
				}
			}
		case avroschema.KindArray:
			collect(t.Items)
		case avroschema.KindMap:
			collect(t.Values)
		case avroschema.KindUnion:
			for _, b := range t.Branches {
				collect(b)
			}
		}
	}
	collect(r.Type)
	if len(named) > 1 {
		slices.SortFunc(named[1:], func(a, b *avroschema.Type) int { return strings.Compare(a.Name, b.Name) })
	}
	for _, t := range named {
		at := avroType{Name: t.Name, Anchor: avroAnchor(t), Kind: string(t.Kind), Doc: t.Doc, Symbols: t.Symbols, Size: t.Size}
		if t.Record != nil {
			at.Doc = t.Record.Doc
			for _, f := range t.Record.Fields {
				af := avroField{Name: f.Name, Type: avroTypeName(f.Type), Doc: oneLine(f.Doc), HasDefault: f.HasDefault}
				if f.HasDefault {
					af.Default = compactJSON(f.Default)
				}
				if n := namedIn(f.Type); n != nil {
					af.TypeAnchor = avroAnchor(n)
				}
				at.Fields = append(at.Fields, af)
			}
		}
		v.Types = append(v.Types, at)
	}
	return v
}

func avroAnchor(t *avroschema.Type) string { return "avro-" + anchor(t.Name) }

// namedIn returns the named type a field's type refers to, directly or as
// the non-null branch of an optional field, or nil.
func namedIn(t *avroschema.Type) *avroschema.Type {
	if inner, ok := t.Nullable(); ok {
		t = inner
	}
	switch t.Kind {
	case avroschema.KindRecord, avroschema.KindEnum, avroschema.KindFixed:
		return t
	}
	return nil
}

// avroTypeName writes a type as a reader thinks of it: "string (uuid)",
// "int (date)", "bytes (decimal(10,2))", "Money (record)",
// "array<string>", "null | string".
func avroTypeName(t *avroschema.Type) string {
	return avroTypeNameDepth(t, 0)
}

func avroTypeNameDepth(t *avroschema.Type, depth int) string {
	if t == nil {
		return "?"
	}
	if depth > maxSchemaDepth {
		return "…"
	}
	switch t.Kind {
	case avroschema.KindRecord, avroschema.KindEnum, avroschema.KindFixed:
		return shortName(t.Name) + " (" + string(t.Kind) + ")"
	case avroschema.KindArray:
		return "array<" + avroTypeNameDepth(t.Items, depth+1) + ">"
	case avroschema.KindMap:
		return "map<" + avroTypeNameDepth(t.Values, depth+1) + ">"
	case avroschema.KindUnion:
		var bs []string
		for _, b := range t.Branches {
			bs = append(bs, avroTypeNameDepth(b, depth+1))
		}
		return strings.Join(bs, " | ")
	}
	s := string(t.Kind)
	switch {
	case t.Logical == "decimal":
		s += fmt.Sprintf(" (decimal(%d,%d))", t.Precision, t.Scale)
	case t.Logical != "":
		s += " (" + t.Logical + ")"
	}
	return s
}

// shortName drops the namespace of a full name.
func shortName(full string) string { return full[strings.LastIndex(full, ".")+1:] }
