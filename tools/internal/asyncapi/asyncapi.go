// Package asyncapi loads AsyncAPI 3.0 and 3.1 documents: the contracts of
// Kafka events Keiyaku generates producers and consumers from, and any
// other AsyncAPI 3 document, which it checks.
//
// The model is the whole object model of the specification: info, servers
// (with variables and security), channels (address with {parameters},
// messages, servers, bindings of any protocol), operations (send or
// receive, messages, security, reply, traits), messages (payload, headers,
// correlationId, the Kafka key, traits) and every components map. Traits
// are applied as the specification says: merged under the object, whose
// own values win. A payload is an Avro schema (a $ref to an .avsc or .json
// file anywhere in the workspace, loaded with the .avsc files of its
// folder by [avroschema.Load], or written inline in the document) or a
// JSON Schema kept as JSON with its $refs inlined, with the names of the
// definitions they pointed at and the place of each object
// ([Schema.Nodes]). Bindings of protocols other than Kafka are
// checked only for their shape. A channel Keiyaku cannot generate code for
// (another protocol, an address with parameters or none) has a non-empty
// [Channel.Skip] saying why; it is no error of the document.
//
// Decoding is strict: in the objects the package models, a key it does not
// know is an error unless it is an x- extension. Every problem is a
// *[diag.Error] at the file, line and column to fix: invalid YAML, a broken
// or recursive $ref, a $ref to a URL, to an absolute path or out of the
// workspace (refused before anything is read), an alias bomb, an operation
// whose channel is not in the document, an operation message that is not a
// message of its channel, an unsupported schemaFormat, an Avro schema file
// that fails, an address {parameter} the channel does not declare.
//
// A document may $ref channels, messages and schemas of documents in other
// folders of the workspace with relative paths: a consumer's contract
// points at the channel that the producer's contract owns.
package asyncapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/keiyaku/keiyaku/tools/internal/avroschema"
	"github.com/keiyaku/keiyaku/tools/internal/diag"
	"github.com/keiyaku/keiyaku/tools/internal/yamlref"
)

// Versions are the AsyncAPI versions Load accepts.
var Versions = []string{"3.0.0", "3.1.0"}

// The schema formats of a Multi Format Schema Object that Load supports:
// Avro, as a $ref to an .avsc file, and JSON Schema, kept raw.
var (
	avroFormats = []string{
		"application/vnd.apache.avro;version=1.9.0",
		"application/vnd.apache.avro+json;version=1.9.0",
		"application/vnd.apache.avro+yaml;version=1.9.0",
	}
	jsonSchemaFormats = []string{
		"application/vnd.aai.asyncapi;version=3.0.0",
		"application/vnd.aai.asyncapi+json;version=3.0.0",
		"application/vnd.aai.asyncapi+yaml;version=3.0.0",
		"application/vnd.aai.asyncapi;version=3.1.0",
		"application/vnd.aai.asyncapi+json;version=3.1.0",
		"application/vnd.aai.asyncapi+yaml;version=3.1.0",
		"application/schema+json;version=draft-07",
		"application/schema+yaml;version=draft-07",
	}
)

// DefaultSchemaFormat is the format of a schema written without a
// schemaFormat in an AsyncAPI 3.0.0 document: an AsyncAPI Schema Object, a
// superset of JSON Schema draft-07. In a 3.1.0 document it ends in
// version=3.1.0.
const DefaultSchemaFormat = "application/vnd.aai.asyncapi+json;version=3.0.0"

// Action is what an operation does on its channel.
type Action string

// The actions of an operation.
const (
	Send    Action = "send"
	Receive Action = "receive"
)

// Pos is the place of a definition: a workspace-relative file and the
// 1-based line and column where the definition starts.
type Pos struct {
	File         string
	Line, Column int
}

func posOf(file string, n *yaml.Node) Pos { return Pos{File: file, Line: n.Line, Column: n.Column} }

