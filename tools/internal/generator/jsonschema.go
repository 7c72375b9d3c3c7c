package generator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
)

// jsonTypes writes the Go types of JSON Schema payloads (JSON Schema draft
// 07 and the AsyncAPI Schema Object, its superset), for encoding/json:
//
//   - an object with properties → a struct, one field per property with
//     its json tag; a required property is a value, an optional one a
//     pointer with omitempty (slices, maps and any stay as they are, with
//     omitempty); a property whose type admits null is a pointer;
//   - an object without properties → map[string]T of its
//     additionalProperties (map[string]any when it has none);
//   - an array → []T of its items; string, integer (int64, or int32 for
//     format int32), number (float64, or float32 for format float),
//     boolean; a string of format date-time → time.Time;
//   - an enum of strings → a string type with one constant per value;
//   - allOf of objects → one struct of all their properties; oneOf or
//     anyOf of one schema and null → that schema, nullable;
//   - no type, several types, or an enum that is not of strings → any (or
//     the type); oneOf / anyOf of several schemas → json.RawMessage, noted
//     (see [Skipped]) for lint to report.
//
// A struct or enum is named after the definition a $ref led to it
// ("#/components/schemas/User" → User), else after where it is: the
// payload after its message, a property's object after the parent and the
// property (UserAddress), an array's items after the array with "Item",
// a map's values with "Value". Two different schemas that want one name
// are numbered (User, User2), in the order met; identical schemas that
// want one name are one type.
type jsonTypes struct {
	used    map[string]bool // Go names declared in the file or its package
	decls   map[string]*jsonDecl
	imports map[string]bool
	notes   []Skipped
}

// jsonDecl is a named Go type of a JSON Schema.
type jsonDecl struct {
	schema string // the schema as canonical JSON: the same schema, the same type
	code   string
	fields []jsonField // of a struct
}

// jsonField is a field of a struct of a JSON Schema object.
type jsonField struct {
	Prop, Go, Type string
	Required       bool
}

func newJSONTypes(used map[string]bool) *jsonTypes {
	return &jsonTypes{used: used, decls: map[string]*jsonDecl{}, imports: map[string]bool{}}
}

// jsonPayload is one payload being typed: the message, for names and
// positions.
type jsonPayload struct {
	msg   *asyncapi.Message
	nodes map[string]asyncapi.JSONNode
}

// payload declares the Go type of msg's JSON Schema payload and returns its
// name. The payload is named after the definition its $ref points at, else
// after the message.
func (g *jsonTypes) payload(msg *asyncapi.Message) (string, error) {
	var schema any
	dec := json.NewDecoder(bytes.NewReader(msg.Payload.JSON))
	dec.UseNumber()
	if err := dec.Decode(&schema); err != nil {
		return "", fmt.Errorf("message %s: read its JSON Schema payload: %w", msg.Name, err)
	}
	p := &jsonPayload{msg: msg, nodes: msg.Payload.Nodes}
	name := msg.Name
	if ref := p.nodes[""].Ref; ref != "" {
		name = ref
	}
	name = goIdent(name)
	typ, _ := g.goType(p, schema, "", name)
	if d := g.decls[typ]; d != nil {
		return typ, nil
	}
	// Not a struct or enum: an alias keeps the JSON methods of the type
	// (time.Time, json.RawMessage).
	alias := g.unique(name, "alias:"+typ)
	if g.decls[alias] == nil {
		g.decls[alias] = &jsonDecl{schema: "alias:" + typ, code: fmt.Sprintf("// %s is the payload of message %s.\ntype %s = %s\n\n", alias, msg.Name, alias, typ)}
	}
	return alias, nil
}

// field returns the field of the struct name for the JSON property prop.
func (g *jsonTypes) field(name, prop string) (jsonField, bool) {
	d := g.decls[name]
	if d == nil {
		return jsonField{}, false
	}
	i := slices.IndexFunc(d.fields, func(f jsonField) bool { return f.Prop == prop })
	if i < 0 {
		return jsonField{}, false
	}
	return d.fields[i], true
}

