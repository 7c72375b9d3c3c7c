package avroschema

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// validName is the Avro rule for a name and each part of a namespace.
var validName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// primitives are the primitive type names, in the order of the
// specification.
var primitives = []string{"null", "boolean", "int", "long", "float", "double", "bytes", "string"}

// logicalBase lists, for each logical type Load accepts, the base types
// that can carry it. A fixed base names its size when it must have one.
var logicalBase = map[string][]string{
	"decimal":                {"bytes", "fixed"},
	"big-decimal":            {"bytes"},
	"uuid":                   {"string", "fixed(16)"},
	"date":                   {"int"},
	"time-millis":            {"int"},
	"time-micros":            {"long"},
	"timestamp-millis":       {"long"},
	"timestamp-micros":       {"long"},
	"timestamp-nanos":        {"long"},
	"local-timestamp-millis": {"long"},
	"local-timestamp-micros": {"long"},
	"local-timestamp-nanos":  {"long"},
	"duration":               {"fixed(12)"},
}

// maxPrecision bounds a decimal's precision, as the Avro parser does.
const maxPrecision = 1000

// maxFixedSize bounds the size of a fixed: 1 MiB.
const maxFixedSize = 1 << 20

// check validates every file and builds the types: first the definitions
// of all named types, so that a file may reference a type of another, then
// each file's types, then the checks that need every type built.
func (l *loader) check() error {
	byNode := map[*node]*def{}
	for _, f := range l.files {
		if err := l.collect(f, f.root, "", byNode, 0); err != nil {
			return err
		}
	}
	for _, f := range l.files {
		t, err := l.build(f, f.root, "", byNode, 0)
		if err != nil {
			return err
		}
		f.top = t
		l.set.tops[f.path] = t
		if f.root.kind == jsonObject && t.Record != nil {
			l.set.byFile[f.path] = t.Record
		}
	}
	for _, check := range l.later {
		if err := check(); err != nil {
			return err
		}
	}
	l.set.sortRecords()
	return nil
}

// typeOf returns the "type" string of a schema object, or "" when it has
// none or it is not a string.
func typeOf(n *node) string {
	if m := n.get("type"); m != nil && m.val.kind == jsonString {
		return m.val.str
	}
	return ""
}

// collect registers the named types that n, a schema of f whose enclosing
// namespace is ns, defines.
func (l *loader) collect(f *schemaFile, n *node, ns string, byNode map[*node]*def, depth int) error {
	if depth > maxDepth {
		return f.errAt(n.off, fmt.Sprintf("the schema nests deeper than %d levels", maxDepth), "")
	}
	switch n.kind {
	case jsonArray:
		for _, it := range n.items {
			if err := l.collect(f, it, ns, byNode, depth+1); err != nil {
				return err
			}
		}
	case jsonObject:
		switch kind := typeOf(n); kind {
		case "record", "enum", "fixed":
			full, inner, err := l.name(f, n, ns, kind)
			if err != nil {
				return err
			}
			if prev := l.defs[full]; prev != nil && prev.file != f && prev.ns == inner && reflect.DeepEqual(prev.n.value(), n.value()) {
				// An identical definition in another file, as Java Avro
				// accepts: one type. The file is parsed with a reference
				// to it in its place, after the file that defines it.
				byNode[n] = prev
				if f.redefs == nil {
					f.redefs = map[*node]string{}
				}
				f.redefs[n] = full
				l.depend(f, prev.file, n, full)
				return nil
			}
			if prev := l.defs[full]; prev != nil {
				line, col := prev.file.src.pos(prev.n.get("name").off)
				return f.errAt(n.get("name").off, fmt.Sprintf("%s %s is already defined at %s:%d:%d", kind, full, prev.file.path, line, col),
					"define each full name once per folder (an identical copy is accepted), and reference it by name from the other files")
			}
			d := &def{name: full, ns: inner, file: f, n: n, typ: &Type{Kind: Kind(kind), Name: full}}
			l.defs[full] = d
			l.order = append(l.order, d)
			byNode[n] = d
			if fields := n.get("fields"); kind == "record" && fields != nil && fields.val.kind == jsonArray {
				for _, fl := range fields.val.items {
					if t := fl.get("type"); t != nil {
						if err := l.collect(f, t.val, inner, byNode, depth+2); err != nil {
							return err
						}
					}
				}
			}
		case "array":
			if it := n.get("items"); it != nil {
				return l.collect(f, it.val, ns, byNode, depth+1)
			}
		case "map":
			if v := n.get("values"); v != nil {
				return l.collect(f, v.val, ns, byNode, depth+1)
			}
		}
	}
	return nil
}