// Document is a loaded AsyncAPI document with every $ref resolved. A
// definition reached from several places (a channel that three documents
// $ref, a message of a channel and of an operation) is one pointer.
type Document struct {
	// File is the workspace-relative path of the document.
	File string
	// AsyncAPI is the version the document declares, one of [Versions].
	AsyncAPI string
	// ID is the document's identifier, empty if none.
	ID string
	// Info describes the API.
	Info Info
	// DefaultContentType is the content type of messages that declare
	// none, empty if none.
	DefaultContentType string
	// Servers are the servers, in document order.
	Servers []*Server
	// Channels are the channels of the document's channels object, in
	// document order. A channel that is a $ref to another document is that
	// document's channel.
	Channels []*Channel
	// Operations are the operations, in document order.
	Operations []*Operation
	// Components holds the reusable definitions of the document.
	Components Components
	// Files are the workspace-relative paths of every file read to load the
	// document (YAML and .avsc), sorted: everything generated code from it
	// depends on.
	Files []string

	channelKeys []string // the key of each channel in Channels
}

// Channel returns the channel declared under name in the document's
// channels object, or nil.
func (d *Document) Channel(name string) *Channel {
	if i := slices.Index(d.channelKeys, name); i >= 0 {
		return d.Channels[i]
	}
	return nil
}

// Info is the info object of a document.
type Info struct {
	Title, Version, Description string
	Pos
}

// Server is a message broker.
type Server struct {
	// Name is the key of the server's definition.
	Name string
	// Host is the host:port of the broker.
	Host string
	// Protocol is the protocol: "kafka" or "kafka-secure" for Kafka; any
	// other (mqtt, amqp, ws, ...) is checked but not generated.
	Protocol        string
	ProtocolVersion string
	Pathname        string
	Title, Summary  string
	Description     string
	// Variables are the variables of Host and Pathname, in document order.
	Variables []*ServerVariable
	// Security are the security schemes the server accepts (any one).
	Security []*SecurityScheme
	Pos
}

// Kafka reports whether the server speaks the Kafka protocol.
func (s *Server) Kafka() bool { return s.Protocol == "kafka" || s.Protocol == "kafka-secure" }

// Channel is a Kafka topic and the messages sent on it.
type Channel struct {
	// Name is the key of the channel's definition, in the document that
	// defines it.
	Name string
	// Address is the Kafka topic (or the address of another protocol),
	// empty when the document writes null: an address known only at
	// runtime.
	Address                     string
	Title, Summary, Description string
	// Messages are the channel's messages, in document order.
	Messages []*Message
	// Parameters are the parameters of Address, in document order.
	Parameters []*Parameter
	// Servers are the servers the channel is on, nil meaning all of the
	// document's.
	Servers []*Server
	// Protocols are the protocols of the channel's bindings, sorted.
	Protocols []string
	// Kafka is the Kafka channel binding, nil if none.
	Kafka *KafkaChannel
	// Skip says why Keiyaku generates no code for the channel (another
	// protocol, parameters in the address, no address), empty when it
	// does.
	Skip string
	Pos

	keys []string // the key of each message in Messages
}

// Message returns the message declared under key in the channel's messages,
// or nil.
func (c *Channel) Message(key string) *Message {
	if i := slices.Index(c.keys, key); i >= 0 {
		return c.Messages[i]
	}
	return nil
}

// KafkaChannel is the Kafka binding of a channel.
type KafkaChannel struct {
	// Topic is the topic, the channel's address.
	Topic string
	// Partitions and Replicas are the topic's partition count and
	// replication factor, zero when unset.
	Partitions, Replicas int
	BindingVersion       string
}

// Operation is a send or a receive of messages on a channel.
type Operation struct {
	// Name is the operation's key in the operations object.
	Name   string
	Action Action
	// Channel is the channel the operation works on.
	Channel *Channel
	// Messages are the messages of the channel that the operation sends or
	// receives: those it lists, or all of the channel's when it lists none.
	Messages                    []*Message
	Title, Summary, Description string
	// Kafka is the Kafka binding of the operation, nil if none.
	Kafka *KafkaOperation
	// Security are the security schemes of the operation (any one).
	Security []*SecurityScheme
	// Reply is the reply of a request/reply operation, nil if none.
	Reply *Reply
	Pos
}

