package asyncapi

import (
	"encoding/json"
	"fmt"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/avro"
	"go.yaml.in/yaml/v3"

	"github.com/keiyaku/keiyaku/tools/internal/avroschema"
	"github.com/keiyaku/keiyaku/tools/internal/diag"
	"github.com/keiyaku/keiyaku/tools/internal/yamlref"
)

// maxSchemaNodes bounds the JSON Schema nodes one Load inlines through
// $refs: a schema that $refs another twice, nested thirty deep, would
// otherwise expand to billions of nodes.
const maxSchemaNodes = 200_000

// schema decodes a schema: a Multi Format Schema Object, or a schema in
// the default format, either possibly behind a $ref.
func (l *loader) schema(file string, n *yaml.Node, what string) (*Schema, error) {
	refName := l.refName(file, n)
	file, n, _, err := l.follow(file, n, "schema")
	if err != nil {
		return nil, err
	}
	if s := l.schemas[n]; s != nil {
		s.name(refName)
		return s, nil
	}
	var s *Schema
	if n.Kind == yaml.MappingNode && hasKey(n, "schemaFormat") {
		s, err = l.multiFormat(file, n, what)
	} else {
		s = &Schema{Format: "application/vnd.aai.asyncapi+json;version=" + l.version, Pos: posOf(file, n)}
		s.JSON, s.Nodes, err = l.jsonSchema(file, n)
	}
	if err != nil {
		return nil, err
	}
	s.name(refName)
	l.schemas[n] = s
	return s, nil
}

// name sets the name of the definition of a JSON Schema that has none yet.
func (s *Schema) name(name string) {
	if top, ok := s.Nodes[""]; ok && top.Ref == "" && name != "" {
		top.Ref = name
		s.Nodes[""] = top
	}
}

// refName returns the name of the definition that n, when it is a $ref,
// points at (see [JSONNode]); "" when n is no $ref or it cannot be
// resolved (the caller reports that).
func (l *loader) refName(file string, n *yaml.Node) string {
	_, ref := yamlref.RefOf(deref(n))
	if ref == nil {
		return ""
	}
	t, err := l.res.Follow(file, ref)
	if err != nil {
		return ""
	}
	return targetName(t)
}

// targetName is the name of the definition at t: the last part of its
// pointer, or the name of its file without extension for a whole file.
func targetName(t yamlref.Target) string {
	if t.Pointer == "" {
		base := path.Base(t.File)
		return strings.TrimSuffix(base, path.Ext(base))
	}
	name := t.Pointer[strings.LastIndexByte(t.Pointer, '/')+1:]
	return strings.ReplaceAll(strings.ReplaceAll(name, "~1", "/"), "~0", "~")
}

func hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

