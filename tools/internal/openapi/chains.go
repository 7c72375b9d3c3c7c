package openapi

import (
	"bytes"
	"encoding/json"
	"net/url"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v3"

	"github.com/keiyaku/keiyaku/tools/internal/yamlref"
)

// A chain of $refs, each pointing at a mapping that holds only the next
// $ref, costs kin-openapi the rest of the chain at every link: it resolves
// a copy of each target and never stores what it found, so a chain of n
// links takes n²/2 resolutions (2,000 links: 4.5 s). The document
// kin-openapi reads therefore has each $ref whose target is only a $ref
// point straight at the end of its chain (a shortcut), found by Keiyaku's
// own $ref check, which resolves each $ref once; once kin-openapi has
// loaded it, every $ref gets its written value back, so that nothing
// downstream (generated type names, the embedded spec, breaking) sees the
// difference. Only the $ref's own text changes, on its own line: every
// position kin-openapi records stays where it was.

// A shortcut is one $ref rewritten for kin-openapi.
type shortcut struct {
	file       string     // workspace-relative file holding the $ref
	key, value *yaml.Node // the "$ref" key and its value
	to         string     // the $ref kin-openapi reads instead
}

// siteKey identifies a $ref by its key's position, as kin-openapi's
// origins record it.
type siteKey struct {
	file         string
	line, column int
}

// shortcutFor returns the shortcut of the $ref (key, value) in file, whose
// direct target is direct and whose chain ends at end, or false when there
// is nothing to shorten: the target is a definition, or the $ref or the end
// names a whole file (kin-openapi loads those by another path).
func shortcutFor(file string, key, value *yaml.Node, direct, end yamlref.Target) (shortcut, bool) {
	if yamlref.OnlyRef(direct.Node) == nil || end.Pointer == "" || !hasFragment(value.Value) {
		return shortcut{}, false
	}
	rel := ""
	if end.File != file {
		r, err := filepath.Rel(filepath.FromSlash(path.Dir(file)), filepath.FromSlash(end.File))
		if err != nil {
			return shortcut{}, false
		}
		rel = filepath.ToSlash(r)
	}
	u := url.URL{Path: rel, Fragment: end.Pointer}
	return shortcut{file: file, key: key, value: value, to: u.String()}, true
}

func hasFragment(ref string) bool {
	u, err := url.Parse(ref)
	return err == nil && u.Fragment != ""
}

// applyShortcuts rewrites the $refs of data, the content of one file, as
// the shortcuts say. A $ref whose text is not where and as its node says (a
// multi-line or block scalar, say) is left as written. It returns the new
// content and the shortcuts applied.
func applyShortcuts(data []byte, cuts []shortcut) ([]byte, []shortcut) {
	var lines []int // byte offset of each line's start
	lines = append(lines, 0)
	for i, c := range data {
		if c == '\n' {
			lines = append(lines, i+1)
		}
	}
	type edit struct {
		from, to int
		text     []byte
		cut      shortcut
	}
	var edits []edit
	for _, c := range cuts {
		from, to, ok := scalarSpan(data, lines, c.value)
		if !ok {
			continue
		}
		text, err := jsonString(c.to)
		if err != nil {
			continue
		}
		edits = append(edits, edit{from, to, text, c})
	}
	if len(edits) == 0 {
		return data, nil
	}
	slices.SortFunc(edits, func(a, b edit) int { return a.from - b.from })
	var out bytes.Buffer
	out.Grow(len(data) + len(edits)*16)
	applied := make([]shortcut, 0, len(edits))
	last := 0
	for _, e := range edits {
		out.Write(data[last:e.from])
		out.Write(e.text)
		last = e.to
		applied = append(applied, e.cut)
	}
	out.Write(data[last:])
	return out.Bytes(), applied
}