// KafkaOperation is the Kafka binding of an operation. GroupID and ClientID
// are JSON Schemas of the consumer group and client ids, nil when unset.
type KafkaOperation struct {
	GroupID, ClientID *Schema
	BindingVersion    string
}

// Group returns the consumer group the binding names: the const of its
// groupId schema, "" when k is nil or the groupId is not a string const.
func (k *KafkaOperation) Group() string {
	if k == nil || k.GroupID == nil {
		return ""
	}
	var s map[string]any
	if json.Unmarshal(k.GroupID.JSON, &s) != nil {
		return ""
	}
	g, _ := s["const"].(string)
	return g
}

// Message is one kind of Kafka record.
type Message struct {
	// Name is the message's name field, or the key of its definition when
	// it has none.
	Name                        string
	Title, Summary, Description string
	// ContentType is the message's content type, or the document's default
	// content type when it declares none.
	ContentType string
	// Payload is the schema of the record value, nil when the message
	// declares none.
	Payload *Schema
	// Headers is the JSON Schema of the record headers, nil if none.
	Headers *Schema
	// Key is the schema of the record key: the Kafka binding's key, nil
	// when there is none (records without a key).
	Key *Schema
	// CorrelationID says where the message carries its correlation id,
	// nil if none.
	CorrelationID *CorrelationID
	// Kafka is the rest of the Kafka message binding.
	Kafka KafkaMessage
	Pos
}

// KafkaMessage is the Kafka binding of a message, less its key.
type KafkaMessage struct {
	SchemaIDLocation, SchemaIDPayloadEncoding, SchemaLookupStrategy string
	BindingVersion                                                  string
}

// Schema is a schema in one of the supported formats.
type Schema struct {
	// Format is the schema format, [DefaultSchemaFormat] when the document
	// declares none.
	Format string
	// Avro is the Avro record of an Avro schema whose top is a record, nil
	// for JSON Schema.
	Avro *avroschema.Record
	// AvroType is the Avro type of an Avro schema (a record, a primitive
	// such as a string key, ...), nil for JSON Schema.
	AvroType *avroschema.Type
	// AvroCanonical is the Parsing Canonical Form of an Avro schema, empty
	// for JSON Schema: equal forms are the same schema.
	AvroCanonical string
	// JSON is the JSON Schema, with its $refs inlined, of a schema that is
	// not Avro; nil for Avro.
	JSON []byte
	// Nodes are the objects of JSON by their JSON Pointer ("" the top,
	// "/properties/user" a property): where each is written, and the name
	// of its definition when a $ref led to it. nil for Avro.
	Nodes map[string]JSONNode
	Pos
}

// JSONNode is an object of a JSON Schema.
type JSONNode struct {
	// Pos is where the object is written (after its $refs).
	Pos
	// Ref is the name of the definition a $ref led to, empty for an
	// object written in place: the last part of the $ref's pointer ("User"
	// for #/components/schemas/User), or the name of the file without
	// extension for a $ref to a whole file. The top of a components schema
	// is named by its key.
	Ref string
}

// Components holds the reusable definitions of a document, by name.
type Components struct {
	Schemas         map[string]*Schema
	Servers         map[string]*Server
	Messages        map[string]*Message
	Channels        map[string]*Channel
	Operations      map[string]*Operation
	Parameters      map[string]*Parameter
	SecuritySchemes map[string]*SecurityScheme
	ServerVariables map[string]*ServerVariable
	CorrelationIDs  map[string]*CorrelationID
	Replies         map[string]*Reply
	ReplyAddresses  map[string]*ReplyAddress
	Tags            map[string]*Tag
}

