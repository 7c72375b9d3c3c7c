package avrocompat

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/avro"
)

// ErrNoCounterexample is returned by [Counterexample] when the datum it
// built decodes: the reader can read it.
var ErrNoCounterexample = errors.New("no counterexample: the reader decodes the datum")

// maxDatumDepth bounds how deep a built datum nests records, arrays and
// maps, so that a recursive schema gives a finite datum.
const maxDatumDepth = 6

// Counterexample builds a datum of the writer schema that the reader
// schema cannot read, for the incompatibility at path (an
// [Incompatibility.Path] of this reader/writer pair), and checks it with
// github.com/twmb/avro: the datum is encoded with the writer schema and
// decoded, through [avro.Resolve], with the reader schema. It returns the
// datum as Avro JSON (unions tagged with their branch) and the error the
// decode gave. The datum is steered to the problem: the writer's union
// branch the path names, an enum symbol the reader lacks, one element in
// each array and map on the way.
//
// When the datum decodes, Counterexample returns [ErrNoCounterexample];
// a schema that does not parse or a datum the writer refuses is an error
// too.
func Counterexample(writer, reader, path string) (datum string, decodeErr error, err error) {
	wn, err := parseSchema(writer)
	if err != nil {
		return "", nil, fmt.Errorf("counterexample: writer: %w", err)
	}
	rn, err := parseSchema(reader)
	if err != nil {
		return "", nil, fmt.Errorf("counterexample: reader: %w", err)
	}
	ws, err := avro.Parse(writer)
	if err != nil {
		return "", nil, fmt.Errorf("counterexample: writer: %w", err)
	}
	rs, err := avro.Parse(reader)
	if err != nil {
		return "", nil, fmt.Errorf("counterexample: reader: %w", err)
	}
	plan := map[*node]int{}
	steer(rn, wn, pathTokens(path), plan)
	v := buildDatum(wn, plan, 0)
	bin, err := ws.Encode(v)
	if err != nil {
		return "", nil, fmt.Errorf("counterexample: encode with the writer schema: %w", err)
	}
	js, err := ws.EncodeJSON(v, avro.TaggedUnions())
	if err != nil {
		return "", nil, fmt.Errorf("counterexample: encode as JSON: %w", err)
	}
	resolved, err := avro.Resolve(ws, rs)
	if err != nil {
		return string(js), err, nil
	}
	var out any
	if _, err := resolved.Decode(bin, &out); err != nil {
		return string(js), err, nil
	}
	return string(js), nil, ErrNoCounterexample
}

// pathTokens splits a JSON pointer into its unescaped tokens.
func pathTokens(p string) []string {
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return nil
	}
	toks := strings.Split(p, "/")
	for i, t := range toks {
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return toks
}

// steer follows the path down the reader r and the writer w, as the
// walker built it, and records in plan the writer's choices that reach
// the problem: a union branch (by index) or an enum symbol the reader
// lacks (by index).
func steer(r, w *node, toks []string, plan map[*node]int) {
	matchReader := func() {
		if r != nil && r.kind == "union" && w.kind != "union" {
			r = newBranchLookup(r).match(w)
		}
	}
	for len(toks) > 0 && w != nil {
		matchReader()
		t := toks[0]
		toks = toks[1:]
		switch {
		case t == "fields" && len(toks) > 0:
			i, err := strconv.Atoi(toks[0])
			toks = toks[1:]
			if err != nil || r == nil || r.kind != "record" || w.kind != "record" || i < 0 || i >= len(r.fields) {
				return
			}
			rf := &r.fields[i]
			wf := writerField(rf, w)
			if wf == nil {
				return
			}
			r, w = rf.typ, wf.typ
			if len(toks) > 0 && toks[0] == "type" {
				toks = toks[1:]
			}
		case t == "items" && w.kind == "array":
			w = w.items
			if r != nil && r.kind == "array" {
				r = r.items
			}
		case t == "values" && w.kind == "map":
			w = w.values
			if r != nil && r.kind == "map" {
				r = r.values
			}
		case t == "symbols" && w.kind == "enum" && r != nil:
			for j, s := range w.symbols {
				if !slices.Contains(r.symbols, s) {
					plan[w] = j
					return
				}
			}
			return
		default:
			n, err := strconv.Atoi(t)
			if err != nil || w.kind != "union" || n < 0 || n >= len(w.branches) {
				return
			}
			plan[w] = n
			w = w.branches[n]
			if r != nil && r.kind == "union" {
				r = newBranchLookup(r).match(w)
			}
		}
	}
}