// name returns the full name of the named type n defines, and the
// namespace in scope inside it.
func (l *loader) name(f *schemaFile, n *node, ns, kind string) (full, inner string, err error) {
	nm := n.get("name")
	if nm == nil {
		return "", "", f.errAt(n.off, fmt.Sprintf("%s has no \"name\"", kind), `add one, e.g. "name": "ReservationCreated"`)
	}
	if nm.val.kind != jsonString {
		return "", "", f.errAt(nm.val.off, fmt.Sprintf("\"name\" must be a string, not %s", nm.val.kind), "")
	}
	name := nm.val.str
	if strings.Contains(name, ".") {
		for part := range strings.SplitSeq(name, ".") {
			if !validName.MatchString(part) {
				return "", "", f.errAt(nm.val.off, fmt.Sprintf("invalid full name %q", name), "each dot-separated part starts with a letter or _ and holds only letters, digits and _")
			}
		}
		full, inner = name, namespaceOf(name)
	} else {
		if !validName.MatchString(name) {
			return "", "", f.errAt(nm.val.off, fmt.Sprintf("invalid name %q", name), "a name starts with a letter or _ and holds only letters, digits and _")
		}
		inner = ns
		if nsm := n.get("namespace"); nsm != nil {
			if nsm.val.kind != jsonString {
				return "", "", f.errAt(nsm.val.off, fmt.Sprintf("\"namespace\" must be a string, not %s", nsm.val.kind), "")
			}
			inner = nsm.val.str
			if inner != "" {
				for part := range strings.SplitSeq(inner, ".") {
					if !validName.MatchString(part) {
						return "", "", f.errAt(nsm.val.off, fmt.Sprintf("invalid namespace %q", inner), "dot-separated names, each starting with a letter or _, e.g. \"hotel.reservation.v1\"")
					}
				}
			}
		}
		full = name
		if inner != "" {
			full = inner + "." + name
		}
	}
	short := full[strings.LastIndexByte(full, '.')+1:]
	if slices.Contains(primitives, short) {
		return "", "", f.errAt(nm.val.off, fmt.Sprintf("%s name %q is a primitive type name", kind, name), "choose another name")
	}
	return full, inner, nil
}

// build returns the type that n, a schema of f whose enclosing namespace
// is ns, stands for, checking it on the way.
func (l *loader) build(f *schemaFile, n *node, ns string, byNode map[*node]*def, depth int) (*Type, error) {
	if depth > maxDepth {
		return nil, f.errAt(n.off, fmt.Sprintf("the schema nests deeper than %d levels", maxDepth), "")
	}
	switch n.kind {
	case jsonString:
		return l.reference(f, n, n.str, ns)
	case jsonArray:
		return l.union(f, n, ns, byNode, depth)
	case jsonObject:
		return l.object(f, n, ns, byNode, depth)
	}
	return nil, f.errAt(n.off, fmt.Sprintf("a schema is a type name, an object or a union array, not %s", n.kind),
		`write e.g. "string", {"type": "int", "logicalType": "date"} or ["null", "string"]`)
}

// reference resolves a type name: a primitive, or a named type of the
// folder, looked up in the enclosing namespace first.
func (l *loader) reference(f *schemaFile, n *node, name, ns string) (*Type, error) {
	if slices.Contains(primitives, name) {
		return &Type{Kind: Kind(name)}, nil
	}
	switch name {
	case "record", "enum", "fixed", "array", "map":
		return nil, f.errAt(n.off, fmt.Sprintf("type %q needs an object", name), fmt.Sprintf(`write {"type": %q, ...} with its attributes`, name))
	case "error":
		return nil, f.errAt(n.off, `type "error" is only for Avro protocols`, `use "record"`)
	}
	var d *def
	if !strings.Contains(name, ".") && ns != "" {
		d = l.defs[ns+"."+name]
	}
	if d == nil {
		d = l.defs[name]
	}
	if d == nil {
		hint := "define it in a .avsc file of this folder, or use a primitive type: " + strings.Join(primitives, ", ")
		short := name[strings.LastIndexByte(name, '.')+1:]
		var near []string
		for full := range l.defs {
			if strings.EqualFold(full[strings.LastIndexByte(full, '.')+1:], short) {
				near = append(near, strconv.Quote(full))
			}
		}
		if len(near) > 0 {
			slices.Sort(near)
			hint = "did you mean " + strings.Join(near, " or ") + "?"
		}
		if bases, ok := logicalBase[name]; ok {
			hint = fmt.Sprintf(`%s is a logical type: write {"type": %q, "logicalType": %q}`, name, strings.TrimSuffix(strings.TrimSuffix(bases[0], "(16)"), "(12)"), name)
		}
		return nil, f.errAt(n.off, fmt.Sprintf("unknown type %q", name), hint)
	}
	if d.file != f {
		l.depend(f, d.file, n, d.name)
	}
	return d.typ, nil
}