// Load reads the AsyncAPI document file (workspace-relative, forward
// slashes) below the workspace folder rootDir, and every file its $refs
// reach, through an [os.Root] at rootDir. A failure is a *[diag.Error]
// naming the file, line and column to fix; a canceled ctx stops the work
// with ctx's error. Load is safe for concurrent use.
func Load(ctx context.Context, rootDir, file string) (*Document, error) {
	abs, err := filepath.Abs(rootDir)
	if err != nil {
		return nil, fmt.Errorf("resolve workspace root: %w", err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("open workspace root: %w", err)
	}
	defer root.Close()
	return LoadFS(ctx, root.FS(), file)
}

// LoadFS is Load over any fs.FS holding the workspace, such as a baseline
// read from git.
func LoadFS(ctx context.Context, fsys fs.FS, file string) (*Document, error) {
	file = path.Clean(filepath.ToSlash(file))
	if path.IsAbs(file) || file == ".." || strings.HasPrefix(file, "../") {
		return nil, &diag.Error{File: file, Msg: "the document is outside the workspace: refused", Hint: "give its path relative to the workspace root"}
	}
	l := &loader{
		ctx:      ctx,
		fsys:     fsys,
		reads:    map[string]bool{},
		avro:     map[string]*avroResult{},
		servers:  map[*yaml.Node]*Server{},
		channels: map[*yaml.Node]*Channel{},
		messages: map[*yaml.Node]*Message{},
		schemas:  map[*yaml.Node]*Schema{},
		security: map[*yaml.Node]*SecurityScheme{},
		params:   map[*yaml.Node]*Parameter{},
		budget:   maxSchemaNodes,
	}
	read := yamlref.FSReader(fsys)
	l.res = yamlref.NewResolver(func(name string) ([]byte, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l.reads[name] = true
		return read(name)
	})
	data, err := l.res.Read(file)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.Is(err, fs.ErrNotExist):
			return nil, &diag.Error{File: file, Msg: "file not found", Hint: "create it or fix the path"}
		}
		return nil, &diag.Error{File: file, Msg: fmt.Sprintf("cannot read: %v", err)}
	}
	top, err := yamlref.Parse(file, data)
	if err != nil {
		return nil, err
	}
	if top == nil {
		return nil, &diag.Error{File: file, Line: 1, Column: 1, Msg: "empty document", Hint: `an AsyncAPI document starts with "asyncapi: 3.0.0"`}
	}
	l.res.Add(file, top)
	doc, err := l.document(file, top)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	doc.Files = slices.Sorted(func(yield func(string) bool) {
		for f := range l.reads {
			if !yield(f) {
				return
			}
		}
	})
	return doc, nil
}

// loader holds the state of one Load.
type loader struct {
	ctx   context.Context
	fsys  fs.FS
	res   *yamlref.Resolver
	reads map[string]bool
	avro  map[string]*avroResult // by folder

	// Definitions already decoded, by the node that defines them, so that
	// each is decoded once and is one pointer wherever it is used.
	servers  map[*yaml.Node]*Server
	channels map[*yaml.Node]*Channel
	messages map[*yaml.Node]*Message
	schemas  map[*yaml.Node]*Schema
	security map[*yaml.Node]*SecurityScheme
	params   map[*yaml.Node]*Parameter

	version            string // the document's AsyncAPI version
	defaultContentType string
	budget             int // JSON Schema nodes left to inline
}

// avroResult is the outcome of loading one folder of Avro schemas.
type avroResult struct {
	set *avroschema.Set
	err error
}

// avroSet loads the Avro schemas of a workspace-relative folder, with the
// extra schemas given, once.
func (l *loader) avroSet(dir string, extra ...avroschema.Source) (*avroschema.Set, error) {
	key := dir
	for _, e := range extra {
		key += "|" + e.File
	}
	if r, ok := l.avro[key]; ok {
		return r.set, r.err
	}
	set, err := avroschema.LoadWith(l.ctx, l.fsys, dir, extra...)
	l.avro[key] = &avroResult{set: set, err: err}
	if set != nil {
		for _, f := range set.Files {
			l.reads[f] = true
		}
	}
	return set, err
}
