package generator

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oapi-codegen/oapi-codegen/v2/pkg/codegen"

	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
	"github.com/keiyaku/keiyaku/tools/internal/diag"
)

// OpenAPINotGenerated is the rule id of the warning for an OpenAPI 3.1
// module that generate writes nothing for: oapi-codegen's initial 3.1
// support cannot generate a construct of it (or generates Go that does
// not compile). lint reports it and generate prints it; both exit 0, so
// that lint passing still means generate works (it skips the module on
// purpose). An OpenAPI 3.0 document that does not generate stays an
// error: its fix is in the document or in openapi_codegen options.
const OpenAPINotGenerated = "OPENAPI_NOT_GENERATED"

// is31 reports whether doc is an OpenAPI 3.1 document.
func is31(doc *openapi3.T) bool { return strings.HasPrefix(doc.OpenAPI, "3.1") }

// openAPISkip is why nothing is generated for the module of t, whose
// OpenAPI 3.1 document doc oapi-codegen failed on with err (an error of
// its own, or a type error in what it wrote), placed at the construct the
// failure names when it can be found, else at the document.
func openAPISkip(t Target, doc *openapi3.T, err error) Skipped {
	msg := err.Error()
	var de *diag.Error
	if errors.As(err, &de) {
		msg = de.Msg // the type error, without "nothing was written" and a 3.0 hint
	}
	s := Skipped{Pos: asyncapi.Pos{File: t.Source, Line: 1, Column: 1}, What: "OpenAPI 3.1 document " + t.Source, OpenAPI: true}
	fix := "change the construct, or set generate: false on the module to keep it lint-only"
	if i := strings.Index(msg, "unhandled Schema type: &["); i >= 0 {
		types := strings.Fields(strings.TrimSuffix(strings.SplitN(msg[i+len("unhandled Schema type: &["):], "]", 2)[0], "]"))
		if loc := multiTypeSchema(doc, types); loc != nil {
			s.Pos = asyncapi.Pos{File: cmp.Or(loc.File, t.Source), Line: loc.Line, Column: loc.Column}
		}
		s.What = fmt.Sprintf("the schema with type [%s] (OpenAPI 3.1)", strings.Join(types, ", "))
		msg = "oapi-codegen v2.8 maps a schema to one Go type and has none for several non-null types"
		fix = "describe it with oneOf, one schema per type, or set generate: false on the module to keep it lint-only"
	}
	if loc, what := sharedOperationID(doc); loc != nil && strings.Contains(msg, "redeclared") {
		// oapi-codegen names the types of an operation after its id.
		s.Pos = asyncapi.Pos{File: cmp.Or(loc.File, t.Source), Line: loc.Line, Column: loc.Column}
		s.What = what
		fix = "give the webhook operation an operationId no path operation has (OpenAPI asks operationIds to be unique across paths and webhooks), or set generate: false on the module to keep it lint-only"
	}
	s.Why = fmt.Sprintf("%s: %s; nothing is generated for module %s (files generated for it before are left as they are): %s",
		s.What, msg, t.Module.Path, fix)
	return s
}

// multiTypeSchema returns where the first schema of doc whose type is the
// list types is, nil when none is found.
func multiTypeSchema(doc *openapi3.T, types []string) *openapi3.Location {
	if doc == nil {
		return nil
	}
	var found *openapi3.Location
	seen := map[*openapi3.Schema]bool{}
	var schema func(r *openapi3.SchemaRef)
	schema = func(r *openapi3.SchemaRef) {
		if r == nil || r.Value == nil || found != nil || seen[r.Value] {
			return
		}
		s := r.Value
		seen[s] = true
		if s.Type != nil && slices.Equal(s.Type.Slice(), types) {
			if s.Origin != nil && s.Origin.Key != nil {
				found = s.Origin.Key
			}
			return
		}
		for _, n := range slices.Sorted(maps.Keys(s.Properties)) {
			schema(s.Properties[n])
		}
		schema(s.Items)
		schema(s.Not)
		if s.AdditionalProperties.Schema != nil {
			schema(s.AdditionalProperties.Schema)
		}
		for _, l := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
			for _, c := range l {
				schema(c)
			}
		}
	}
	content := func(c openapi3.Content) {
		for _, n := range slices.Sorted(maps.Keys(c)) {
			if c[n] != nil {
				schema(c[n].Schema)
			}
		}
	}
	param := func(p *openapi3.ParameterRef) {
		if p != nil && p.Value != nil {
			schema(p.Value.Schema)
			content(p.Value.Content)
		}
	}
	operation := func(op *openapi3.Operation) {
		for _, p := range op.Parameters {
			param(p)
		}
		if op.RequestBody != nil && op.RequestBody.Value != nil {
			content(op.RequestBody.Value.Content)
		}
		if op.Responses != nil {
			m := op.Responses.Map()
			for _, code := range slices.Sorted(maps.Keys(m)) {
				if r := m[code]; r != nil && r.Value != nil {
					content(r.Value.Content)
				}
			}
		}
	}
	item := func(pi *openapi3.PathItem) {
		if pi == nil {
			return
		}
		for _, p := range pi.Parameters {
			param(p)
		}
		ops := pi.Operations()
		for _, method := range slices.Sorted(maps.Keys(ops)) {
			operation(ops[method])
		}
	}
	if doc.Paths != nil {
		m := doc.Paths.Map()
		for _, p := range slices.Sorted(maps.Keys(m)) {
			item(m[p])
		}
	}
	for _, n := range slices.Sorted(maps.Keys(doc.Webhooks)) {
		item(doc.Webhooks[n])
	}
	if c := doc.Components; c != nil {
		for _, n := range slices.Sorted(maps.Keys(c.Schemas)) {
			schema(c.Schemas[n])
		}
		for _, n := range slices.Sorted(maps.Keys(c.Parameters)) {
			param(c.Parameters[n])
		}
		for _, n := range slices.Sorted(maps.Keys(c.RequestBodies)) {
			if b := c.RequestBodies[n]; b != nil && b.Value != nil {
				content(b.Value.Content)
			}
		}
		for _, n := range slices.Sorted(maps.Keys(c.Responses)) {
			if r := c.Responses[n]; r != nil && r.Value != nil {
				content(r.Value.Content)
			}
		}
	}
	return found
}

// sharedOperationID returns where the first webhook operation of doc is
// whose operationId a path operation has too (as oapi-codegen names types
// after it: camel case; it rewrites the ids of path operations in doc so),
// and says so; nil when there is none.
func sharedOperationID(doc *openapi3.T) (*openapi3.Location, string) {
	if doc == nil || doc.Paths == nil {
		return nil, ""
	}
	byID := map[string]string{} // operationId → "POST /pets"
	paths := doc.Paths.Map()
	for _, p := range slices.Sorted(maps.Keys(paths)) {
		ops := paths[p].Operations()
		for _, m := range slices.Sorted(maps.Keys(ops)) {
			if id := ops[m].OperationID; id != "" {
				byID[codegen.ToCamelCase(id)] = m + " " + p
			}
		}
	}
	for _, n := range slices.Sorted(maps.Keys(doc.Webhooks)) {
		ops := doc.Webhooks[n].Operations()
		for _, m := range slices.Sorted(maps.Keys(ops)) {
			op := ops[m]
			if other, ok := byID[codegen.ToCamelCase(op.OperationID)]; ok && op.Origin != nil && op.Origin.Key != nil {
				return op.Origin.Key, fmt.Sprintf("the operationId %s of webhook %s (%s), which %s has too (OpenAPI 3.1)", op.OperationID, n, m, other)
			}
		}
	}
	return nil, ""
}