// unique returns name, or name numbered, for a declaration of schema: the
// name of an identical declaration, or one nothing else has.
func (g *jsonTypes) unique(name, schema string) string {
	for i := 1; ; i++ {
		n := name
		if i > 1 {
			n += strconv.Itoa(i)
		}
		if d := g.decls[n]; d != nil && d.schema == schema {
			return n
		}
		if g.decls[n] == nil && !g.used[n] {
			return n
		}
	}
}

// note records a part of a payload typed loosely.
func (g *jsonTypes) note(p *jsonPayload, ptr, why string) {
	pos := p.nodes[ptr].Pos
	if pos.File == "" {
		pos = p.msg.Payload.Pos
	}
	where := "payload"
	if ptr != "" {
		where += " at " + ptr
	}
	g.notes = append(g.notes, Skipped{Pos: pos, What: fmt.Sprintf("message %s: %s", p.msg.Name, where), Why: why, Untyped: true})
}

// goType returns the Go type of schema s at JSON Pointer ptr, declaring the
// named types it needs (name is the name a struct or enum there takes when
// no $ref names it), and whether the schema admits null.
func (g *jsonTypes) goType(p *jsonPayload, v any, ptr, name string) (string, bool) {
	s, ok := v.(map[string]any)
	if !ok {
		return "any", false // a boolean schema (true, false)
	}
	if ref := p.nodes[ptr].Ref; ref != "" {
		name = goIdent(ref)
	}
	if merged, ok := mergeAllOf(s); ok {
		s = merged
	} else if _, has := s["allOf"]; has {
		g.note(p, ptr, "allOf of schemas that are not all objects: typed by its own keywords only")
	}
	for _, kw := range []string{"oneOf", "anyOf"} {
		alts, _ := s[kw].([]any)
		if len(alts) == 0 || (hasShape(s) && !slices.ContainsFunc(alts, hasShape)) {
			// None, or branches that only constrain the schema's own
			// shape (oneOf: [{required: [a]}, {required: [b]}]).
			continue
		}
		var rest []int
		for i, a := range alts {
			if !isNullSchema(a) {
				rest = append(rest, i)
			}
		}
		switch len(rest) {
		case 0:
			return "any", true
		case 1:
			typ, _ := g.goType(p, alts[rest[0]], ptr+"/"+kw+"/"+strconv.Itoa(rest[0]), name)
			return typ, true
		}
		g.imports["encoding/json"] = true
		g.note(p, ptr, fmt.Sprintf("%s of %d schemas: generated as json.RawMessage (decode it into the branch you expect)", kw, len(rest)))
		return "json.RawMessage", len(rest) < len(alts)
	}
	types, nullable := schemaTypes(s)
	if enum, ok := s["enum"].([]any); ok && len(enum) > 0 {
		var values []string
		strs := true
		for _, e := range enum {
			switch e := e.(type) {
			case string:
				values = append(values, e)
			case nil:
				nullable = true
			default:
				strs = false
			}
		}
		if strs && len(values) > 0 && (len(types) == 0 || slices.Equal(types, []string{"string"})) {
			return g.enum(s, values, name), nullable
		}
	}
	typ := ""
	if len(types) == 1 {
		typ = types[0]
	} else if len(types) == 0 {
		if _, ok := s["properties"]; ok {
			typ = "object"
		} else if _, ok := s["items"]; ok {
			typ = "array"
		} else if c, ok := s["const"].(string); ok && c != "" {
			typ = "string"
		}
	}
	switch typ {
	case "object":
		props, _ := s["properties"].(map[string]any)
		if len(props) == 0 {
			if ap, ok := s["additionalProperties"].(map[string]any); ok {
				t, null := g.goType(p, ap, ptr+"/additionalProperties", name+"Value")
				return "map[string]" + pointerIf(t, null), nullable
			}
			return "map[string]any", nullable
		}
		return g.object(p, s, props, ptr, name), nullable
	case "array":
		if items, ok := s["items"].(map[string]any); ok {
			t, null := g.goType(p, items, ptr+"/items", name+"Item")
			return "[]" + pointerIf(t, null), nullable
		}
		return "[]any", nullable
	case "string":
		if s["format"] == "date-time" {
			g.imports["time"] = true
			return "time.Time", nullable
		}
		return "string", nullable
	case "integer":
		if s["format"] == "int32" {
			return "int32", nullable
		}
		return "int64", nullable
	case "number":
		if s["format"] == "float" {
			return "float32", nullable
		}
		return "float64", nullable
	case "boolean":
		return "bool", nullable
	}
	return "any", nullable
}

