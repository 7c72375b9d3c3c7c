package asyncapi

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/keiyaku/keiyaku/tools/internal/diag"
	"github.com/keiyaku/keiyaku/tools/internal/yamlref"
)

// errAt returns a diag.Error at node n of file.
func errAt(file string, n *yaml.Node, msg, hint string) *diag.Error {
	return &diag.Error{File: file, Line: n.Line, Column: n.Column, Msg: msg, Hint: hint}
}

// deref returns the node an alias stands for.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 64; i++ {
		n = n.Alias
	}
	return n
}

// kindName names the kind of a node for messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "null"
		}
		return fmt.Sprintf("the %s %q", strings.TrimPrefix(n.ShortTag(), "!!"), n.Value)
	}
	return "an alias"
}

// field decodes the value of one known key.
type field func(key, val *yaml.Node) error

// fields decodes the mapping n of file, a what, calling the function of
// each key. A key with no function is an error, unless it is an x-
// extension; so is a key written twice.
func fields(file string, n *yaml.Node, what string, known map[string]field) error {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return errAt(file, n, fmt.Sprintf("%s must be a mapping, not %s", what, kindName(n)), "")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			return errAt(file, k, fmt.Sprintf("%s has %q twice", what, k.Value), "remove one")
		}
		seen[k.Value] = true
		if strings.HasPrefix(k.Value, "x-") {
			continue
		}
		fn, ok := known[k.Value]
		if !ok {
			return errAt(file, k, fmt.Sprintf("unknown field %q in %s", k.Value, what),
				"known fields: "+strings.Join(slices.Sorted(maps.Keys(known)), ", ")+" (and x- extensions)")
		}
		if err := fn(k, deref(v)); err != nil {
			return err
		}
	}
	return nil
}

// str returns a string field's decoder storing into dst.
func str(file string, dst *string) field {
	return func(key, val *yaml.Node) error {
		if val.Kind != yaml.ScalarNode || val.ShortTag() != "!!str" {
			return errAt(file, val, fmt.Sprintf("%s must be a string, not %s", key.Value, kindName(val)), "quote it")
		}
		*dst = val.Value
		return nil
	}
}

// oneOf returns a string field's decoder that accepts only the values
// allowed.
func oneOf(file string, dst *string, allowed ...string) field {
	return func(key, val *yaml.Node) error {
		if err := str(file, dst)(key, val); err != nil {
			return err
		}
		if !slices.Contains(allowed, *dst) {
			return errAt(file, val, fmt.Sprintf("%s %q is not supported", key.Value, *dst), "use "+strings.Join(allowed, " or "))
		}
		return nil
	}
}

// positive returns a decoder of a positive integer field.
func positive(file string, dst *int) field {
	return func(key, val *yaml.Node) error {
		v, err := strconv.ParseInt(val.Value, 0, 32)
		if val.Kind != yaml.ScalarNode || val.ShortTag() != "!!int" || err != nil || v < 1 {
			return errAt(file, val, fmt.Sprintf("%s must be a positive integer, not %s", key.Value, kindName(val)), "")
		}
		*dst = int(v)
		return nil
	}
}

