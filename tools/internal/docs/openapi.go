package docs

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// maxSchemaDepth bounds how deep a schema table follows nested objects; a
// recursive schema stops at the first repeat anyway.
const maxSchemaDepth = 8

// operation is one REST operation.
type operation struct {
	ID, Method, Path, Anchor string
	Summary                  string
	Description              []string
	Deprecated               bool
	Tags                     []string
	File                     string
	Params                   []param
	Body                     *body
	Responses                []response
}

type param struct {
	Name, In, Type, Description, Example string
	Required                             bool
}

type body struct {
	Description string
	Required    bool
	Contents    []content
}

type response struct {
	Status, Description string
	Contents            []content
}

// content is one media type of a request or response body.
type content struct {
	MediaType string
	Schema    string // the schema's name when it is a $ref, else its type
	Rows      []row
	Examples  []example
}

// row is one property of a schema table.
type row struct {
	Name        string
	Depth       int
	Type        string
	Required    bool
	Description string
	Constraints string
}

type example struct {
	Name, Summary, JSON string
}

// methodOrder is the order operations of one path are listed in.
var methodOrder = []string{"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "TRACE", "CONNECT"}

// operations lists the operations of a document, by path then method.
func operations(file string, doc *openapi3.T) []*operation {
	if doc.Paths == nil {
		return nil
	}
	var out []*operation
	paths := doc.Paths.Map()
	for _, p := range slices.Sorted(maps.Keys(paths)) {
		item := paths[p]
		ops := item.Operations()
		methods := slices.SortedFunc(maps.Keys(ops), func(a, b string) int {
			return cmp.Compare(slices.Index(methodOrder, a), slices.Index(methodOrder, b))
		})
		for _, method := range methods {
			op := ops[method]
			o := &operation{
				ID: op.OperationID, Method: method, Path: p, File: file,
				Summary: op.Summary, Description: paragraphs(op.Description),
				Deprecated: op.Deprecated, Tags: op.Tags,
			}
			o.Anchor = "op-" + anchor(cmp.Or(op.OperationID, method+" "+p))
			o.Params = params(item.Parameters, op.Parameters)
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				rb := op.RequestBody.Value
				o.Body = &body{Description: rb.Description, Required: rb.Required, Contents: contents(rb.Content)}
			}
			if op.Responses != nil {
				rs := op.Responses.Map()
				for _, status := range slices.Sorted(maps.Keys(rs)) {
					r := rs[status].Value
					if r == nil {
						continue
					}
					desc := ""
					if r.Description != nil {
						desc = *r.Description
					}
					o.Responses = append(o.Responses, response{Status: status, Description: desc, Contents: contents(r.Content)})
				}
			}
			out = append(out, o)
		}
	}
	return out
}

// params merges the parameters of a path item and of an operation (the
// operation's win), sorted by location then name.
func params(pathLevel, opLevel openapi3.Parameters) []param {
	byKey := map[string]*openapi3.Parameter{}
	for _, ps := range []openapi3.Parameters{pathLevel, opLevel} {
		for _, ref := range ps {
			if ref == nil || ref.Value == nil {
				continue
			}
			byKey[ref.Value.In+" "+ref.Value.Name] = ref.Value
		}
	}
	var out []param
	for _, key := range slices.SortedFunc(maps.Keys(byKey), func(a, b string) int {
		return cmp.Or(cmp.Compare(inOrder(byKey[a].In), inOrder(byKey[b].In)), cmp.Compare(a, b))
	}) {
		p := byKey[key]
		v := param{Name: p.Name, In: p.In, Required: p.Required, Description: oneLine(p.Description)}
		ex := p.Example
		if p.Schema != nil {
			v.Type = typeOf(p.Schema)
			if ex == nil && p.Schema.Value != nil {
				ex = p.Schema.Value.Example
			}
		}
		if ex != nil {
			v.Example = compactJSON(ex)
		}
		out = append(out, v)
	}
	return out
}

func inOrder(in string) int {
	return slices.Index([]string{"path", "query", "header", "cookie"}, in)
}

// contents describes the media types of a body, sorted.
func contents(c openapi3.Content) []content {
	var out []content
	for _, mt := range slices.Sorted(maps.Keys(c)) {
		m := c[mt]
		if m == nil {
			continue
		}
		v := content{MediaType: mt}
		if m.Schema != nil {
			v.Schema = typeOf(m.Schema)
			v.Rows = schemaRows(m.Schema)
		}
		switch {
		case len(m.Examples) > 0:
			for _, name := range slices.Sorted(maps.Keys(m.Examples)) {
				ex := m.Examples[name]
				if ex == nil || ex.Value == nil {
					continue
				}
				v.Examples = append(v.Examples, example{Name: name, Summary: ex.Value.Summary, JSON: prettyJSON(ex.Value.Value)})
			}
		case m.Example != nil:
			v.Examples = append(v.Examples, example{Name: "example", JSON: prettyJSON(m.Example)})
		case m.Schema != nil && m.Schema.Value != nil && m.Schema.Value.Example != nil:
			v.Examples = append(v.Examples, example{Name: "schema example", JSON: prettyJSON(m.Schema.Value.Example)})
		}
		out = append(out, v)
	}
	return out
}