// object declares the struct of an object schema with properties.
func (g *jsonTypes) object(p *jsonPayload, s, props map[string]any, ptr, name string) string {
	key := canonical(s)
	name = g.unique(name, key)
	if g.decls[name] != nil {
		return name
	}
	d := &jsonDecl{schema: key}
	g.decls[name] = d // before the fields: a field's type must not take the name
	required := map[string]bool{}
	if req, ok := s["required"].([]any); ok {
		for _, r := range req {
			if r, ok := r.(string); ok {
				required[r] = true
			}
		}
	}
	what := "is a JSON object of the payload of message " + p.msg.Name + "."
	if ref := p.nodes[ptr].Ref; ref != "" {
		what = "is the JSON Schema object " + ref + "."
	}
	var b bytes.Buffer
	comment(&b, "", name, description(s), what)
	fmt.Fprintf(&b, "type %s struct {\n", name)
	taken := map[string]bool{}
	for _, prop := range slices.Sorted(maps.Keys(props)) {
		ps, _ := props[prop].(map[string]any)
		if !validTag(prop) {
			g.note(p, ptr, fmt.Sprintf("property %q cannot be named in a json struct tag: left out of %s", prop, name))
			continue
		}
		pptr := ptr + "/properties/" + pointerEscaper.Replace(prop)
		if _, ok := p.nodes[pptr]; !ok {
			// A property merged from allOf: its node is under that part.
			pptr = allOfPointer(p, ptr, prop, pptr)
		}
		field := goIdent(prop)
		for n := 2; taken[field]; n++ {
			field = goIdent(prop) + strconv.Itoa(n)
		}
		taken[field] = true
		typ, null := g.goType(p, props[prop], pptr, name+field)
		tag := prop
		if !required[prop] {
			tag += ",omitempty"
		}
		if !required[prop] || null {
			typ = pointerIf(typ, true)
		}
		d.fields = append(d.fields, jsonField{Prop: prop, Go: field, Type: typ, Required: required[prop]})
		if len(d.fields) > 1 {
			b.WriteString("\n")
		}
		comment(&b, "\t", field, description(ps), "is the property "+prop+".")
		fmt.Fprintf(&b, "\t%s %s `json:%s`\n", field, typ, strconv.Quote(tag))
	}
	b.WriteString("}\n\n")
	d.code = b.String()
	return name
}

// allOfPointer finds the pointer of property prop of an object merged from
// allOf parts at ptr; def when none has it.
func allOfPointer(p *jsonPayload, ptr, prop, def string) string {
	esc := pointerEscaper.Replace(prop)
	for i := 0; ; i++ {
		part := ptr + "/allOf/" + strconv.Itoa(i)
		if _, ok := p.nodes[part]; !ok {
			return def
		}
		if q := part + "/properties/" + esc; p.nodes[q].File != "" {
			return q
		}
	}
}

// enum declares the string type of an enum of strings.
func (g *jsonTypes) enum(s map[string]any, values []string, name string) string {
	key := "enum:" + strings.Join(values, "\x00")
	name = g.unique(name, key)
	if g.decls[name] != nil {
		return name
	}
	var b bytes.Buffer
	comment(&b, "", name, description(s), "is a JSON enum of strings.")
	fmt.Fprintf(&b, "type %s string\n\n// The values of %s.\nconst (\n", name, name)
	taken := map[string]bool{}
	for _, v := range values {
		word := v
		if strings.ToUpper(v) == v {
			word = strings.ToLower(v) // SCREAMING_CASE → ScreamingCase
		}
		c := name + goIdent(word)
		if word == "" {
			c = name + "Empty"
		}
		base := c
		for n := 2; taken[c]; n++ {
			c = base + strconv.Itoa(n)
		}
		taken[c] = true
		fmt.Fprintf(&b, "\t%s %s = %s\n", c, name, strconv.Quote(v))
	}
	b.WriteString(")\n\n")
	g.decls[name] = &jsonDecl{schema: key, code: b.String()}
	return name
}