// multiFormat decodes a Multi Format Schema Object.
func (l *loader) multiFormat(file string, n *yaml.Node, what string) (*Schema, error) {
	s := &Schema{Pos: posOf(file, n)}
	var format, schema *yaml.Node
	err := fields(file, n, what, map[string]field{
		"schemaFormat": func(key, val *yaml.Node) error {
			format = val
			return str(file, &s.Format)(key, val)
		},
		"schema": func(_, val *yaml.Node) error { schema = val; return nil },
	})
	if err != nil {
		return nil, err
	}
	if schema == nil {
		return nil, missing(file, n, what, "schema", "add schema: next to schemaFormat, e.g. schema: {$ref: './avro/Event.avsc'}")
	}
	s.Format = strings.Join(strings.Fields(s.Format), "")
	switch {
	case slices.Contains(avroFormats, s.Format):
		var parsed *avro.Schema
		if s.Avro, s.AvroType, parsed, err = l.avroSchema(file, schema, what); err == nil {
			s.AvroCanonical = string(parsed.Canonical())
		}
	case slices.Contains(jsonSchemaFormats, s.Format):
		var sf string
		var sn *yaml.Node
		refName := l.refName(file, schema)
		if sf, sn, _, err = l.follow(file, schema, "schema"); err == nil {
			s.JSON, s.Nodes, err = l.jsonSchema(sf, sn)
			s.name(refName)
		}
	default:
		return nil, errAt(file, format, fmt.Sprintf("schemaFormat %q is not supported", s.Format),
			"use "+avroFormats[0]+" (inline, or a $ref to an .avsc or .json file) or a JSON Schema format: "+strings.Join(jsonSchemaFormats, ", "))
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// avroSchema loads the Avro schema of an Avro Multi Format Schema Object:
// a $ref to an .avsc or .json file anywhere in the workspace, loaded with
// the .avsc files of its folder (so that it may use their named types), or
// a schema written inline, loaded on its own. It returns the record at its
// top (nil when the top is not a record) and its type.
func (l *loader) avroSchema(file string, n *yaml.Node, what string) (*avroschema.Record, *avroschema.Type, *avro.Schema, error) {
	ref := yamlref.OnlyRef(n)
	if ref == nil {
		return l.inlineAvro(file, n, what)
	}
	target, frag, err := yamlref.Split(file, ref)
	if err != nil {
		return nil, nil, nil, err
	}
	ext := path.Ext(target)
	if frag != "" || (ext != avroschema.Extension && ext != ".json") {
		return nil, nil, nil, errAt(file, ref, fmt.Sprintf("$ref %q does not name an .avsc or .json file", ref.Value), "point at a whole .avsc (or .json) file, without a #fragment, or write the schema inline")
	}
	if err := l.ctx.Err(); err != nil {
		return nil, nil, nil, err
	}
	var extra []avroschema.Source
	if ext != avroschema.Extension {
		extra = append(extra, avroschema.Source{File: target})
	}
	set, err := l.avroSet(path.Dir(target), extra...)
	if err != nil {
		if de, ok := err.(*diag.Error); ok && de.Line == 0 {
			// A folder or file that does not exist: the $ref is what to fix.
			return nil, nil, nil, errAt(file, ref, fmt.Sprintf("$ref %q: %s", ref.Value, de.Msg), "fix the path; it is relative to the file holding the $ref")
		}
		return nil, nil, nil, err
	}
	t := set.FileType(target)
	if t == nil {
		return nil, nil, nil, errAt(file, ref, fmt.Sprintf("$ref %q: file %s not found", ref.Value, target), "fix the path; it is relative to the file holding the $ref")
	}
	return t.Record, t, set.FileSchema(target), nil
}

// inlineAvro loads an Avro schema written in the document.
func (l *loader) inlineAvro(file string, n *yaml.Node, what string) (*avroschema.Record, *avroschema.Type, *avro.Schema, error) {
	v, err := l.jsonValue(file, n, nil, "", nil)
	if err != nil {
		return nil, nil, nil, err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, nil, nil, errAt(file, n, fmt.Sprintf("the Avro schema of %s cannot be written as JSON: %v", what, err), "")
	}
	set, err := avroschema.LoadWith(l.ctx, l.fsys, "", avroschema.Source{File: file, Data: data})
	if err != nil {
		if de, ok := err.(*diag.Error); ok && de.File == file {
			// The position is one in the schema as JSON: report the
			// schema's place in the document.
			return nil, nil, nil, errAt(file, n, fmt.Sprintf("the inline Avro schema of %s: %s", what, de.Msg), de.Hint)
		}
		return nil, nil, nil, err
	}
	return set.FileType(file).Record, set.FileType(file), set.FileSchema(file), nil
}

// jsonSchema converts a JSON Schema to JSON, inlining its $refs, and
// returns where each of its objects is written (see [Schema.Nodes]).
func (l *loader) jsonSchema(file string, n *yaml.Node) ([]byte, map[string]JSONNode, error) {
	nodes := map[string]JSONNode{}
	v, err := l.jsonValue(file, n, nil, "", nodes)
	if err != nil {
		return nil, nil, err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, nil, errAt(file, n, fmt.Sprintf("the schema cannot be written as JSON: %v", err), "")
	}
	return data, nodes, nil
}

// jsonValue converts a YAML node of file to a JSON value, inlining each
// $ref. stack holds the definitions being inlined, to refuse recursion.
// When nodes is not nil, it records each object at its JSON Pointer ptr.
func (l *loader) jsonValue(file string, n *yaml.Node, stack []*yaml.Node, ptr string, nodes map[string]JSONNode) (any, error) {
	if l.budget--; l.budget < 0 {
		return nil, errAt(file, n, fmt.Sprintf("the JSON Schemas expand to more than %d nodes through their $refs", maxSchemaNodes), "reference fewer schemas, or simplify them")
	}
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		if key, ref := yamlref.RefOf(n); ref != nil && len(n.Content) > 2 {
			return nil, errAt(file, key, "a $ref in a JSON Schema holds nothing else here", "move the other keywords into the schema it points to")
		} else if ref != nil {
			if err := l.ctx.Err(); err != nil {
				return nil, err
			}
			t, err := l.res.Follow(file, ref)
			if err != nil {
				return nil, err
			}
			if slices.Contains(stack, t.Node) {
				return nil, errAt(file, ref, fmt.Sprintf("recursive schema: $ref %q leads back into itself", ref.Value), "JSON Schemas here are inlined, so they may not be recursive")
			}
			v, err := l.jsonValue(t.File, t.Node, append(stack, t.Node), ptr, nodes)
			if nodes != nil {
				if node, ok := nodes[ptr]; ok && node.Ref == "" {
					node.Ref = targetName(t)
					nodes[ptr] = node
				}
			}
			return v, err
		}
		if nodes != nil {
			nodes[ptr] = JSONNode{Pos: posOf(file, n)}
		}
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if _, dup := out[k.Value]; dup {
				return nil, errAt(file, k, fmt.Sprintf("key %q twice", k.Value), "remove one")
			}
			v, err := l.jsonValue(file, n.Content[i+1], stack, ptr+"/"+pointerEscaper.Replace(k.Value), nodes)
			if err != nil {
				return nil, err
			}
			out[k.Value] = v
		}
		return out, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			v, err := l.jsonValue(file, c, stack, ptr+"/"+strconv.Itoa(i), nodes)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.ScalarNode:
		return scalar(file, n)
	}
	return nil, errAt(file, n, "unresolvable alias", "")
}

// pointerEscaper escapes a key for a JSON Pointer (RFC 6901).
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// scalar converts a YAML scalar to a JSON value by its resolved tag.
func scalar(file string, n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, errAt(file, n, fmt.Sprintf("invalid boolean %q", n.Value), "")
		}
		return b, nil
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i, nil
		}
		var u uint64
		if err := n.Decode(&u); err == nil {
			return u, nil
		}
		return nil, errAt(file, n, fmt.Sprintf("integer %s does not fit in 64 bits", n.Value), "quote it if it is a string")
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, errAt(file, n, fmt.Sprintf("number %s has no JSON form", n.Value), "quote it if it is a string")
		}
		return f, nil
	}
	return n.Value, nil
}

// isObjectSchema reports whether a JSON Schema declares type object.
func isObjectSchema(data []byte) bool {
	var s struct {
		Type any `json:"type"`
	}
	if json.Unmarshal(data, &s) != nil {
		return false
	}
	return s.Type == "object"
}