// ignored returns a decoder that accepts any value: a field of the
// specification that the model does not keep (tags, externalDocs,
// examples, ...), checked only by its shape.
func ignored(file string, shape yaml.Kind) field {
	return func(key, val *yaml.Node) error {
		if val.Kind != shape {
			want := map[yaml.Kind]string{yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list", yaml.ScalarNode: "a string"}[shape]
			return errAt(file, val, fmt.Sprintf("%s must be %s, not %s", key.Value, want, kindName(val)), "")
		}
		return nil
	}
}

// entries calls fn for each key and value of the mapping val, a key's
// value, in document order. Every key is an entry: maps of named
// definitions have no x- extensions.
func entries(file string, key, val *yaml.Node, fn func(k, v *yaml.Node) error) error {
	if val.Kind != yaml.MappingNode {
		return errAt(file, val, fmt.Sprintf("%s must be a mapping, not %s", key.Value, kindName(val)), "")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(val.Content); i += 2 {
		k := val.Content[i]
		if seen[k.Value] {
			return errAt(file, k, fmt.Sprintf("%s has %q twice", key.Value, k.Value), "remove one")
		}
		seen[k.Value] = true
		if err := fn(k, deref(val.Content[i+1])); err != nil {
			return err
		}
	}
	return nil
}

// missing reports a required field that n, a what, lacks.
func missing(file string, n *yaml.Node, what, name, hint string) error {
	return errAt(file, n, fmt.Sprintf("%s has no %s", what, name), hint)
}

// follow resolves n when it is a Reference Object and returns the file and
// node of the definition; otherwise it returns file and n. The definition's
// key is the last token of its pointer.
func (l *loader) follow(file string, n *yaml.Node, what string) (string, *yaml.Node, string, error) {
	n = deref(n)
	key, ref := yamlref.RefOf(n)
	if ref == nil {
		return file, n, "", nil
	}
	if len(n.Content) > 2 {
		return "", nil, "", errAt(file, key, fmt.Sprintf("a $ref to a %s holds nothing else", what), "move the other fields into the definition it points to")
	}
	if err := l.ctx.Err(); err != nil {
		return "", nil, "", err
	}
	t, err := l.res.Follow(file, ref)
	if err != nil {
		return "", nil, "", err
	}
	name := t.Pointer[strings.LastIndexByte(t.Pointer, '/')+1:]
	name = strings.ReplaceAll(strings.ReplaceAll(name, "~1", "/"), "~0", "~")
	return t.File, deref(t.Node), name, nil
}

// document decodes the top of an AsyncAPI document.
func (l *loader) document(file string, n *yaml.Node) (*Document, error) {
	doc := &Document{File: file}
	var info, servers, channels, operations, components *yaml.Node
	node := func(dst **yaml.Node) field {
		return func(_, val *yaml.Node) error { *dst = val; return nil }
	}
	err := fields(file, n, "an AsyncAPI document", map[string]field{
		"asyncapi":           str(file, &doc.AsyncAPI),
		"id":                 str(file, &doc.ID),
		"info":               node(&info),
		"servers":            node(&servers),
		"defaultContentType": str(file, &doc.DefaultContentType),
		"channels":           node(&channels),
		"operations":         node(&operations),
		"components":         node(&components),
	})
	if err != nil {
		return nil, err
	}
	switch {
	case doc.AsyncAPI == "":
		return nil, missing(file, n, "the document", `"asyncapi"`, `start it with "asyncapi: 3.0.0"`)
	case doc.AsyncAPI != Version:
		v, _ := yamlref.Pointer(n, "/asyncapi")
		return nil, errAt(file, v, fmt.Sprintf("AsyncAPI version %q is not supported", doc.AsyncAPI), `write "asyncapi: 3.0.0"`)
	case info == nil:
		return nil, missing(file, n, "the document", `"info"`, "add info with a title and a version")
	}
	l.defaultContentType = doc.DefaultContentType
	if doc.Info, err = l.info(file, info); err != nil {
		return nil, err
	}
	if servers != nil {
		err := entries(file, &yaml.Node{Value: "servers"}, servers, func(k, v *yaml.Node) error {
			s, err := l.server(file, k.Value, v)
			doc.Servers = append(doc.Servers, s)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	if channels != nil {
		err := entries(file, &yaml.Node{Value: "channels"}, channels, func(k, v *yaml.Node) error {
			c, err := l.channel(file, k.Value, v)
			doc.Channels = append(doc.Channels, c)
			doc.channelKeys = append(doc.channelKeys, k.Value)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	if components != nil {
		if doc.Components, err = l.components(file, components); err != nil {
			return nil, err
		}
	}
	if operations != nil {
		err := entries(file, &yaml.Node{Value: "operations"}, operations, func(k, v *yaml.Node) error {
			op, err := l.operation(file, doc, k.Value, v)
			doc.Operations = append(doc.Operations, op)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return doc, nil
}

func (l *loader) info(file string, n *yaml.Node) (Info, error) {
	info := Info{Pos: posOf(file, n)}
	err := fields(file, n, "info", map[string]field{
		"title":          str(file, &info.Title),
		"version":        str(file, &info.Version),
		"description":    str(file, &info.Description),
		"termsOfService": str(file, new(string)),
		"contact":        ignored(file, yaml.MappingNode),
		"license":        ignored(file, yaml.MappingNode),
		"tags":           ignored(file, yaml.SequenceNode),
		"externalDocs":   ignored(file, yaml.MappingNode),
	})
	switch {
	case err != nil:
		return info, err
	case info.Title == "":
		return info, missing(file, n, "info", "title", "add e.g. title: Reservation Events")
	case info.Version == "":
		return info, missing(file, n, "info", "version", "add the version of the API, e.g. version: 1.0.0")
	}
	return info, nil
}

func (l *loader) server(file, name string, n *yaml.Node) (*Server, error) {
	file, n, defName, err := l.follow(file, n, "server")
	if err != nil {
		return nil, err
	}
	if s := l.servers[n]; s != nil {
		return s, nil
	}
	if defName != "" {
		name = defName
	}
	s := &Server{Name: name, Pos: posOf(file, n)}
	what := fmt.Sprintf("server %s", name)
	err = fields(file, n, what, map[string]field{
		"host":            str(file, &s.Host),
		"protocol":        oneOf(file, &s.Protocol, "kafka", "kafka-secure"),
		"protocolVersion": str(file, &s.ProtocolVersion),
		"pathname":        str(file, new(string)),
		"title":           str(file, &s.Title),
		"summary":         str(file, &s.Summary),
		"description":     str(file, &s.Description),
		"tags":            ignored(file, yaml.SequenceNode),
		"externalDocs":    ignored(file, yaml.MappingNode),
		"bindings": func(_, val *yaml.Node) error {
			return fields(file, val, what+" bindings", map[string]field{
				"kafka": func(_, val *yaml.Node) error {
					return fields(file, val, what+" Kafka binding", map[string]field{
						"schemaRegistryUrl":    str(file, new(string)),
						"schemaRegistryVendor": str(file, new(string)),
						"bindingVersion":       oneOf(file, new(string), bindingVersions...),
					})
				},
			})
		},
	})
	switch {
	case err != nil:
		return nil, err
	case s.Host == "":
		return nil, missing(file, n, what, "host", "add e.g. host: localhost:9092")
	case s.Protocol == "":
		return nil, missing(file, n, what, "protocol", "add protocol: kafka")
	}
	l.servers[n] = s
	return s, nil
}

// bindingVersions are the Kafka binding versions Load accepts.
var bindingVersions = []string{"0.5.0", "0.4.0"}

// validTopic is Kafka's rule for a topic name.
var validTopic = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

func (l *loader) channel(file, name string, n *yaml.Node) (*Channel, error) {
	file, n, defName, err := l.follow(file, n, "channel")
	if err != nil {
		return nil, err
	}
	if c := l.channels[n]; c != nil {
		return c, nil
	}
	if defName != "" {
		name = defName
	}
	c := &Channel{Name: name, Pos: posOf(file, n)}
	// Registered before decoding, so a channel that a message of its own
	// leads back to is not decoded twice.
	l.channels[n] = c
	what := fmt.Sprintf("channel %s", name)
	var address, topic *yaml.Node
	err = fields(file, n, what, map[string]field{
		"address": func(key, val *yaml.Node) error {
			address = val
			if val.ShortTag() == "!!null" {
				return errAt(file, val, "a Kafka channel needs an address: its topic", "write the topic name, e.g. address: hotel.reservation.events.v1")
			}
			return str(file, &c.Address)(key, val)
		},
		"title":       str(file, &c.Title),
		"summary":     str(file, &c.Summary),
		"description": str(file, &c.Description),
		"messages": func(key, val *yaml.Node) error {
			return entries(file, key, val, func(k, v *yaml.Node) error {
				m, err := l.message(file, k.Value, v)
				if err != nil {
					return err
				}
				c.Messages = append(c.Messages, m)
				c.keys = append(c.keys, k.Value)
				return nil
			})
		},
		"servers": func(key, val *yaml.Node) error {
			if val.Kind != yaml.SequenceNode {
				return errAt(file, val, fmt.Sprintf("servers must be a list of $refs, not %s", kindName(val)), "")
			}
			for _, s := range val.Content {
				if yamlref.OnlyRef(s) == nil {
					return errAt(file, s, "a channel's server must be a $ref", "write - $ref: '#/servers/kafka'")
				}
				if _, err := l.server(file, "", s); err != nil {
					return err
				}
			}
			return nil
		},
		"tags":         ignored(file, yaml.SequenceNode),
		"externalDocs": ignored(file, yaml.MappingNode),
		"bindings": func(_, val *yaml.Node) error {
			return fields(file, val, what+" bindings", map[string]field{
				"kafka": func(_, val *yaml.Node) error {
					c.Kafka = &KafkaChannel{}
					return fields(file, val, what+" Kafka binding", map[string]field{
						"topic": func(key, val *yaml.Node) error {
							topic = val
							return str(file, &c.Kafka.Topic)(key, val)
						},
						"partitions":         positive(file, &c.Kafka.Partitions),
						"replicas":           positive(file, &c.Kafka.Replicas),
						"topicConfiguration": ignored(file, yaml.MappingNode),
						"bindingVersion":     oneOf(file, &c.Kafka.BindingVersion, bindingVersions...),
					})
				},
			})
		},
	})
	switch {
	case err != nil:
		return nil, err
	case address == nil:
		return nil, missing(file, n, what, "address", "add the Kafka topic, e.g. address: hotel.reservation.events.v1")
	case strings.Contains(c.Address, "{"):
		return nil, errAt(file, address, fmt.Sprintf("address %q has parameters, which Kafka topics do not support", c.Address), "write one concrete topic name")
	case !validTopic.MatchString(c.Address) || c.Address == "." || c.Address == "..":
		return nil, errAt(file, address, fmt.Sprintf("address %q is not a valid Kafka topic name", c.Address), "use 1 to 249 letters, digits, '.', '_' or '-'")
	case c.Kafka != nil && topic != nil && c.Kafka.Topic != c.Address:
		return nil, errAt(file, topic, fmt.Sprintf("the Kafka binding's topic %q differs from the channel's address %q", c.Kafka.Topic, c.Address), "the address is the topic: make them equal or drop the binding's topic")
	}
	if c.Kafka != nil {
		c.Kafka.Topic = c.Address
	}
	return c, nil
}

func (l *loader) message(file, name string, n *yaml.Node) (*Message, error) {
	file, n, defName, err := l.follow(file, n, "message")
	if err != nil {
		return nil, err
	}
	if m := l.messages[n]; m != nil {
		return m, nil
	}
	if defName != "" {
		name = defName
	}
	m := &Message{Name: name, ContentType: l.defaultContentType, Pos: posOf(file, n)}
	what := fmt.Sprintf("message %s", name)
	var payload, headers, key *yaml.Node
	err = fields(file, n, what, map[string]field{
		"name":         str(file, &m.Name),
		"title":        str(file, &m.Title),
		"summary":      str(file, &m.Summary),
		"description":  str(file, &m.Description),
		"contentType":  str(file, &m.ContentType),
		"payload":      func(_, val *yaml.Node) error { payload = val; return nil },
		"headers":      func(_, val *yaml.Node) error { headers = val; return nil },
		"tags":         ignored(file, yaml.SequenceNode),
		"externalDocs": ignored(file, yaml.MappingNode),
		"examples":     ignored(file, yaml.SequenceNode),
		"bindings": func(_, val *yaml.Node) error {
			return fields(file, val, what+" bindings", map[string]field{
				"kafka": func(_, val *yaml.Node) error {
					return fields(file, val, what+" Kafka binding", map[string]field{
						"key":                     func(_, val *yaml.Node) error { key = val; return nil },
						"schemaIdLocation":        oneOf(file, &m.Kafka.SchemaIDLocation, "payload", "header"),
						"schemaIdPayloadEncoding": str(file, &m.Kafka.SchemaIDPayloadEncoding),
						"schemaLookupStrategy":    str(file, &m.Kafka.SchemaLookupStrategy),
						"bindingVersion":          oneOf(file, &m.Kafka.BindingVersion, bindingVersions...),
					})
				},
			})
		},
	})
	if err != nil {
		return nil, err
	}
	if payload == nil {
		return nil, missing(file, n, what, "payload", "add the schema of the record value, e.g. an Avro record: payload: {schemaFormat: 'application/vnd.apache.avro;version=1.9.0', schema: {$ref: './avro/Event.avsc'}}")
	}
	if m.Payload, err = l.schema(file, payload, what+" payload"); err != nil {
		return nil, err
	}
	if headers != nil {
		if m.Headers, err = l.schema(file, headers, what+" headers"); err != nil {
			return nil, err
		}
		if m.Headers.Avro != nil || !isObjectSchema(m.Headers.JSON) {
			return nil, errAt(file, headers, fmt.Sprintf("the headers of %s must be a JSON Schema of type object", what), "describe each header as a property of type: object")
		}
	}
	if key == nil {
		return nil, missing(file, n, what, "Kafka key schema (bindings.kafka.key)",
			"add bindings: {kafka: {key: {type: string}}}: the key is the aggregate id, which keeps the events of one aggregate in order")
	}
	if m.Key, err = l.schema(file, key, what+" Kafka key"); err != nil {
		return nil, err
	}
	l.messages[n] = m
	return m, nil
}

func (l *loader) components(file string, n *yaml.Node) (Components, error) {
	c := Components{Schemas: map[string]*Schema{}, Messages: map[string]*Message{}, Channels: map[string]*Channel{}}
	err := fields(file, n, "components", map[string]field{
		"schemas": func(key, val *yaml.Node) error {
			return entries(file, key, val, func(k, v *yaml.Node) error {
				s, err := l.schema(file, v, "schema "+k.Value)
				c.Schemas[k.Value] = s
				return err
			})
		},
		"messages": func(key, val *yaml.Node) error {
			return entries(file, key, val, func(k, v *yaml.Node) error {
				m, err := l.message(file, k.Value, v)
				c.Messages[k.Value] = m
				return err
			})
		},
		"channels": func(key, val *yaml.Node) error {
			return entries(file, key, val, func(k, v *yaml.Node) error {
				ch, err := l.channel(file, k.Value, v)
				c.Channels[k.Value] = ch
				return err
			})
		},
	})
	return c, err
}

// channelPointer matches the only $ref an operation's channel may be.
var channelPointer = regexp.MustCompile(`^/channels/([^/]+)$`)

func (l *loader) operation(file string, doc *Document, name string, n *yaml.Node) (*Operation, error) {
	op := &Operation{Name: name, Pos: posOf(file, n)}
	what := fmt.Sprintf("operation %s", name)
	var action string
	var channel, messages *yaml.Node
	err := fields(file, n, what, map[string]field{
		"action":       oneOf(file, &action, string(Send), string(Receive)),
		"channel":      func(_, val *yaml.Node) error { channel = val; return nil },
		"messages":     func(_, val *yaml.Node) error { messages = val; return nil },
		"title":        str(file, &op.Title),
		"summary":      str(file, &op.Summary),
		"description":  str(file, &op.Description),
		"tags":         ignored(file, yaml.SequenceNode),
		"externalDocs": ignored(file, yaml.MappingNode),
		"bindings": func(_, val *yaml.Node) error {
			return fields(file, val, what+" bindings", map[string]field{
				"kafka": func(_, val *yaml.Node) error {
					op.Kafka = &KafkaOperation{}
					return fields(file, val, what+" Kafka binding", map[string]field{
						"groupId": func(_, val *yaml.Node) error {
							var err error
							op.Kafka.GroupID, err = l.schema(file, val, what+" Kafka groupId")
							return err
						},
						"clientId": func(_, val *yaml.Node) error {
							var err error
							op.Kafka.ClientID, err = l.schema(file, val, what+" Kafka clientId")
							return err
						},
						"bindingVersion": oneOf(file, &op.Kafka.BindingVersion, bindingVersions...),
					})
				},
			})
		},
	})
	switch {
	case err != nil:
		return nil, err
	case action == "":
		return nil, missing(file, n, what, "action", "add action: send (this service publishes) or action: receive (it consumes)")
	case channel == nil:
		return nil, missing(file, n, what, "channel", "add channel: {$ref: '#/channels/<name>'}")
	}
	op.Action = Action(action)
	if op.Channel, err = l.operationChannel(file, doc, what, channel); err != nil {
		return nil, err
	}
	if messages == nil {
		op.Messages = op.Channel.Messages
		return op, nil
	}
	if messages.Kind != yaml.SequenceNode || len(messages.Content) == 0 {
		return nil, errAt(file, messages, fmt.Sprintf("the messages of %s must be a non-empty list of $refs", what), "omit messages to mean all of the channel's, or list $refs to some of them")
	}
	for _, mn := range messages.Content {
		ref := yamlref.OnlyRef(mn)
		if ref == nil {
			return nil, errAt(file, mn, fmt.Sprintf("a message of %s must be a $ref to a message of its channel", what),
				fmt.Sprintf("write - $ref: '#/channels/%s/messages/<name>'", op.Channel.Name))
		}
		m, err := l.message(file, "", mn)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(op.Channel.Messages, m) {
			return nil, errAt(file, ref, fmt.Sprintf("message %s of %s is not a message of its channel %s", m.Name, what, op.Channel.Name),
				"add it to the channel's messages, or point at one of them: #/channels/<name>/messages/<message>")
		}
		if slices.Contains(op.Messages, m) {
			return nil, errAt(file, ref, fmt.Sprintf("%s lists message %s twice", what, m.Name), "remove one")
		}
		op.Messages = append(op.Messages, m)
	}
	return op, nil
}

// operationChannel resolves the channel of an operation: a $ref to a
// channel of the document's own channels object.
func (l *loader) operationChannel(file string, doc *Document, what string, n *yaml.Node) (*Channel, error) {
	ref := yamlref.OnlyRef(n)
	if ref == nil {
		return nil, errAt(file, n, fmt.Sprintf("the channel of %s must be a $ref to a channel of this document", what), "write channel: {$ref: '#/channels/<name>'}")
	}
	target, frag, err := yamlref.Split(file, ref)
	if err != nil {
		return nil, err
	}
	m := channelPointer.FindStringSubmatch(frag)
	if target != file || m == nil {
		return nil, errAt(file, ref, fmt.Sprintf("the channel of %s, %q, is not in this document's channels", what, ref.Value),
			"declare the channel under channels (it may $ref another document's channel) and point at it: $ref: '#/channels/<name>'")
	}
	name := strings.ReplaceAll(strings.ReplaceAll(m[1], "~1", "/"), "~0", "~")
	c := doc.Channel(name)
	if c == nil {
		hint := "declare it under channels"
		if len(doc.channelKeys) > 0 {
			hint = "the document's channels are: " + strings.Join(doc.channelKeys, ", ")
		}
		return nil, errAt(file, ref, fmt.Sprintf("the channel of %s, %q, is not in this document's channels", what, ref.Value), hint)
	}
	return c, nil
}