// depend records that file f uses the named type name of file to, first
// at node n.
func (l *loader) depend(f, to *schemaFile, n *node, name string) {
	deps := l.deps[f.path]
	if deps == nil {
		deps = map[string]*ref{}
		l.deps[f.path] = deps
	}
	if deps[to.path] == nil {
		deps[to.path] = &ref{file: f, n: n, name: name}
	}
}

// union builds a union, which may not nest another union nor hold two
// branches of one kind (two named types of one name).
func (l *loader) union(f *schemaFile, n *node, ns string, byNode map[*node]*def, depth int) (*Type, error) {
	if len(n.items) == 0 {
		return nil, f.errAt(n.off, "empty union", `a union lists its branches, e.g. ["null", "string"]`)
	}
	t := &Type{Kind: KindUnion}
	seen := map[string]int{}
	for i, it := range n.items {
		if it.kind == jsonArray {
			return nil, f.errAt(it.off, "a union may not directly contain another union", "list the inner union's branches in the outer one")
		}
		b, err := l.build(f, it, ns, byNode, depth+1)
		if err != nil {
			return nil, err
		}
		key := string(b.Kind)
		if b.Name != "" {
			key = b.Name
		}
		if j, dup := seen[key]; dup {
			return nil, f.errAt(it.off, fmt.Sprintf("union branches %d and %d are both %s", j+1, i+1, key), "a union holds at most one branch of each type")
		}
		seen[key] = i
		t.Branches = append(t.Branches, b)
	}
	return t, nil
}

// object builds a schema written as an object: a named type definition, an
// array, a map, or a primitive or named type with attributes.
func (l *loader) object(f *schemaFile, n *node, ns string, byNode map[*node]*def, depth int) (*Type, error) {
	tm := n.get("type")
	if tm == nil {
		return nil, f.errAt(n.off, `schema object has no "type"`, `add e.g. "type": "record"`)
	}
	if tm.val.kind != jsonString {
		return nil, f.errAt(tm.val.off, fmt.Sprintf(`"type" of a schema object must be a type name, not %s`, tm.val.kind),
			`a field's "type" may be any schema, but inside a schema object "type" names the kind, e.g. "record" or "int"`)
	}
	var t *Type
	var err error
	switch kind := tm.val.str; kind {
	case "record", "enum", "fixed":
		d := byNode[n]
		if d == nil {
			return nil, f.errAt(n.off, fmt.Sprintf("%s defined where Avro does not look for definitions", kind), "define it as a field type, an array item, a map value or a union branch")
		}
		if d.n != n {
			// An identical redefinition: the type is built from its
			// first definition.
			return d.typ, nil
		}
		t = d.typ
		switch kind {
		case "record":
			err = l.record(f, n, d, byNode, depth)
		case "enum":
			err = l.enum(f, n, d)
		case "fixed":
			err = l.fixed(f, n, d)
		}
		if err == nil {
			t.Doc, err = docOf(f, n)
		}
	case "array":
		t = &Type{Kind: KindArray}
		it := n.get("items")
		if it == nil {
			return nil, f.errAt(n.off, `array has no "items"`, `add e.g. "items": "string"`)
		}
		t.Items, err = l.build(f, it.val, ns, byNode, depth+1)
	case "map":
		t = &Type{Kind: KindMap}
		v := n.get("values")
		if v == nil {
			return nil, f.errAt(n.off, `map has no "values"`, `add e.g. "values": "string"`)
		}
		t.Values, err = l.build(f, v.val, ns, byNode, depth+1)
	default:
		t, err = l.reference(f, tm.val, kind, ns)
		if lm := n.get("logicalType"); err == nil && lm != nil && t.Name != "" {
			return nil, f.errAt(lm.off, fmt.Sprintf("logicalType on a reference to %s", t.Name), "put it in the definition of "+t.Name)
		}
	}
	if err != nil {
		return nil, err
	}
	if err := l.logical(f, n, t); err != nil {
		return nil, err
	}
	return t, nil
}