// jsonString quotes s as a JSON string, which YAML reads as a double-quoted
// scalar.
func jsonString(s string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// scalarSpan returns the byte span of the one-line scalar n in data, whose
// lines start at lines, checking that the text there reads as n's value.
func scalarSpan(data []byte, lines []int, n *yaml.Node) (from, to int, ok bool) {
	if n.Kind != yaml.ScalarNode || n.Line < 1 || n.Line > len(lines) || n.Column < 1 {
		return 0, 0, false
	}
	// Columns count characters.
	from = lines[n.Line-1]
	for range n.Column - 1 {
		if from >= len(data) || data[from] == '\n' {
			return 0, 0, false
		}
		_, size := utf8.DecodeRune(data[from:])
		from += size
	}
	end := len(data)
	if i := bytes.IndexByte(data[from:], '\n'); i >= 0 {
		end = from + i
	}
	line := data[from:end]
	switch n.Style {
	case yaml.DoubleQuotedStyle:
		if len(line) == 0 || line[0] != '"' {
			return 0, 0, false
		}
		for i := 1; i < len(line); i++ {
			switch line[i] {
			case '\\':
				i++
			case '"':
				var v string
				if json.Unmarshal(line[:i+1], &v) != nil || v != n.Value {
					return 0, 0, false
				}
				return from, from + i + 1, true
			}
		}
	case yaml.SingleQuotedStyle:
		if len(line) == 0 || line[0] != '\'' {
			return 0, 0, false
		}
		var v []byte
		for i := 1; i < len(line); i++ {
			if line[i] != '\'' {
				v = append(v, line[i])
				continue
			}
			if i+1 < len(line) && line[i+1] == '\'' {
				v = append(v, '\'')
				i++
				continue
			}
			if string(v) != n.Value {
				return 0, 0, false
			}
			return from, from + i + 1, true
		}
	case 0:
		if !bytes.HasPrefix(line, []byte(n.Value)) {
			return 0, 0, false
		}
		rest := line[len(n.Value):]
		if len(rest) == 0 || bytes.IndexByte([]byte(" \t\r,}]"), rest[0]) >= 0 {
			return from, from + len(n.Value), true
		}
	}
	return 0, 0, false
}

// restoreRefs gives every $ref of doc that a shortcut rewrote its written
// value back, finding it by the position of its key. It reports false when
// a rewritten $ref cannot be told apart: a path item (kin-openapi copies
// the first link over it, origin included, and resolves no further: a
// shortened chain of path items would load where the written one does
// not), a value without its own origin, or a "$ref" kept as plain data (an
// example, an extension). The caller then loads the document as written.
func restoreRefs(doc *openapi3.T, cuts map[siteKey]shortcut, written map[string]bool) bool {
	return walkRefs(doc, func(obj, ref reflect.Value, o *openapi3.Origin) bool {
		if ref.String() == "" {
			return true
		}
		if obj.Type() == reflect.TypeFor[openapi3.PathItem]() {
			return !written[ref.String()]
		}
		var loc openapi3.Location
		found := false
		if o != nil {
			loc, found = o.Fields.Lookup("$ref")
		}
		cut, isCut := cuts[siteKey{path.Clean(loc.File), loc.Line, loc.Column}]
		switch {
		case found && isCut && ref.String() == cut.to:
			ref.SetString(cut.value.Value)
		case found && isCut, !found && written[ref.String()]:
			return false
		}
		return true
	}, func(ref string) bool { return !written[ref] })
}

// walkRefs calls ref for every object of doc that may be a $ref (a struct
// with a Ref and an Origin: the struct, its Ref, settable, and its Origin)
// and data for every "$ref" string kept in plain data, until one returns
// false, and reports whether none did.
func walkRefs(doc *openapi3.T, ref func(obj, ref reflect.Value, o *openapi3.Origin) bool, data func(string) bool) bool {
	type fields struct {
		ref, origin int
		has         bool
	}
	byType := map[reflect.Type]fields{}
	refField := func(t reflect.Type) fields {
		f, known := byType[t]
		if !known {
			r, okR := t.FieldByName("Ref")
			o, okO := t.FieldByName("Origin")
			f.has = okR && okO && r.Type.Kind() == reflect.String && o.Type == originType && len(r.Index) == 1 && len(o.Index) == 1
			if f.has {
				f.ref, f.origin = r.Index[0], o.Index[0]
			}
			byType[t] = f
		}
		return f
	}
	type ptr struct {
		t reflect.Type
		p uintptr
	}
	seen := map[ptr]bool{}
	ok := true
	var visit func(v reflect.Value)
	visitMap := func(m reflect.Value) {
		for it := m.MapRange(); it.Next() && ok; {
			visit(it.Value())
		}
	}
	visit = func(v reflect.Value) {
		if !ok {
			return
		}
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() || v.Type() == originType || seen[ptr{v.Type(), v.Pointer()}] {
				return
			}
			seen[ptr{v.Type(), v.Pointer()}] = true
			// Paths, responses and callbacks keep their members in an
			// unexported map: take them through their accessors.
			switch m := v.Interface().(type) {
			case *openapi3.Paths:
				visitMap(reflect.ValueOf(m.Map()))
			case *openapi3.Responses:
				visitMap(reflect.ValueOf(m.Map()))
			case *openapi3.Callback:
				visitMap(reflect.ValueOf(m.Map()))
			}
			visit(v.Elem())
		case reflect.Interface:
			if !v.IsNil() {
				visit(v.Elem())
			}
		case reflect.Struct:
			if f := refField(v.Type()); f.has {
				o, _ := v.Field(f.origin).Interface().(*openapi3.Origin)
				if !ref(v, v.Field(f.ref), o) {
					ok = false
					return
				}
			}
			for i := range v.NumField() {
				if f := v.Field(i); f.CanSet() {
					visit(f)
				}
			}
		case reflect.Map:
			if v.Type().Key().Kind() == reflect.String && v.Type().Elem().Kind() == reflect.Interface {
				if r := v.MapIndex(reflect.ValueOf("$ref")); r.IsValid() {
					if s, isStr := r.Interface().(string); isStr && !data(s) {
						ok = false
						return
					}
				}
			}
			visitMap(v)
		case reflect.Slice, reflect.Array:
			for i := 0; i < v.Len() && ok; i++ {
				visit(v.Index(i))
			}
		}
	}
	visit(reflect.ValueOf(doc))
	return ok
}

var originType = reflect.TypeFor[*openapi3.Origin]()
