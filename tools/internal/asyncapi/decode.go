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
	case !slices.Contains(Versions, doc.AsyncAPI):
		v, _ := yamlref.Pointer(n, "/asyncapi")
		return nil, errAt(file, v, fmt.Sprintf("AsyncAPI version %q is not supported", doc.AsyncAPI), `write "asyncapi: 3.0.0" or "asyncapi: 3.1.0"`)
	case info == nil:
		return nil, missing(file, n, "the document", `"info"`, "add info with a title and a version")
	}
	l.version = doc.AsyncAPI
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
		if doc.Components, err = l.components(file, doc, components); err != nil {
			return nil, err
		}
	}
	if operations != nil {
		err := entries(file, &yaml.Node{Value: "operations"}, operations, func(k, v *yaml.Node) error {
			op, err := l.operation(file, doc, k.Value, v, false)
			doc.Operations = append(doc.Operations, op)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	for _, c := range doc.Channels {
		if err := l.judge(doc, c); err != nil {
			return nil, err
		}
	}
	return doc, nil
}

// judge decides whether code can be generated for channel c of doc and
// checks the Kafka topic name of one that can.
func (l *loader) judge(doc *Document, c *Channel) error {
	servers := c.Servers
	if servers == nil {
		servers = doc.Servers
	}
	var protocols []string
	kafka := len(servers) == 0 && (len(c.Protocols) == 0 || slices.Contains(c.Protocols, "kafka"))
	for _, s := range servers {
		if s.Kafka() {
			kafka = true
		}
		if !slices.Contains(protocols, s.Protocol) {
			protocols = append(protocols, s.Protocol)
		}
	}
	if len(servers) == 0 {
		protocols = c.Protocols
	}
	// declared: Kafka is written down, not assumed for want of servers.
	declared := len(servers) > 0 || c.Kafka != nil
	switch {
	case !kafka:
		c.Skip = fmt.Sprintf("channel %s is not on a Kafka server (protocols: %s); Keiyaku generates Kafka producers and consumers only", c.Name, strings.Join(protocols, ", "))
	case c.Address == "":
		c.Skip = fmt.Sprintf("channel %s has no address (null: known only at runtime); a generated producer needs a topic", c.Name)
	case strings.Contains(c.Address, "{"):
		c.Skip = fmt.Sprintf("channel %s has parameters in its address %q; a generated producer needs one concrete topic", c.Name, c.Address)
	case (!validTopic.MatchString(c.Address) || c.Address == "." || c.Address == "..") && !declared:
		c.Skip = fmt.Sprintf("channel %s: its address %q is not a Kafka topic name and the document names no Kafka server nor binding", c.Name, c.Address)
	case !validTopic.MatchString(c.Address) || c.Address == "." || c.Address == "..":
		return errAt(c.File, &yaml.Node{Line: c.Line, Column: c.Column}, fmt.Sprintf("address %q of Kafka channel %s is not a valid Kafka topic name", c.Address, c.Name), "use 1 to 249 letters, digits, '.', '_' or '-'")
	}
	return nil
}

func (l *loader) info(file string, n *yaml.Node) (Info, error) {
	info := Info{Pos: posOf(file, n)}
	err := fields(file, n, "info", map[string]field{
		"title":          str(file, &info.Title),
		"version":        str(file, &info.Version),
		"description":    str(file, &info.Description),
		"termsOfService": str(file, new(string)),
		"contact": func(_, val *yaml.Node) error {
			return fields(file, val, "info contact", map[string]field{
				"name": str(file, new(string)), "url": str(file, new(string)), "email": str(file, new(string)),
			})
		},
		"license": func(_, val *yaml.Node) error {
			return fields(file, val, "info license", map[string]field{
				"name": str(file, new(string)), "url": str(file, new(string)),
			})
		},
		"tags":         l.tagsField(file),
		"externalDocs": l.externalDocsField(file),
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

// tagsField decodes a list of Tag Objects (or $refs to them).
func (l *loader) tagsField(file string) field {
	return func(key, val *yaml.Node) error {
		if val.Kind != yaml.SequenceNode {
			return errAt(file, val, fmt.Sprintf("%s must be a list, not %s", key.Value, kindName(val)), "")
		}
		for _, t := range val.Content {
			if _, err := l.tag(file, "", t); err != nil {
				return err
			}
		}
		return nil
	}
}

func (l *loader) tag(file, name string, n *yaml.Node) (*Tag, error) {
	file, n, _, err := l.follow(file, n, "tag")
	if err != nil {
		return nil, err
	}
	t := &Tag{}
	err = fields(file, n, "tag", map[string]field{
		"name":         str(file, &t.Name),
		"description":  str(file, &t.Description),
		"externalDocs": l.externalDocsField(file),
	})
	if err == nil && t.Name == "" {
		err = missing(file, n, "tag", "name", "add name: <tag>")
	}
	return t, err
}

// externalDocsField decodes an External Documentation Object (or a $ref).
func (l *loader) externalDocsField(file string) field {
	return func(_, val *yaml.Node) error {
		_, err := l.externalDocs(file, val)
		return err
	}
}

func (l *loader) externalDocs(file string, n *yaml.Node) (string, error) {
	file, n, _, err := l.follow(file, n, "externalDocs")
	if err != nil {
		return "", err
	}
	var url string
	err = fields(file, n, "externalDocs", map[string]field{
		"description": str(file, new(string)),
		"url":         str(file, &url),
	})
	if err == nil && url == "" {
		err = missing(file, n, "externalDocs", "url", "add url: https://…")
	}
	return url, err
}

// bindings decodes a Bindings Object (or a $ref to one): the kafka binding
// with kafka, the binding of any other protocol checked for its shape. It
// returns the protocols, sorted.
func (l *loader) bindings(file string, n *yaml.Node, what string, kafka func(file string, val *yaml.Node) error) ([]string, error) {
	file, n, _, err := l.follow(file, n, "bindings object")
	if err != nil {
		return nil, err
	}
	if n.Kind != yaml.MappingNode {
		return nil, errAt(file, n, fmt.Sprintf("the bindings of %s must be a mapping, not %s", what, kindName(n)), "")
	}
	var protocols []string
	err = entries(file, &yaml.Node{Value: what + " bindings"}, n, func(k, v *yaml.Node) error {
		if strings.HasPrefix(k.Value, "x-") {
			return nil
		}
		protocols = append(protocols, k.Value)
		bf, bv, _, err := l.follow(file, v, "binding")
		if err != nil {
			return err
		}
		if k.Value == "kafka" {
			return kafka(bf, bv)
		}
		// Bindings of other protocols are checked for their shape only:
		// Keiyaku generates nothing from them.
		if bv.Kind != yaml.MappingNode && bv.ShortTag() != "!!null" {
			return errAt(bf, bv, fmt.Sprintf("the %s binding of %s must be a mapping, not %s", k.Value, what, kindName(bv)), "")
		}
		return nil
	})
	slices.Sort(protocols)
	return protocols, err
}

// securityField decodes a list of Security Scheme Objects or $refs.
func (l *loader) securityField(file string, dst *[]*SecurityScheme) field {
	return func(key, val *yaml.Node) error {
		if val.Kind != yaml.SequenceNode {
			return errAt(file, val, fmt.Sprintf("%s must be a list of security schemes, not %s", key.Value, kindName(val)), "write - $ref: '#/components/securitySchemes/<name>'")
		}
		for _, s := range val.Content {
			sc, err := l.securityScheme(file, "", s)
			if err != nil {
				return err
			}
			*dst = append(*dst, sc)
		}
		return nil
	}
}

func (l *loader) securityScheme(file, name string, n *yaml.Node) (*SecurityScheme, error) {
	file, n, defName, err := l.follow(file, n, "security scheme")
	if err != nil {
		return nil, err
	}
	if s := l.security[n]; s != nil {
		return s, nil
	}
	if defName != "" {
		name = defName
	}
	s := &SecurityScheme{Name: name, Pos: posOf(file, n)}
	what := "security scheme " + name
	err = fields(file, n, what, map[string]field{
		"type":             oneOf(file, &s.Type, securityTypes...),
		"description":      str(file, &s.Description),
		"name":             str(file, new(string)),
		"in":               oneOf(file, &s.In, "user", "password", "query", "header", "cookie"),
		"scheme":           str(file, &s.Scheme),
		"bearerFormat":     str(file, &s.BearerFormat),
		"openIdConnectUrl": str(file, new(string)),
		"scopes":           strings_(file, &s.Scopes),
		"flows": func(_, val *yaml.Node) error {
			flow := func(_, val *yaml.Node) error {
				return fields(file, val, what+" flow", map[string]field{
					"authorizationUrl": str(file, new(string)),
					"tokenUrl":         str(file, new(string)),
					"refreshUrl":       str(file, new(string)),
					"availableScopes":  ignored(file, yaml.MappingNode),
				})
			}
			return fields(file, val, what+" flows", map[string]field{
				"implicit": flow, "password": flow, "clientCredentials": flow, "authorizationCode": flow,
			})
		},
	})
	if err == nil && s.Type == "" {
		err = missing(file, n, what, "type", "add e.g. type: scramSha512")
	}
	if err != nil {
		return nil, err
	}
	l.security[n] = s
	return s, nil
}

// strings_ returns a decoder of a list of strings.
func strings_(file string, dst *[]string) field {
	return func(key, val *yaml.Node) error {
		if val.Kind != yaml.SequenceNode {
			return errAt(file, val, fmt.Sprintf("%s must be a list of strings, not %s", key.Value, kindName(val)), "")
		}
		for _, it := range val.Content {
			var s string
			if err := str(file, &s)(key, deref(it)); err != nil {
				return err
			}
			*dst = append(*dst, s)
		}
		return nil
	}
}

// variable decodes a Server Variable Object or a Parameter Object: both
// have enum, default, description and examples.
func (l *loader) variable(file string, n *yaml.Node, what string, v *ServerVariable, location *string) error {
	known := map[string]field{
		"enum":        strings_(file, &v.Enum),
		"default":     str(file, &v.Default),
		"description": str(file, &v.Description),
		"examples":    strings_(file, &v.Examples),
	}
	if location != nil {
		known["location"] = str(file, location)
	}
	if err := fields(file, n, what, known); err != nil {
		return err
	}
	if v.Default != "" && len(v.Enum) > 0 && !slices.Contains(v.Enum, v.Default) {
		d, _ := yamlref.Pointer(n, "/default")
		if d == nil {
			d = n
		}
		return errAt(file, d, fmt.Sprintf("the default %q of %s is not one of its enum values", v.Default, what), "use one of: "+strings.Join(v.Enum, ", "))
	}
	return nil
}

func (l *loader) serverVariable(file, name string, n *yaml.Node) (*ServerVariable, error) {
	file, n, defName, err := l.follow(file, n, "server variable")
	if err != nil {
		return nil, err
	}
	if defName != "" && name == "" {
		name = defName
	}
	v := &ServerVariable{Name: name, Pos: posOf(file, n)}
	return v, l.variable(file, n, "server variable "+name, v, nil)
}

func (l *loader) parameter(file, name string, n *yaml.Node) (*Parameter, error) {
	file, n, _, err := l.follow(file, n, "parameter")
	if err != nil {
		return nil, err
	}
	if p := l.params[n]; p != nil && p.Name == name {
		return p, nil
	}
	var v ServerVariable
	p := &Parameter{Name: name, Pos: posOf(file, n)}
	if err := l.variable(file, n, "parameter "+name, &v, &p.Location); err != nil {
		return nil, err
	}
	p.Description, p.Enum, p.Default, p.Examples = v.Description, v.Enum, v.Default, v.Examples
	l.params[n] = p
	return p, nil
}

func (l *loader) correlationID(file string, n *yaml.Node) (*CorrelationID, error) {
	file, n, _, err := l.follow(file, n, "correlationId")
	if err != nil {
		return nil, err
	}
	c := &CorrelationID{Pos: posOf(file, n)}
	err = fields(file, n, "correlationId", map[string]field{
		"description": str(file, &c.Description),
		"location":    str(file, &c.Location),
	})
	if err == nil && c.Location == "" {
		err = missing(file, n, "correlationId", "location", "add e.g. location: '$message.header#/correlationId'")
	}
	return c, err
}

func (l *loader) replyAddress(file string, n *yaml.Node) (*ReplyAddress, error) {
	file, n, _, err := l.follow(file, n, "reply address")
	if err != nil {
		return nil, err
	}
	a := &ReplyAddress{Pos: posOf(file, n)}
	err = fields(file, n, "reply address", map[string]field{
		"description": str(file, &a.Description),
		"location":    str(file, &a.Location),
	})
	if err == nil && a.Location == "" {
		err = missing(file, n, "reply address", "location", "add e.g. location: '$message.header#/replyTo'")
	}
	return a, err
}

// reply decodes the reply of operation what. Its channel is a channel of
// the document (or of components); its messages are messages of that
// channel.
func (l *loader) reply(file string, doc *Document, what string, n *yaml.Node) (*Reply, error) {
	file, n, _, err := l.follow(file, n, "reply")
	if err != nil {
		return nil, err
	}
	r := &Reply{Pos: posOf(file, n)}
	var channel, messages *yaml.Node
	err = fields(file, n, what+" reply", map[string]field{
		"address": func(_, val *yaml.Node) error {
			r.Address, err = l.replyAddress(file, val)
			return err
		},
		"channel":  func(_, val *yaml.Node) error { channel = val; return nil },
		"messages": func(_, val *yaml.Node) error { messages = val; return nil },
	})
	if err != nil {
		return nil, err
	}
	if channel != nil {
		if r.Channel, err = l.channel(file, "", channel); err != nil {
			return nil, err
		}
	}
	if messages == nil {
		if r.Channel != nil {
			r.Messages = r.Channel.Messages
		}
		return r, nil
	}
	r.Messages, err = l.operationMessages(file, what+" reply", r.Channel, messages)
	return r, err
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
		"protocol":        str(file, &s.Protocol),
		"protocolVersion": str(file, &s.ProtocolVersion),
		"pathname":        str(file, &s.Pathname),
		"title":           str(file, &s.Title),
		"summary":         str(file, &s.Summary),
		"description":     str(file, &s.Description),
		"variables": func(key, val *yaml.Node) error {
			return entries(file, key, val, func(k, v *yaml.Node) error {
				sv, err := l.serverVariable(file, k.Value, v)
				s.Variables = append(s.Variables, sv)
				return err
			})
		},
		"security":     l.securityField(file, &s.Security),
		"tags":         l.tagsField(file),
		"externalDocs": l.externalDocsField(file),
		"bindings": func(_, val *yaml.Node) error {
			_, err := l.bindings(file, val, what, func(file string, val *yaml.Node) error {
				return fields(file, val, what+" Kafka binding", map[string]field{
					"schemaRegistryUrl":    str(file, new(string)),
					"schemaRegistryVendor": str(file, new(string)),
					"bindingVersion":       oneOf(file, new(string), bindingVersions...),
				})
			})
			return err
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
	for _, v := range variablesOf(s.Host + s.Pathname) {
		if !slices.ContainsFunc(s.Variables, func(sv *ServerVariable) bool { return sv.Name == v }) {
			return nil, errAt(file, n, fmt.Sprintf("%s uses variable {%s}, which it does not declare", what, v), "declare it under variables")
		}
	}
	l.servers[n] = s
	return s, nil
}

// variablesOf returns the {names} of an address or host, in order.
func variablesOf(s string) []string {
	var out []string
	for _, m := range braces.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

var braces = regexp.MustCompile(`\{([^{}]+)\}`)

// bindingVersions are the Kafka binding versions Load accepts.
var bindingVersions = []string{"0.5.0", "0.4.0", "0.3.0"}

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
	var topic *yaml.Node
	err = fields(file, n, what, map[string]field{
		"address": func(key, val *yaml.Node) error {
			if val.ShortTag() == "!!null" {
				return nil
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
		"parameters": func(key, val *yaml.Node) error {
			return entries(file, key, val, func(k, v *yaml.Node) error {
				p, err := l.parameter(file, k.Value, v)
				c.Parameters = append(c.Parameters, p)
				return err
			})
		},
		"servers": func(key, val *yaml.Node) error {
			if val.Kind != yaml.SequenceNode {
				return errAt(file, val, fmt.Sprintf("servers must be a list of $refs, not %s", kindName(val)), "")
			}
			c.Servers = []*Server{}
			for _, s := range val.Content {
				if yamlref.OnlyRef(s) == nil {
					return errAt(file, s, "a channel's server must be a $ref", "write - $ref: '#/servers/kafka'")
				}
				srv, err := l.server(file, "", s)
				if err != nil {
					return err
				}
				c.Servers = append(c.Servers, srv)
			}
			return nil
		},
		"tags":         l.tagsField(file),
		"externalDocs": l.externalDocsField(file),
		"bindings": func(_, val *yaml.Node) error {
			c.Protocols, err = l.bindings(file, val, what, func(file string, val *yaml.Node) error {
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
			})
			return err
		},
	})
	if err != nil {
		return nil, err
	}
	for _, v := range variablesOf(c.Address) {
		if !slices.ContainsFunc(c.Parameters, func(p *Parameter) bool { return p.Name == v }) {
			a, _ := yamlref.Pointer(n, "/address")
			if a == nil {
				a = n
			}
			return nil, errAt(file, a, fmt.Sprintf("address %q has the parameter {%s}, which %s does not declare", c.Address, v, what),
				fmt.Sprintf("declare it under parameters (parameters: {%s: {description: …}}), or write one concrete topic name", v))
		}
	}
	if c.Kafka != nil && topic != nil && c.Kafka.Topic != c.Address {
		return nil, errAt(file, topic, fmt.Sprintf("the Kafka binding's topic %q differs from the channel's address %q", c.Kafka.Topic, c.Address), "the address is the topic: make them equal or drop the binding's topic")
	}
	if c.Kafka != nil {
		c.Kafka.Topic = c.Address
	}
	return c, nil
}

// messageFields and operationFields are the fields a message or operation
// trait may hold: those of the object, less the ones a trait may not set.
var (
	messageTraitFields   = []string{"headers", "correlationId", "contentType", "name", "title", "summary", "description", "tags", "externalDocs", "bindings", "examples"}
	operationTraitFields = []string{"title", "summary", "description", "security", "tags", "externalDocs", "bindings"}
)

// withTraits returns the object n of file with its traits applied: each
// trait (a $ref or an inline object of the allowed fields) is merged under
// the object as JSON Merge Patch would, in order (a later trait wins over
// an earlier one), with the object's own values winning (AsyncAPI 3: "a property on a trait MUST NOT override the
// same property on the target object"). Without traits it returns n.
func (l *loader) withTraits(file string, n *yaml.Node, what string, allowed []string) (*yaml.Node, error) {
	var traits *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "traits" {
			traits = deref(n.Content[i+1])
		}
	}
	if traits == nil {
		return n, nil
	}
	if traits.Kind != yaml.SequenceNode {
		return nil, errAt(file, traits, fmt.Sprintf("the traits of %s must be a list, not %s", what, kindName(traits)), "write - $ref: '#/components/messageTraits/<name>'")
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != "traits" {
			out.Content = append(out.Content, n.Content[i], n.Content[i+1])
		}
	}
	// JSON Merge Patch of the traits in order, then of the object: a later
	// trait wins over an earlier one, the object over all. Merging under
	// the object from the last trait back gives the same result.
	for _, t := range slices.Backward(traits.Content) {
		tf, tn, _, err := l.follow(file, t, "trait")
		if err != nil {
			return nil, err
		}
		if tn.Kind != yaml.MappingNode {
			return nil, errAt(tf, tn, fmt.Sprintf("a trait of %s must be a mapping, not %s", what, kindName(tn)), "")
		}
		for i := 0; i+1 < len(tn.Content); i += 2 {
			k := tn.Content[i]
			if !strings.HasPrefix(k.Value, "x-") && !slices.Contains(allowed, k.Value) {
				return nil, errAt(tf, k, fmt.Sprintf("unknown field %q in a trait of %s", k.Value, what), "a trait holds: "+strings.Join(allowed, ", "))
			}
		}
		if tf != file && hasRef(tn) {
			return nil, errAt(tf, tn, fmt.Sprintf("a trait of %s in another file holds $refs, which would resolve against the wrong file", what), "keep the trait in the file of the object, or inline what it $refs")
		}
		mergeUnder(out, tn)
	}
	return out, nil
}

// hasRef reports whether the tree n holds a $ref.
func hasRef(n *yaml.Node) bool {
	// Walk stops, returning false, at the first $ref.
	return !yamlref.Walk(n, func(_, _ *yaml.Node) bool { return false })
}

// mergeUnder merges the mapping trait under the mapping obj: a key obj
// lacks is added; a key both hold with mappings (that are not $refs) is
// merged the same way, recursively; obj keeps its own value otherwise.
func mergeUnder(obj, trait *yaml.Node) {
	for i := 0; i+1 < len(trait.Content); i += 2 {
		k, v := trait.Content[i], deref(trait.Content[i+1])
		j := -1
		for x := 0; x+1 < len(obj.Content); x += 2 {
			if obj.Content[x].Value == k.Value {
				j = x
				break
			}
		}
		if j < 0 {
			obj.Content = append(obj.Content, k, v)
			continue
		}
		own := deref(obj.Content[j+1])
		if own.Kind == yaml.MappingNode && v.Kind == yaml.MappingNode && yamlref.OnlyRef(own) == nil && yamlref.OnlyRef(v) == nil {
			merged := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: own.Line, Column: own.Column, Content: slices.Clone(own.Content)}
			mergeUnder(merged, v)
			obj.Content[j+1] = merged
		}
	}
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
	orig := n
	if n, err = l.withTraits(file, n, what, messageTraitFields); err != nil {
		return nil, err
	}
	var payload, headers, key *yaml.Node
	err = fields(file, n, what, map[string]field{
		"name":        str(file, &m.Name),
		"title":       str(file, &m.Title),
		"summary":     str(file, &m.Summary),
		"description": str(file, &m.Description),
		"contentType": str(file, &m.ContentType),
		"payload":     func(_, val *yaml.Node) error { payload = val; return nil },
		"headers":     func(_, val *yaml.Node) error { headers = val; return nil },
		"correlationId": func(_, val *yaml.Node) error {
			m.CorrelationID, err = l.correlationID(file, val)
			return err
		},
		"tags":         l.tagsField(file),
		"externalDocs": l.externalDocsField(file),
		"examples":     ignored(file, yaml.SequenceNode),
		"bindings": func(_, val *yaml.Node) error {
			_, err := l.bindings(file, val, what, func(file string, val *yaml.Node) error {
				return fields(file, val, what+" Kafka binding", map[string]field{
					"key":                     func(_, val *yaml.Node) error { key = val; return nil },
					"schemaIdLocation":        oneOf(file, &m.Kafka.SchemaIDLocation, "payload", "header"),
					"schemaIdPayloadEncoding": str(file, &m.Kafka.SchemaIDPayloadEncoding),
					"schemaLookupStrategy":    str(file, &m.Kafka.SchemaLookupStrategy),
					"bindingVersion":          oneOf(file, &m.Kafka.BindingVersion, bindingVersions...),
				})
			})
			return err
		},
	})
	if err != nil {
		return nil, err
	}
	if payload != nil {
		if m.Payload, err = l.schema(file, payload, what+" payload"); err != nil {
			return nil, err
		}
	}
	if headers != nil {
		if m.Headers, err = l.schema(file, headers, what+" headers"); err != nil {
			return nil, err
		}
		if m.Headers.AvroType != nil || !isObjectSchema(m.Headers.JSON) {
			return nil, errAt(file, headers, fmt.Sprintf("the headers of %s must be a JSON Schema of type object", what), "describe each header as a property of type: object")
		}
	}
	if key != nil {
		if m.Key, err = l.schema(file, key, what+" Kafka key"); err != nil {
			return nil, err
		}
	}
	l.messages[orig] = m
	return m, nil
}

func (l *loader) components(file string, doc *Document, n *yaml.Node) (Components, error) {
	c := Components{
		Schemas: map[string]*Schema{}, Servers: map[string]*Server{}, Messages: map[string]*Message{},
		Channels: map[string]*Channel{}, Operations: map[string]*Operation{}, Parameters: map[string]*Parameter{},
		SecuritySchemes: map[string]*SecurityScheme{}, ServerVariables: map[string]*ServerVariable{},
		CorrelationIDs: map[string]*CorrelationID{}, Replies: map[string]*Reply{}, ReplyAddresses: map[string]*ReplyAddress{},
		Tags: map[string]*Tag{},
	}
	each := func(fn func(k, v *yaml.Node) error) field {
		return func(key, val *yaml.Node) error { return entries(file, key, val, fn) }
	}
	// traits checks a map of traits: each must be a mapping of the fields
	// a trait may hold.
	traits := func(kind string, allowed []string) field {
		return each(func(k, v *yaml.Node) error {
			_, err := l.withTraits(file, &yaml.Node{Kind: yaml.MappingNode, Line: v.Line, Column: v.Column,
				Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: "traits"}, {Kind: yaml.SequenceNode, Content: []*yaml.Node{v}}}},
				kind+" "+k.Value, allowed)
			return err
		})
	}
	bindings := each(func(k, v *yaml.Node) error {
		_, err := l.bindings(file, v, "components "+k.Value, func(string, *yaml.Node) error { return nil })
		return err
	})
	var operations *yaml.Node
	err := fields(file, n, "components", map[string]field{
		"schemas": each(func(k, v *yaml.Node) error {
			s, err := l.schema(file, v, "schema "+k.Value)
			if err == nil {
				s.name(k.Value)
			}
			c.Schemas[k.Value] = s
			return err
		}),
		"servers": each(func(k, v *yaml.Node) error {
			s, err := l.server(file, k.Value, v)
			c.Servers[k.Value] = s
			return err
		}),
		"messages": each(func(k, v *yaml.Node) error {
			m, err := l.message(file, k.Value, v)
			c.Messages[k.Value] = m
			return err
		}),
		"channels": each(func(k, v *yaml.Node) error {
			ch, err := l.channel(file, k.Value, v)
			c.Channels[k.Value] = ch
			return err
		}),
		"operations": func(_, val *yaml.Node) error { operations = val; return nil },
		"parameters": each(func(k, v *yaml.Node) error {
			p, err := l.parameter(file, k.Value, v)
			c.Parameters[k.Value] = p
			return err
		}),
		"securitySchemes": each(func(k, v *yaml.Node) error {
			s, err := l.securityScheme(file, k.Value, v)
			c.SecuritySchemes[k.Value] = s
			return err
		}),
		"serverVariables": each(func(k, v *yaml.Node) error {
			s, err := l.serverVariable(file, k.Value, v)
			c.ServerVariables[k.Value] = s
			return err
		}),
		"correlationIds": each(func(k, v *yaml.Node) error {
			s, err := l.correlationID(file, v)
			c.CorrelationIDs[k.Value] = s
			return err
		}),
		"replies": each(func(k, v *yaml.Node) error {
			r, err := l.reply(file, doc, "components reply "+k.Value, v)
			c.Replies[k.Value] = r
			return err
		}),
		"replyAddresses": each(func(k, v *yaml.Node) error {
			a, err := l.replyAddress(file, v)
			c.ReplyAddresses[k.Value] = a
			return err
		}),
		"tags": each(func(k, v *yaml.Node) error {
			t, err := l.tag(file, k.Value, v)
			c.Tags[k.Value] = t
			return err
		}),
		"externalDocs": each(func(_, v *yaml.Node) error {
			_, err := l.externalDocs(file, v)
			return err
		}),
		"operationTraits":   traits("operation trait", operationTraitFields),
		"messageTraits":     traits("message trait", messageTraitFields),
		"serverBindings":    bindings,
		"channelBindings":   bindings,
		"operationBindings": bindings,
		"messageBindings":   bindings,
	})
	if err != nil {
		return c, err
	}
	if operations != nil {
		// Operations of components, decoded after the rest: they point at
		// channels.
		err = entries(file, &yaml.Node{Value: "operations"}, operations, func(k, v *yaml.Node) error {
			op, err := l.operation(file, doc, k.Value, v, true)
			c.Operations[k.Value] = op
			return err
		})
	}
	return c, err
}

// operation decodes an operation; one of components may point at a channel
// anywhere, one of the root operations only at a root channel (AsyncAPI 3).
func (l *loader) operation(file string, doc *Document, name string, n *yaml.Node, component bool) (*Operation, error) {
	file, n, defName, err := l.follow(file, n, "operation")
	if err != nil {
		return nil, err
	}
	// A root operation that is a $ref is located where it points.
	component = component || defName != ""
	op := &Operation{Name: name, Pos: posOf(file, n)}
	what := fmt.Sprintf("operation %s", name)
	if n, err = l.withTraits(file, n, what, operationTraitFields); err != nil {
		return nil, err
	}
	var action string
	var channel, messages, reply *yaml.Node
	err = fields(file, n, what, map[string]field{
		"action":       oneOf(file, &action, string(Send), string(Receive)),
		"channel":      func(_, val *yaml.Node) error { channel = val; return nil },
		"messages":     func(_, val *yaml.Node) error { messages = val; return nil },
		"reply":        func(_, val *yaml.Node) error { reply = val; return nil },
		"title":        str(file, &op.Title),
		"summary":      str(file, &op.Summary),
		"description":  str(file, &op.Description),
		"security":     l.securityField(file, &op.Security),
		"tags":         l.tagsField(file),
		"externalDocs": l.externalDocsField(file),
		"bindings": func(_, val *yaml.Node) error {
			_, err := l.bindings(file, val, what, func(file string, val *yaml.Node) error {
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
			})
			return err
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
	if component {
		if yamlref.OnlyRef(channel) == nil {
			return nil, errAt(file, channel, fmt.Sprintf("the channel of %s must be a $ref to a channel", what), "write channel: {$ref: '#/channels/<name>'}")
		}
		op.Channel, err = l.channel(file, "", channel)
	} else {
		op.Channel, err = l.operationChannel(file, doc, what, channel)
	}
	if err != nil {
		return nil, err
	}
	if reply != nil {
		if op.Reply, err = l.reply(file, doc, what, reply); err != nil {
			return nil, err
		}
	}
	if messages == nil {
		op.Messages = op.Channel.Messages
		return op, nil
	}
	op.Messages, err = l.operationMessages(file, what, op.Channel, messages)
	return op, err
}

// operationMessages decodes the messages list of an operation (or reply)
// what: $refs to messages of its channel.
func (l *loader) operationMessages(file, what string, channel *Channel, messages *yaml.Node) ([]*Message, error) {
	if messages.Kind != yaml.SequenceNode {
		return nil, errAt(file, messages, fmt.Sprintf("the messages of %s must be a list of $refs", what), "omit messages to mean all of the channel's, or list $refs to some of them")
	}
	channelName := "<channel>"
	if channel != nil {
		channelName = channel.Name
	}
	var out []*Message
	for _, mn := range messages.Content {
		ref := yamlref.OnlyRef(mn)
		if ref == nil {
			return nil, errAt(file, mn, fmt.Sprintf("a message of %s must be a $ref to a message of its channel", what),
				fmt.Sprintf("write - $ref: '#/channels/%s/messages/<name>'", channelName))
		}
		m, err := l.message(file, "", mn)
		if err != nil {
			return nil, err
		}
		if channel != nil && !slices.Contains(channel.Messages, m) {
			return nil, errAt(file, ref, fmt.Sprintf("message %s of %s is not a message of its channel %s", m.Name, what, channel.Name),
				"add it to the channel's messages, or point at one of them: #/channels/<name>/messages/<message>")
		}
		if slices.Contains(out, m) {
			return nil, errAt(file, ref, fmt.Sprintf("%s lists message %s twice", what, m.Name), "remove one")
		}
		out = append(out, m)
	}
	return out, nil
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
	if target != doc.File || m == nil {
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

// channelPointer matches the only $ref an operation's channel may be.
var channelPointer = regexp.MustCompile(`^/channels/([^/]+)$`)
