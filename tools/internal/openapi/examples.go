package openapi

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/keiyaku/keiyaku/tools/internal/diag"
)

// InvalidExamples returns every example of doc that does not match its
// schema — of schemas, parameters, headers, request and response bodies —
// each at its own position (file is the document's file, for elements
// kin-openapi placed in it), sorted by position. [Loader.Load] leaves
// examples out of validation, so that one bad example neither hides the
// others nor stops the load: the caller decides how much they weigh.
func InvalidExamples(doc *openapi3.T, file string) []*diag.Error {
	w := exampleWalker{file: file, seen: map[*openapi3.Schema]bool{}, found: map[string]*diag.Error{}}
	if c := doc.Components; c != nil {
		for _, name := range slices.Sorted(maps.Keys(c.Schemas)) {
			w.schema(c.Schemas[name])
		}
		for _, name := range slices.Sorted(maps.Keys(c.Parameters)) {
			if p := c.Parameters[name]; p != nil {
				w.parameter(p.Value, nil)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(c.Headers)) {
			if h := c.Headers[name]; h != nil && h.Value != nil {
				w.parameter(&h.Value.Parameter, openapi3.VisitAsResponse())
			}
		}
		for _, name := range slices.Sorted(maps.Keys(c.RequestBodies)) {
			if rb := c.RequestBodies[name]; rb != nil && rb.Value != nil {
				w.content(rb.Value.Content, openapi3.VisitAsRequest())
			}
		}
		for _, name := range slices.Sorted(maps.Keys(c.Responses)) {
			w.response(c.Responses[name])
		}
	}
	if doc.Paths != nil {
		for _, p := range doc.Paths.InMatchingOrder() {
			item := doc.Paths.Value(p)
			for _, param := range item.Parameters {
				if param != nil {
					w.parameter(param.Value, openapi3.VisitAsRequest())
				}
			}
			for _, method := range slices.Sorted(maps.Keys(item.Operations())) {
				op := item.Operations()[method]
				for _, param := range op.Parameters {
					if param != nil {
						w.parameter(param.Value, openapi3.VisitAsRequest())
					}
				}
				if op.RequestBody != nil && op.RequestBody.Value != nil {
					w.content(op.RequestBody.Value.Content, openapi3.VisitAsRequest())
				}
				if op.Responses != nil {
					for _, code := range slices.Sorted(maps.Keys(op.Responses.Map())) {
						w.response(op.Responses.Value(code))
					}
				}
			}
		}
	}
	errs := slices.Collect(maps.Values(w.found))
	slices.SortFunc(errs, func(a, b *diag.Error) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column), cmp.Compare(a.Msg, b.Msg))
	})
	return errs
}

type exampleWalker struct {
	file  string
	seen  map[*openapi3.Schema]bool
	found map[string]*diag.Error
}

// check validates one example against schema, as kin-openapi's example
// validation does, and records a failure at origin.
func (w *exampleWalker) check(example any, schema *openapi3.Schema, origin *openapi3.Origin, side openapi3.SchemaValidationOption) {
	if example == nil || schema == nil {
		return
	}
	opts := []openapi3.SchemaValidationOption{openapi3.MultiErrors()}
	if side != nil {
		opts = append(opts, side)
	}
	err := schema.VisitJSON(example, opts...)
	if err == nil {
		return
	}
	e := &diag.Error{File: w.file, Line: 1, Column: 1, Msg: "invalid example: " + firstLine(err.Error()),
		Hint: "make the example satisfy its schema, or fix the schema"}
	if loc := keyOf(origin); loc != nil {
		e.File, e.Line, e.Column = cmp.Or(loc.File, w.file), loc.Line, loc.Column
	}
	w.found[fmt.Sprintf("%s:%d:%d:%s", e.File, e.Line, e.Column, e.Msg)] = e
}

func (w *exampleWalker) schema(s *openapi3.SchemaRef) {
	if s == nil || s.Value == nil || w.seen[s.Value] {
		return
	}
	v := s.Value
	w.seen[v] = true
	w.check(v.Example, v, v.Origin, nil)
	for _, name := range slices.Sorted(maps.Keys(v.Properties)) {
		w.schema(v.Properties[name])
	}
	for _, sub := range slices.Concat(v.AllOf, v.AnyOf, v.OneOf, []*openapi3.SchemaRef{v.Items, v.Not, v.AdditionalProperties.Schema}) {
		w.schema(sub)
	}
}

func (w *exampleWalker) parameter(p *openapi3.Parameter, side openapi3.SchemaValidationOption) {
	if p == nil {
		return
	}
	if p.Schema != nil && p.Schema.Value != nil {
		w.check(p.Example, p.Schema.Value, p.Origin, side)
		w.examples(p.Examples, p.Schema.Value, side)
		w.schema(p.Schema)
	}
	w.content(p.Content, side)
}

func (w *exampleWalker) response(r *openapi3.ResponseRef) {
	if r == nil || r.Value == nil {
		return
	}
	w.content(r.Value.Content, openapi3.VisitAsResponse())
	for _, name := range slices.Sorted(maps.Keys(r.Value.Headers)) {
		if h := r.Value.Headers[name]; h != nil && h.Value != nil {
			w.parameter(&h.Value.Parameter, openapi3.VisitAsResponse())
		}
	}
}

func (w *exampleWalker) content(c openapi3.Content, side openapi3.SchemaValidationOption) {
	for _, mt := range slices.Sorted(maps.Keys(c)) {
		m := c[mt]
		if m == nil || m.Schema == nil || m.Schema.Value == nil {
			continue
		}
		w.check(m.Example, m.Schema.Value, m.Origin, side)
		w.examples(m.Examples, m.Schema.Value, side)
		w.schema(m.Schema)
	}
}

func (w *exampleWalker) examples(exs openapi3.Examples, schema *openapi3.Schema, side openapi3.SchemaValidationOption) {
	for _, name := range slices.Sorted(maps.Keys(exs)) {
		if ex := exs[name]; ex != nil && ex.Value != nil {
			w.check(ex.Value.Value, schema, ex.Value.Origin, side)
		}
	}
}