// docOf returns the "doc" of an object, which must be a string.
func docOf(f *schemaFile, n *node) (string, error) {
	d := n.get("doc")
	if d == nil {
		return "", nil
	}
	if d.val.kind != jsonString {
		return "", f.errAt(d.val.off, fmt.Sprintf(`"doc" must be a string, not %s`, d.val.kind), "")
	}
	return d.val.str, nil
}

// record builds the fields of a record definition.
func (l *loader) record(f *schemaFile, n *node, d *def, byNode map[*node]*def, depth int) error {
	line, col := f.src.pos(n.off)
	r := &Record{Name: d.name, Namespace: namespaceOf(d.name), File: f.path, Line: line, Column: col, Type: d.typ}
	d.typ.Record = r
	l.set.Records = append(l.set.Records, r)
	l.set.types[d.name] = d.typ
	var err error
	if r.Doc, err = docOf(f, n); err != nil {
		return err
	}
	fm := n.get("fields")
	if fm == nil {
		return f.errAt(n.off, fmt.Sprintf(`record %s has no "fields"`, d.name), `add "fields": [ ... ] (it may be empty)`)
	}
	if fm.val.kind != jsonArray {
		return f.errAt(fm.val.off, fmt.Sprintf(`"fields" must be an array, not %s`, fm.val.kind), "")
	}
	names := map[string]bool{}
	for _, fn := range fm.val.items {
		if fn.kind != jsonObject {
			return f.errAt(fn.off, fmt.Sprintf("a field must be an object, not %s", fn.kind), `write {"name": "id", "type": "string"}`)
		}
		field := &Field{}
		field.Line, field.Column = f.src.pos(fn.off)
		nm := fn.get("name")
		switch {
		case nm == nil:
			return f.errAt(fn.off, `field has no "name"`, `add e.g. "name": "reservationId"`)
		case nm.val.kind != jsonString:
			return f.errAt(nm.val.off, fmt.Sprintf(`"name" must be a string, not %s`, nm.val.kind), "")
		case !validName.MatchString(nm.val.str):
			return f.errAt(nm.val.off, fmt.Sprintf("invalid field name %q", nm.val.str), "a name starts with a letter or _ and holds only letters, digits and _")
		case names[nm.val.str]:
			return f.errAt(nm.val.off, fmt.Sprintf("record %s has two fields named %q", d.name, nm.val.str), "rename or remove one")
		}
		field.Name = nm.val.str
		names[field.Name] = true
		if field.Doc, err = docOf(f, fn); err != nil {
			return err
		}
		if lt := fn.get("logicalType"); lt != nil {
			return f.errAt(lt.off, fmt.Sprintf(`"logicalType" on field %q is ignored by Avro`, field.Name),
				`move it into the field's type, e.g. "type": {"type": "int", "logicalType": "date"}`)
		}
		if o := fn.get("order"); o != nil && (o.val.kind != jsonString || !slices.Contains([]string{"ascending", "descending", "ignore"}, o.val.str)) {
			return f.errAt(o.val.off, `"order" must be "ascending", "descending" or "ignore"`, "")
		}
		tm := fn.get("type")
		if tm == nil {
			return f.errAt(fn.off, fmt.Sprintf(`field %q has no "type"`, field.Name), `add e.g. "type": "string"`)
		}
		if field.Type, err = l.build(f, tm.val, d.ns, byNode, depth+2); err != nil {
			return err
		}
		_, field.Optional = field.Type.Nullable()
		if dm := fn.get("default"); dm != nil {
			field.Default, field.HasDefault = dm.val.value(), true
			t, name := field.Type, field.Name
			l.later = append(l.later, func() error {
				if off, msg, hint := checkDefault(t, dm.val, 0); msg != "" {
					return f.errAt(off, fmt.Sprintf("default of field %q does not match its type: %s", name, msg), hint)
				}
				return nil
			})
		}
		r.Fields = append(r.Fields, field)
	}
	return nil
}