// code returns the declarations, sorted by name.
func (g *jsonTypes) code() []byte {
	var b bytes.Buffer
	for _, n := range slices.Sorted(maps.Keys(g.decls)) {
		b.WriteString(g.decls[n].code)
	}
	return b.Bytes()
}

// mergeAllOf merges an allOf whose parts are all objects (with the schema's
// own properties) into one object schema.
func mergeAllOf(s map[string]any) (map[string]any, bool) {
	parts, ok := s["allOf"].([]any)
	if !ok || len(parts) == 0 {
		return nil, false
	}
	out := map[string]any{"type": "object"}
	props := map[string]any{}
	var required []any
	for i, part := range append([]any{s}, parts...) {
		ps, ok := part.(map[string]any)
		if !ok {
			return nil, false
		}
		if t, has := ps["type"]; has && t != "object" {
			return nil, false
		}
		if _, nested := ps["allOf"]; nested && i > 0 {
			return nil, false
		}
		if pp, ok := ps["properties"].(map[string]any); ok {
			maps.Copy(props, pp)
		}
		if r, ok := ps["required"].([]any); ok {
			required = append(required, r...)
		}
		for _, k := range []string{"description", "title"} {
			if _, ok := out[k]; !ok && ps[k] != nil {
				out[k] = ps[k]
			}
		}
	}
	out["properties"] = props
	out["required"] = required
	return out, true
}

// schemaTypes returns the types a schema's type keyword names, null left
// out, and whether it names null.
func schemaTypes(s map[string]any) ([]string, bool) {
	var types []string
	nullable := false
	add := func(t any) {
		switch t {
		case "null":
			nullable = true
		case nil:
		default:
			if t, ok := t.(string); ok {
				types = append(types, t)
			}
		}
	}
	if list, ok := s["type"].([]any); ok {
		for _, t := range list {
			add(t)
		}
	} else {
		add(s["type"])
	}
	if s["nullable"] == true { // OpenAPI 3.0 style, accepted by many tools
		nullable = true
	}
	return types, nullable
}

// hasShape reports whether a schema says what shape its values have
// (type, properties, items, enum, const, or a combination of schemas),
// rather than only constraining one given elsewhere.
func hasShape(v any) bool {
	s, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for _, k := range []string{"type", "properties", "items", "enum", "const", "allOf", "oneOf", "anyOf", "additionalProperties"} {
		if _, ok := s[k]; ok {
			return true
		}
	}
	return false
}

// validTag reports whether encoding/json takes name from a struct tag: it
// ignores names with quotes, backslashes, commas or other characters
// outside its set (and a backtick would end the tag).
func validTag(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		if !strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c) && !unicode.IsLetter(c) && !unicode.IsDigit(c) {
			return false
		}
	}
	return true
}

// pointerEscaper escapes a key for a JSON Pointer (RFC 6901).
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// isNullSchema reports whether a schema admits null only.
func isNullSchema(v any) bool {
	s, ok := v.(map[string]any)
	if !ok {
		return false
	}
	if s["type"] == "null" {
		return true
	}
	_, hasConst := s["const"]
	return hasConst && s["const"] == nil
}

// pointerIf makes typ a pointer when null (or absent) must be told apart
// from its zero value; slices, maps and interfaces are nil already.
func pointerIf(typ string, nullable bool) string {
	if !nullable || strings.HasPrefix(typ, "*") || strings.HasPrefix(typ, "[]") || strings.HasPrefix(typ, "map[") || typ == "any" || typ == "json.RawMessage" {
		return typ
	}
	return "*" + typ
}

// description is the description of a schema, else its title.
func description(s map[string]any) string {
	if d, ok := s["description"].(string); ok && strings.TrimSpace(d) != "" {
		return d
	}
	t, _ := s["title"].(string)
	return t
}

// canonical is a schema as JSON with its keys sorted.
func canonical(s map[string]any) string {
	data, _ := json.Marshal(s) // values read from JSON marshal again
	return string(data)
}
