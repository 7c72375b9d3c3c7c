package openapi

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v3"

	"github.com/keiyaku/keiyaku/tools/internal/diag"
)

// precheck parses the entry file and every file its $refs reach, and checks
// each $ref, so that YAML and reference errors carry their own position. It
// returns the shortcuts of the chains of $refs met.
func (l *Loader) precheck(file string, data []byte) ([]shortcut, error) {
	root, err := parseYAML(file, data)
	if err != nil {
		return nil, err
	}
	if root.Kind != yaml.MappingNode {
		return nil, &diag.Error{File: file, Line: root.Line, Column: root.Column, Msg: "an OpenAPI document must be a mapping", Hint: `start it with "openapi: 3.0.3"`}
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k, v := root.Content[i], root.Content[i+1]; k.Value == "openapi" && (v.Kind != yaml.ScalarNode || v.Tag != "!!str") {
			return nil, &diag.Error{File: file, Line: v.Line, Column: v.Column, Msg: fmt.Sprintf("openapi version %s is not a string", v.Value),
				Hint: `quote it: openapi: "3.0.3"`}
		}
	}
	return l.checkRefs(file, root)
}

// loadError reports a kin-openapi load failure that precheck did not catch,
// at the top of the entry file.
func (l *Loader) loadError(file string, err error) error {
	return &diag.Error{File: file, Line: 1, Column: 1, Msg: firstLine(err.Error())}
}

// validationError finds the innermost element of doc whose own validation
// fails and reports err at that element's position.
func (l *Loader) validationError(ctx context.Context, file string, doc *openapi3.T, err error) error {
	e := &diag.Error{File: file, Line: 1, Column: 1, Msg: firstLine(err.Error()), Hint: hintFor(err.Error())}
	if doc.Info == nil {
		e.Msg, e.Hint = "the document has no info object", "add info with a title and a version"
		return e
	}
	loc := originOf(err)
	if loc == nil {
		loc = locate(ctx, doc)
	}
	if loc != nil {
		if loc.File != "" {
			e.File = loc.File
		}
		e.Line, e.Column = loc.Line, loc.Column
	}
	return e
}

// locate returns the position of the innermost failing element: a schema,
// a parameter, a response, an operation or a path.
func locate(ctx context.Context, doc *openapi3.T) *openapi3.Location {
	if doc.Components != nil {
		for _, name := range slices.Sorted(maps.Keys(doc.Components.Schemas)) {
			if loc := failingSchema(ctx, doc.Components.Schemas[name]); loc != nil {
				return loc
			}
		}
		for _, name := range slices.Sorted(maps.Keys(doc.Components.Parameters)) {
			p := doc.Components.Parameters[name]
			if p.Value != nil && p.Value.Validate(ctx) != nil {
				return innerParameter(ctx, p.Value)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(doc.Components.Responses)) {
			if loc := failingResponse(ctx, doc.Components.Responses[name]); loc != nil {
				return loc
			}
		}
	}
	if doc.Paths == nil {
		return nil
	}
	for _, p := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(p)
		for _, method := range slices.Sorted(maps.Keys(item.Operations())) {
			op := item.Operations()[method]
			if loc := failingOperation(ctx, op); loc != nil {
				return loc
			}
		}
		if item.Validate(ctx) != nil {
			return keyOf(item.Origin)
		}
	}
	// Path-level rules (such as path parameters every operation must
	// declare) fail on the path, not on anything inside it.
	for _, p := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(p)
		if openapi3.NewPaths(openapi3.WithPath(p, item)).Validate(ctx) != nil {
			return keyOf(item.Origin)
		}
	}
	return nil
}

// originOf returns the position carried by the innermost error of err's
// chain that kin-openapi stamped with an Origin.
func originOf(err error) *openapi3.Location {
	var found *openapi3.Location
	var visit func(error)
	visit = func(err error) {
		if err == nil {
			return
		}
		if v := reflect.ValueOf(err); v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct {
			if f := v.Elem().FieldByName("Origin"); f.IsValid() && f.Type() == reflect.TypeFor[*openapi3.Origin]() && !f.IsNil() {
				if loc := keyOf(f.Interface().(*openapi3.Origin)); loc != nil {
					found = loc
				}
			}
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			visit(u.Unwrap())
		case interface{ Unwrap() []error }:
			if errs := u.Unwrap(); len(errs) > 0 {
				visit(errs[0])
			}
		}
	}
	visit(err)
	return found
}