// enum checks the symbols and default of an enum definition.
func (l *loader) enum(f *schemaFile, n *node, d *def) error {
	l.set.types[d.name] = d.typ
	sm := n.get("symbols")
	if sm == nil {
		return f.errAt(n.off, fmt.Sprintf(`enum %s has no "symbols"`, d.name), `add e.g. "symbols": ["ACTIVE", "SUSPENDED"]`)
	}
	if sm.val.kind != jsonArray {
		return f.errAt(sm.val.off, fmt.Sprintf(`"symbols" must be an array, not %s`, sm.val.kind), "")
	}
	for _, s := range sm.val.items {
		switch {
		case s.kind != jsonString || !validName.MatchString(s.str):
			return f.errAt(s.off, "an enum symbol must be a name", "a name starts with a letter or _ and holds only letters, digits and _")
		case slices.Contains(d.typ.Symbols, s.str):
			return f.errAt(s.off, fmt.Sprintf("enum %s lists symbol %q twice", d.name, s.str), "remove one")
		}
		d.typ.Symbols = append(d.typ.Symbols, s.str)
	}
	if dm := n.get("default"); dm != nil && (dm.val.kind != jsonString || !slices.Contains(d.typ.Symbols, dm.val.str)) {
		return f.errAt(dm.val.off, fmt.Sprintf("the default of enum %s must be one of its symbols", d.name), "")
	}
	return nil
}

// fixed checks the size of a fixed definition.
func (l *loader) fixed(f *schemaFile, n *node, d *def) error {
	l.set.types[d.name] = d.typ
	sm := n.get("size")
	if sm == nil {
		return f.errAt(n.off, fmt.Sprintf(`fixed %s has no "size"`, d.name), `add e.g. "size": 16`)
	}
	size, ok := intOf(sm.val)
	if !ok || size < 0 || size > maxFixedSize {
		return f.errAt(sm.val.off, fmt.Sprintf(`"size" must be an integer from 0 to %d`, maxFixedSize), "")
	}
	d.typ.Size = int(size)
	return nil
}

// intOf returns the value of an integer number node.
func intOf(n *node) (int64, bool) {
	if n.kind != jsonNumber {
		return 0, false
	}
	v, err := strconv.ParseInt(n.str, 10, 64)
	return v, err == nil
}

// logical checks the logical type of the schema object n, of type t, and
// records it on t.
func (l *loader) logical(f *schemaFile, n *node, t *Type) error {
	lm := n.get("logicalType")
	if lm == nil {
		return nil
	}
	if lm.val.kind != jsonString {
		return f.errAt(lm.val.off, fmt.Sprintf(`"logicalType" must be a string, not %s`, lm.val.kind), "")
	}
	lt := lm.val.str
	bases, known := logicalBase[lt]
	if !known {
		return f.errAt(lm.val.off, fmt.Sprintf("unknown logicalType %q", lt), "use one of "+strings.Join(slices.Sorted(func(yield func(string) bool) {
			for k := range logicalBase {
				if !yield(k) {
					return
				}
			}
		}), ", "))
	}
	base := string(t.Kind)
	if t.Kind == KindFixed {
		base = fmt.Sprintf("fixed(%d)", t.Size)
	}
	if !slices.Contains(bases, base) && !(t.Kind == KindFixed && slices.Contains(bases, "fixed")) {
		return f.errAt(lm.val.off, fmt.Sprintf("logicalType %q needs a %s base type, not %s", lt, strings.Join(bases, " or "), base),
			"fix the base type or the logical type")
	}
	t.Logical = lt
	if lt != "decimal" {
		return nil
	}
	pm := n.get("precision")
	if pm == nil {
		return f.errAt(n.off, `decimal has no "precision"`, `add e.g. "precision": 12 (the number of digits)`)
	}
	p, ok := intOf(pm.val)
	if !ok || p < 1 || p > maxPrecision {
		return f.errAt(pm.val.off, fmt.Sprintf(`"precision" must be an integer from 1 to %d`, maxPrecision), "")
	}
	s := int64(0)
	if sm := n.get("scale"); sm != nil {
		if s, ok = intOf(sm.val); !ok || s < 0 || s > p {
			return f.errAt(sm.val.off, fmt.Sprintf(`"scale" must be an integer from 0 to the precision %d`, p), "")
		}
	}
	if t.Kind == KindFixed {
		if limit := maxDigits(t.Size); p > int64(limit) {
			return f.errAt(pm.val.off, fmt.Sprintf("precision %d does not fit in fixed(%d), which holds %d digits", p, t.Size, limit), "raise the size or lower the precision")
		}
	}
	t.Precision, t.Scale = int(p), int(s)
	return nil
}