// writerField finds the writer field reader field rf reads: same name,
// or a reader alias.
func writerField(rf *field, w *node) *field {
	for _, name := range append([]string{rf.name}, rf.aliases...) {
		for i := range w.fields {
			if w.fields[i].name == name {
				return &w.fields[i]
			}
		}
	}
	return nil
}

// buildDatum builds a value of type n as github.com/twmb/avro encodes it,
// following plan's choices and otherwise the first union branch (below
// maxDatumDepth, the first branch that does not nest).
func buildDatum(n *node, plan map[*node]int, depth int) any {
	switch n.kind {
	case "null":
		return nil
	case "boolean":
		return true
	case "int":
		return int32(1)
	case "long":
		return int64(1)
	case "float":
		return float32(1.5)
	case "double":
		return 1.5
	case "string":
		if n.logical == "uuid" {
			return "00000000-0000-4000-8000-000000000000"
		}
		return "a"
	case "bytes":
		if n.logical == "decimal" {
			return big.NewRat(1, 1)
		}
		return []byte("a")
	case "fixed":
		if n.logical == "decimal" {
			return big.NewRat(1, 1)
		}
		return make([]byte, n.size)
	case "enum":
		if len(n.symbols) == 0 {
			return ""
		}
		return n.symbols[plan[n]]
	case "array":
		if depth >= maxDatumDepth {
			return []any{}
		}
		return []any{buildDatum(n.items, plan, depth+1)}
	case "map":
		if depth >= maxDatumDepth {
			return map[string]any{}
		}
		return map[string]any{"k": buildDatum(n.values, plan, depth+1)}
	case "record":
		m := make(map[string]any, len(n.fields))
		for _, f := range n.fields {
			m[f.name] = buildDatum(f.typ, plan, depth+1)
		}
		return m
	case "union":
		if len(n.branches) == 0 {
			return nil
		}
		i, ok := plan[n]
		if !ok && depth >= maxDatumDepth {
			for j, b := range n.branches {
				if b.kind != "record" && b.kind != "array" && b.kind != "map" && b.kind != "union" {
					i = j
					break
				}
			}
		}
		b := n.branches[i]
		if b.kind == "null" {
			return nil
		}
		return map[string]any{branchName(b): buildDatum(b, plan, depth+1)}
	}
	return nil
}

// branchName is the name that tags a union branch: the full name of a
// named type, else the type name.
func branchName(b *node) string {
	if b.named() {
		return b.name
	}
	return b.kind
}

// FieldPath returns the record fields a JSON pointer into schema (an
// [Incompatibility.Path] of a pair this schema was the reader of) passes
// through, as slash-separated names ("nightlyRate/amount"), the form pact
// contents are compared in; arrays, maps and union branches add no step.
// It returns "" for the root, a pointer it cannot follow or a schema that
// does not parse.
func FieldPath(schema, pointer string) string {
	n, err := parseSchema(schema)
	if err != nil {
		return ""
	}
	var names []string
	toks := pathTokens(pointer)
	for len(toks) > 0 && n != nil {
		t := toks[0]
		toks = toks[1:]
		if n.kind == "union" && t == "fields" {
			var rec *node
			for _, b := range n.branches {
				if b.kind == "record" {
					rec = b
					break
				}
			}
			n = rec
			if n == nil {
				break
			}
		}
		switch {
		case t == "fields" && len(toks) > 0:
			i, err := strconv.Atoi(toks[0])
			toks = toks[1:]
			if err != nil || n.kind != "record" || i < 0 || i >= len(n.fields) {
				return strings.Join(names, "/")
			}
			names = append(names, n.fields[i].name)
			n = n.fields[i].typ
		case t == "items" && n.kind == "array":
			n = n.items
		case t == "values" && n.kind == "map":
			n = n.values
		}
	}
	return strings.Join(names, "/")
}