// schemaRows flattens a schema into table rows: one per property, nested
// properties below their parent with a dotted name; an array's item
// properties are named "name[]".
func schemaRows(ref *openapi3.SchemaRef) []row {
	var rows []row
	seen := map[*openapi3.Schema]bool{}
	var walk func(prefix string, ref *openapi3.SchemaRef, depth int)
	walk = func(prefix string, ref *openapi3.SchemaRef, depth int) {
		if ref == nil || ref.Value == nil || depth > maxSchemaDepth || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		defer delete(seen, s)
		for _, part := range s.AllOf {
			walk(prefix, part, depth)
		}
		if s.Items != nil && s.Type.Is(openapi3.TypeArray) {
			walk(prefix+"[]", s.Items, depth)
			return
		}
		for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
			p := s.Properties[name]
			if p == nil || p.Value == nil {
				continue
			}
			full := name
			if prefix != "" {
				full = prefix + "." + name
			}
			rows = append(rows, row{
				Name: full, Depth: depth, Type: typeOf(p), Required: slices.Contains(s.Required, name),
				Description: oneLine(cmp.Or(p.Value.Description, p.Value.Title)), Constraints: constraints(p.Value),
			})
			walk(full, p, depth+1)
		}
	}
	walk("", ref, 0)
	return rows
}

// typeOf names a schema's type: its $ref name and JSON type, the format,
// the item type of an array, the variants of oneOf and anyOf.
func typeOf(ref *openapi3.SchemaRef) string {
	return typeOfDepth(ref, 0)
}

func typeOfDepth(ref *openapi3.SchemaRef, depth int) string {
	if ref == nil || ref.Value == nil {
		return "any"
	}
	s := ref.Value
	name := refName(ref.Ref)
	if depth > maxSchemaDepth {
		return cmp.Or(name, "…")
	}
	var t string
	switch {
	case len(s.OneOf) > 0 || len(s.AnyOf) > 0:
		var alts []string
		for _, a := range slices.Concat(s.OneOf, s.AnyOf) {
			alts = append(alts, typeOfDepth(a, depth+1))
		}
		word := "one of"
		if len(s.OneOf) == 0 {
			word = "any of"
		}
		t = word + " " + strings.Join(alts, " | ")
	case s.Type.Is(openapi3.TypeArray):
		t = "array of " + typeOfDepth(s.Items, depth+1)
	case s.Type != nil && !s.Type.IsEmpty():
		t = strings.Join(s.Type.Slice(), " | ")
	case len(s.AllOf) > 0:
		t = "object"
	default:
		t = "any"
	}
	if s.Format != "" {
		t += " (" + s.Format + ")"
	}
	if s.Nullable {
		t += ", nullable"
	}
	if name != "" && !s.Type.Is(openapi3.TypeArray) {
		return name + " — " + t
	}
	return t
}

// refName is the last segment of a $ref: "#/components/schemas/Member" →
// "Member".
func refName(ref string) string {
	if ref == "" {
		return ""
	}
	return ref[strings.LastIndex(ref, "/")+1:]
}

// constraints lists a property's validation keywords and example in one
// line.
func constraints(s *openapi3.Schema) string {
	var parts []string
	if len(s.Enum) > 0 {
		var vals []string
		for _, e := range s.Enum {
			vals = append(vals, compactJSON(e))
		}
		parts = append(parts, "one of "+strings.Join(vals, ", "))
	}
	num := func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
	if s.Min != nil {
		parts = append(parts, "min "+num(*s.Min))
	}
	if s.Max != nil {
		parts = append(parts, "max "+num(*s.Max))
	}
	if s.MinLength > 0 {
		parts = append(parts, fmt.Sprintf("min length %d", s.MinLength))
	}
	if s.MaxLength != nil {
		parts = append(parts, fmt.Sprintf("max length %d", *s.MaxLength))
	}
	if s.MinItems > 0 {
		parts = append(parts, fmt.Sprintf("min items %d", s.MinItems))
	}
	if s.MaxItems != nil {
		parts = append(parts, fmt.Sprintf("max items %d", *s.MaxItems))
	}
	if s.Pattern != "" {
		parts = append(parts, "pattern "+s.Pattern)
	}
	if s.ReadOnly {
		parts = append(parts, "read-only")
	}
	if s.WriteOnly {
		parts = append(parts, "write-only")
	}
	if s.Deprecated {
		parts = append(parts, "deprecated")
	}
	if s.Default != nil {
		parts = append(parts, "default "+compactJSON(s.Default))
	}
	if s.Example != nil && s.Type != nil && !s.Type.Is(openapi3.TypeObject) && !s.Type.Is(openapi3.TypeArray) {
		parts = append(parts, "e.g. "+compactJSON(s.Example))
	}
	return strings.Join(parts, "; ")
}

// prettyJSON renders an example as indented JSON; encoding/json sorts map
// keys, so the output is deterministic.
func prettyJSON(v any) string {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}

func compactJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}

// oneLine folds a description onto one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// anchor makes an HTML id from a name: letters, digits, '-' and '_'.
func anchor(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}