func failingOperation(ctx context.Context, op *openapi3.Operation) *openapi3.Location {
	if op.Validate(ctx) == nil {
		return nil
	}
	for _, p := range op.Parameters {
		if p.Value != nil && p.Value.Validate(ctx) != nil {
			return innerParameter(ctx, p.Value)
		}
	}
	if rb := op.RequestBody; rb != nil && rb.Value != nil && rb.Value.Validate(ctx) != nil {
		if loc := failingContent(ctx, rb.Value.Content); loc != nil {
			return loc
		}
		return keyOf(rb.Value.Origin)
	}
	if op.Responses != nil {
		for _, code := range slices.Sorted(maps.Keys(op.Responses.Map())) {
			if loc := failingResponse(ctx, op.Responses.Value(code)); loc != nil {
				return loc
			}
		}
	}
	return keyOf(op.Origin)
}

func innerParameter(ctx context.Context, p *openapi3.Parameter) *openapi3.Location {
	if loc := failingSchema(ctx, p.Schema); loc != nil {
		return loc
	}
	return keyOf(p.Origin)
}

func failingResponse(ctx context.Context, r *openapi3.ResponseRef) *openapi3.Location {
	if r == nil || r.Value == nil || r.Value.Validate(ctx) == nil {
		return nil
	}
	if loc := failingContent(ctx, r.Value.Content); loc != nil {
		return loc
	}
	return keyOf(r.Value.Origin)
}

func failingContent(ctx context.Context, content openapi3.Content) *openapi3.Location {
	for _, mt := range slices.Sorted(maps.Keys(content)) {
		m := content[mt]
		if m == nil || m.Validate(ctx) == nil {
			continue
		}
		if loc := failingSchema(ctx, m.Schema); loc != nil {
			return loc
		}
		return keyOf(m.Origin)
	}
	return nil
}

// failingSchema returns the innermost failing subschema of s, or nil when s
// validates.
func failingSchema(ctx context.Context, s *openapi3.SchemaRef) *openapi3.Location {
	if s == nil || s.Value == nil || s.Value.Validate(ctx) == nil {
		return nil
	}
	v := s.Value
	subs := slices.Concat(v.AllOf, v.AnyOf, v.OneOf, []*openapi3.SchemaRef{v.Items, v.Not, v.AdditionalProperties.Schema})
	for _, name := range slices.Sorted(maps.Keys(v.Properties)) {
		subs = append(subs, v.Properties[name])
	}
	for _, sub := range subs {
		if loc := failingSchema(ctx, sub); loc != nil {
			return loc
		}
	}
	return keyOf(v.Origin)
}

func keyOf(o *openapi3.Origin) *openapi3.Location {
	if o == nil || o.Key == nil {
		return nil
	}
	return o.Key
}

// hints pair a fragment of kin-openapi's message with how to fix it.
var hints = []struct{ fragment, hint string }{
	{"unsupported 'type' value", "use one of array, boolean, integer, number, object, string"},
	{"must define exactly all path parameters", "declare each {name} of the path as an \"in: path\" parameter with required: true"},
	{"invalid example", "make the example satisfy its schema, or fix the schema"},
	{"value of openapi must be a non-empty string", `start the document with "openapi: 3.0.3"`},
	{"duplicate", "give each one a unique name"},
}

func hintFor(msg string) string {
	for _, h := range hints {
		if strings.Contains(msg, h.fragment) {
			return h.hint
		}
	}
	return ""
}

// firstLine keeps the first line of a multi-line kin-openapi message and
// drops the chain of "invalid X:" prefixes that the position now tells.
func firstLine(msg string) string {
	msg, _, _ = strings.Cut(msg, "\n")
	for {
		head, rest, ok := strings.Cut(msg, ": ")
		if !ok || !strings.HasPrefix(head, "invalid ") || rest == "" {
			break
		}
		msg = rest
	}
	return strings.TrimSpace(msg)
}