// maxDigits returns how many decimal digits a two's-complement integer of
// size bytes holds: floor(log10(2^(8*size-1) - 1)).
func maxDigits(size int) int {
	if size <= 0 {
		return 0
	}
	return int(math.Floor(float64(8*size-1) * math.Log10(2)))
}

// checkDefault checks a default value against its type, the way Avro 1.9
// does: a union's default matches its first branch. It returns the offset
// of the offending value, what is wrong and a hint, or an empty message.
func checkDefault(t *Type, v *node, depth int) (int, string, string) {
	if depth > maxDepth {
		return v.off, "the default nests too deep", ""
	}
	want := func(what string) (int, string, string) {
		return v.off, fmt.Sprintf("want %s for %s, got %s", what, describe(t), v.kind), ""
	}
	switch t.Kind {
	case KindNull:
		if v.kind != jsonNull {
			return want("null")
		}
	case KindBoolean:
		if v.kind != jsonBool {
			return want("true or false")
		}
	case KindInt, KindLong:
		bits := 32
		if t.Kind == KindLong {
			bits = 64
		}
		if v.kind != jsonNumber {
			return want("an integer")
		}
		if _, err := strconv.ParseInt(v.str, 10, bits); err != nil {
			return v.off, fmt.Sprintf("%s is not a %d-bit integer", v.str, bits), ""
		}
	case KindFloat, KindDouble:
		if v.kind != jsonNumber {
			return want("a number")
		}
	case KindString:
		if v.kind != jsonString {
			return want("a string")
		}
	case KindBytes, KindFixed:
		if v.kind != jsonString {
			return want("a string of code points 0-255")
		}
		for _, r := range v.str {
			if r > 0xff {
				return v.off, "bytes defaults are strings of code points 0-255", ""
			}
		}
		if t.Kind == KindFixed && utf8.RuneCountInString(v.str) != t.Size {
			return v.off, fmt.Sprintf("want %d bytes for %s, got %d", t.Size, t.Name, utf8.RuneCountInString(v.str)), ""
		}
	case KindEnum:
		if v.kind != jsonString || !slices.Contains(t.Symbols, v.str) {
			return v.off, fmt.Sprintf("want one of the symbols of %s (%s)", t.Name, strings.Join(t.Symbols, ", ")), ""
		}
	case KindArray:
		if v.kind != jsonArray {
			return want("an array")
		}
		for _, it := range v.items {
			if off, msg, hint := checkDefault(t.Items, it, depth+1); msg != "" {
				return off, msg, hint
			}
		}
	case KindMap:
		if v.kind != jsonObject {
			return want("an object")
		}
		for _, m := range v.members {
			if off, msg, hint := checkDefault(t.Values, m.val, depth+1); msg != "" {
				return off, msg, hint
			}
		}
	case KindRecord:
		if v.kind != jsonObject {
			return want("an object")
		}
		for _, fl := range t.Record.Fields {
			m := v.get(fl.Name)
			if m == nil {
				if fl.HasDefault {
					continue
				}
				return v.off, fmt.Sprintf("%s needs field %q", t.Name, fl.Name), ""
			}
			if off, msg, hint := checkDefault(fl.Type, m.val, depth+1); msg != "" {
				return off, msg, hint
			}
		}
	case KindUnion:
		off, msg, _ := checkDefault(t.Branches[0], v, depth+1)
		if msg == "" {
			return 0, "", ""
		}
		hint := ""
		for _, b := range t.Branches[1:] {
			if _, m, _ := checkDefault(b, v, depth+1); m == "" {
				hint = fmt.Sprintf("a union's default matches its first branch: put %s first", describe(b))
				break
			}
		}
		return off, msg + " (the first branch of the union)", hint
	}
	return 0, "", ""
}

// describe names a type for messages.
func describe(t *Type) string {
	switch {
	case t.Name != "":
		return t.Name
	case t.Logical != "":
		return fmt.Sprintf("%s (%s)", t.Kind, t.Logical)
	}
	return string(t.Kind)
}
