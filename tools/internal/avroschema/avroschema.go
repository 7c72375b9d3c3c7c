// Package avroschema loads the Avro schemas of a contract folder: its *.avsc
// files, whose named types may reference each other across files by full
// name.
//
// Load checks every file before handing it to github.com/twmb/avro, so
// that each problem is a *[diag.Error] at the file, line and column to fix:
// invalid JSON, a missing or invalid name, an unknown type name, a full
// name defined twice, a logical type on the wrong base type, a default that
// does not match its type. It then parses the files with an
// [avro.SchemaCache] in dependency order and returns, for each named
// record, the self-contained schema a codec needs, its Parsing Canonical
// Form and CRC-64-AVRO fingerprint, and a walkable description of its
// fields for code generators.
//
// Every read goes through an [os.Root] at the workspace root.
package avroschema

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/twmb/avro"

	"github.com/keiyaku/keiyaku/tools/internal/diag"
	"github.com/keiyaku/keiyaku/tools/internal/yamlref"
)

// Extension is the file name extension of the schema files Load reads.
const Extension = ".avsc"

// maxFiles bounds the schema files of one folder.
const maxFiles = 10_000

// Kind is the kind of an Avro type: a primitive type name or one of the
// complex kinds.
type Kind string

// The kinds of Avro types.
const (
	KindNull    Kind = "null"
	KindBoolean Kind = "boolean"
	KindInt     Kind = "int"
	KindLong    Kind = "long"
	KindFloat   Kind = "float"
	KindDouble  Kind = "double"
	KindBytes   Kind = "bytes"
	KindString  Kind = "string"
	KindRecord  Kind = "record"
	KindEnum    Kind = "enum"
	KindFixed   Kind = "fixed"
	KindArray   Kind = "array"
	KindMap     Kind = "map"
	KindUnion   Kind = "union"
)

// Type is an Avro type as the schema writes it, with names resolved.
//
// A named type (record, enum, fixed) is one *Type, shared by its
// definition and every reference to it, so a recursive record leads back
// to itself: walkers must stop at a named type they have seen.
type Type struct {
	// Kind is the primitive type name or the complex kind.
	Kind Kind
	// Name is the full name of a record, enum or fixed, e.g.
	// "hotel.reservation.v1.Money"; empty for other kinds.
	Name string
	// Logical is the logical type (uuid, date, timestamp-millis, decimal,
	// ...), empty if none. Load refuses a logical type it does not know or
	// on a base type that cannot carry it.
	Logical string
	// Precision and Scale are those of a decimal.
	Precision, Scale int
	// Size is the byte size of a fixed.
	Size int
	// Symbols are the symbols of an enum, in order.
	Symbols []string
	// Doc is the documentation of a named type.
	Doc string
	// Items is the element type of an array; Values the value type of a
	// map.
	Items, Values *Type
	// Branches are the types of a union, in order.
	Branches []*Type
	// Record describes a record type; nil for other kinds.
	Record *Record
}

// Nullable reports whether t is a union of "null" and exactly one other
// type, and returns that other type.
func (t *Type) Nullable() (*Type, bool) {
	if t.Kind != KindUnion || len(t.Branches) != 2 {
		return nil, false
	}
	switch {
	case t.Branches[0].Kind == KindNull && t.Branches[1].Kind != KindNull:
		return t.Branches[1], true
	case t.Branches[1].Kind == KindNull && t.Branches[0].Kind != KindNull:
		return t.Branches[0], true
	}
	return nil, false
}

// Field is one field of a record.
type Field struct {
	// Name is the field name as written.
	Name string
	// Doc is the field's documentation, empty if none.
	Doc string
	// Type is the field's type.
	Type *Type
	// Default is the default value as JSON decodes it with UseNumber (nil,
	// bool, json.Number, string, []any, map[string]any), when HasDefault.
	Default    any
	HasDefault bool
	// Optional reports that Type is a union of "null" and one other type
	// (see [Type.Nullable]).
	Optional bool
	// Line and Column locate the field in its file.
	Line, Column int
}

// Record is one named record type of a folder.
type Record struct {
	// Name is the full name, e.g. "hotel.reservation.v1.ReservationCreated".
	Name string
	// Namespace is the namespace part of the full name, empty for the null
	// namespace.
	Namespace string
	// Doc is the record's documentation, empty if none.
	Doc string
	// File is the workspace-relative path of the .avsc file that defines
	// the record; Line and Column locate the definition in it.
	File         string
	Line, Column int
	// Fields are the record's fields, in order.
	Fields []*Field
	// Type is the record as a type: Type.Record is this record.
	Type *Type
	// Schema is the self-contained schema JSON of the record, with every
	// named type it uses defined inline: what [avro.Parse] needs to build
	// a codec without any other file.
	Schema string
	// Avro is the parsed schema, safe for concurrent use.
	Avro *avro.Schema
	// Canonical is the Parsing Canonical Form of the schema.
	Canonical string
	// Fingerprint is the CRC-64-AVRO (Rabin) fingerprint of Canonical, as
	// a number; single-object encoding writes it little-endian.
	Fingerprint uint64
}

// Set is the schemas of one folder. It is not modified after Load returns
// and is safe for concurrent reads.
type Set struct {
	// Dir is the workspace-relative folder.
	Dir string
	// Files are the workspace-relative paths of the .avsc files, sorted.
	Files []string
	// Records are every named record of the folder, sorted by full name.
	Records []*Record

	types  map[string]*Type   // named types by full name
	byFile map[string]*Record // the record at the top of each file
	tops   map[string]*Type   // the type at the top of each file
	parsed map[string]*avro.Schema
}

// FileSchema returns the parsed schema of the workspace-relative file, or
// nil when the file is not in the set.
func (s *Set) FileSchema(file string) *avro.Schema { return s.parsed[file] }

// FileType returns the type at the top level of the workspace-relative
// file (a record, an enum, a primitive, a union, ...), or nil when the
// file is not in the set.
func (s *Set) FileType(file string) *Type { return s.tops[file] }

// Types returns every named type of the set (records, enums and fixed),
// sorted by full name.
func (s *Set) Types() []*Type {
	out := make([]*Type, 0, len(s.types))
	for _, t := range s.types {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *Type) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Source is a schema that is not an .avsc file of the folder: a schema in
// a file of another extension (an Avro schema kept in a .json file) or
// written inline in another document.
type Source struct {
	// File is the workspace-relative file the schema belongs to; an error
	// in the schema is reported in it.
	File string
	// Data is the schema as JSON.
	Data []byte
}

// Record returns the record with the given full name, or nil.
func (s *Set) Record(name string) *Record {
	if t := s.types[name]; t != nil {
		return t.Record
	}
	return nil
}

// Named returns the named type (record, enum or fixed) with the given full
// name, or nil.
func (s *Set) Named(name string) *Type { return s.types[name] }

// FileRecord returns the record defined at the top level of the
// workspace-relative file, or nil when the file is not in the set or its
// top level is not a record.
func (s *Set) FileRecord(file string) *Record { return s.byFile[file] }

// Load reads every *.avsc file of the workspace-relative folder dir through
// root, which the caller keeps open, and checks and parses them together:
// a file may reference a named type of another by full name. A failure is
// a *[diag.Error] naming the file, line and column to fix; a canceled ctx
// stops the work with ctx's error.
func Load(ctx context.Context, root *os.Root, dir string) (*Set, error) {
	return LoadFS(ctx, root.FS(), dir)
}

// LoadFS is Load over any fs.FS, such as a baseline read from git.
func LoadFS(ctx context.Context, fsys fs.FS, dir string) (*Set, error) {
	return LoadWith(ctx, fsys, dir)
}

// LoadWith is LoadFS with more schemas loaded together with the .avsc
// files of dir: they may reference each other's named types. With dir
// empty, only the extra schemas are loaded.
func LoadWith(ctx context.Context, fsys fs.FS, dir string, extra ...Source) (*Set, error) {
	var names []string
	if dir != "" {
		dir = path.Clean(dir)
		if path.IsAbs(dir) || dir == ".." || strings.HasPrefix(dir, "../") {
			return nil, &diag.Error{File: dir, Msg: "the schema folder is outside the workspace: refused", Hint: "use a workspace-relative folder"}
		}
		var err error
		if names, err = listSchemas(fsys, dir); err != nil {
			return nil, err
		}
	}
	read := yamlref.FSReader(fsys)
	l := &loader{set: &Set{Dir: dir, types: map[string]*Type{}, byFile: map[string]*Record{}, tops: map[string]*Type{}, parsed: map[string]*avro.Schema{}}, defs: map[string]*def{}, deps: map[string]map[string]*ref{}}
	sources := make([]Source, 0, len(names)+len(extra))
	for _, name := range names {
		sources = append(sources, Source{File: path.Join(dir, name)})
	}
	sources = append(sources, extra...)
	for _, src := range sources {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		file, data := src.File, src.Data
		if data == nil {
			var err error
			if data, err = read(file); err != nil {
				return nil, &diag.Error{File: file, Msg: fmt.Sprintf("cannot read: %v", err)}
			}
		}
		f := &schemaFile{path: file, src: newSource(data)}
		n, err := parseJSON(data)
		if err != nil {
			var ea *errAt
			if errors.As(err, &ea) {
				return nil, f.errAt(ea.off, ea.msg, "")
			}
			return nil, f.errAt(0, err.Error(), "")
		}
		f.root = n
		l.files = append(l.files, f)
		l.set.Files = append(l.set.Files, file)
	}
	if err := l.check(); err != nil {
		return nil, err
	}
	if err := l.compile(ctx); err != nil {
		return nil, err
	}
	return l.set, nil
}

// listSchemas returns the sorted names of the .avsc files of dir.
func listSchemas(fsys fs.FS, dir string) ([]string, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &diag.Error{File: dir, Msg: "folder not found", Hint: "create it, or fix the path to the schema files"}
		}
		return nil, &diag.Error{File: dir, Msg: fmt.Sprintf("cannot list the folder: %v", err)}
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && path.Ext(e.Name()) == Extension {
			names = append(names, e.Name())
		}
	}
	if len(names) > maxFiles {
		return nil, &diag.Error{File: dir, Msg: fmt.Sprintf("more than %d schema files", maxFiles)}
	}
	slices.Sort(names)
	return names, nil
}

// schemaFile is one schema file being loaded.
type schemaFile struct {
	path   string
	src    source
	root   *node
	top    *Type            // the type at the top of the file
	schema *avro.Schema     // the parsed file
	redefs map[*node]string // identical redefinitions of named types of other files: their full names
}

// parseText is the schema text to parse: the file, or, when it redefines
// named types of other files, the file with each redefinition replaced by
// the type's name (the cache holds the type already).
func (f *schemaFile) parseText() (string, error) {
	if len(f.redefs) == 0 {
		return string(f.src.data), nil
	}
	var rewrite func(n *node) any
	rewrite = func(n *node) any {
		if full, ok := f.redefs[n]; ok {
			// The full name: the namespace in scope may differ here.
			return full
		}
		switch n.kind {
		case jsonArray:
			out := make([]any, len(n.items))
			for i, it := range n.items {
				out[i] = rewrite(it)
			}
			return out
		case jsonObject:
			out := make(map[string]any, len(n.members))
			for _, m := range n.members {
				out[m.key] = rewrite(m.val)
			}
			return out
		}
		return n.value()
	}
	data, err := json.Marshal(rewrite(f.root))
	return string(data), err
}

// errAt returns a diag.Error at byte offset off of the file.
func (f *schemaFile) errAt(off int, msg, hint string) *diag.Error {
	line, col := f.src.pos(off)
	return &diag.Error{File: f.path, Line: line, Column: col, Msg: msg, Hint: hint}
}

// def is one definition of a named type.
type def struct {
	name string // full name
	ns   string // namespace in scope inside the definition
	file *schemaFile
	n    *node
	typ  *Type
}

// ref is a reference from one file to a named type of another.
type ref struct {
	file *schemaFile
	n    *node
	name string
}

// loader holds the state of one Load.
type loader struct {
	set   *Set
	files []*schemaFile
	defs  map[string]*def
	order []*def // definitions in file and document order
	// deps maps a file path to the files it references, each with its
	// first reference.
	deps map[string]map[string]*ref
	// later are the checks that need every named type built: defaults and
	// unions.
	later []func() error
}

// compile parses the files with a schema cache in dependency order and
// fills in the records' schemas.
func (l *loader) compile(ctx context.Context) error {
	order, err := l.sortFiles()
	if err != nil {
		return err
	}
	var cache avro.SchemaCache
	for _, f := range order {
		if err := ctx.Err(); err != nil {
			return err
		}
		text, err := f.parseText()
		if err != nil {
			return f.errAt(0, err.Error(), "")
		}
		s, err := cache.Parse(text)
		if err != nil {
			return l.avroError(f, err)
		}
		f.schema = s
		l.set.parsed[f.path] = s
	}
	// The schema tree of each file, built once: Root derives it anew on
	// every call, which made loading quadratic in the records of a file.
	named := map[*schemaFile]map[string]*avro.SchemaNode{}
	for _, d := range l.order {
		r := d.typ.Record
		if r == nil {
			continue
		}
		s := d.file.schema
		if d.file.top != d.typ {
			nodes := named[d.file]
			if nodes == nil {
				nodes = map[string]*avro.SchemaNode{}
				namedNodes(d.file.schema.Root(), "", 0, nodes)
				named[d.file] = nodes
			}
			sn := nodes[d.name]
			if sn == nil {
				return d.file.errAt(d.n.off, fmt.Sprintf("avro: record %s not found in the parsed schema", d.name), "")
			}
			if s, err = sn.Schema(); err != nil {
				return d.file.errAt(d.n.off, fmt.Sprintf("avro: record %s: %v", d.name, err), "")
			}
		}
		r.Avro = s
		r.Schema = s.String()
		r.Canonical = string(s.Canonical())
		h := avro.NewRabin()
		s.Fingerprint(h)
		r.Fingerprint = h.Sum64()
	}
	return nil
}

// namedNodes indexes the definitions of named types in the tree n, whose
// enclosing namespace is ns, by full name: one walk for all the records of
// a file, not one per record.
func namedNodes(n *avro.SchemaNode, ns string, depth int, out map[string]*avro.SchemaNode) {
	if n == nil || depth > maxDepth {
		return
	}
	switch n.Type {
	case "record", "error", "enum", "fixed":
		full := n.Name
		if !strings.Contains(full, ".") && n.Namespace != "" {
			full = n.Namespace + "." + full
		}
		if _, ok := out[full]; !ok {
			out[full] = n
		}
		ns = namespaceOf(full)
	}
	for i := range n.Fields {
		namedNodes(&n.Fields[i].Type, ns, depth+1, out)
	}
	for i := range n.Branches {
		namedNodes(&n.Branches[i], ns, depth+1, out)
	}
	namedNodes(n.Items, ns, depth+1, out)
	namedNodes(n.Values, ns, depth+1, out)
}

// sortFiles orders the files so that each comes after the files it
// references, keeping name order where free, and reports a cycle.
func (l *loader) sortFiles() ([]*schemaFile, error) {
	var order []*schemaFile
	state := map[string]int{} // 0 new, 1 visiting, 2 done
	byPath := map[string]*schemaFile{}
	for _, f := range l.files {
		byPath[f.path] = f
	}
	var visit func(f *schemaFile, stack []*ref) error
	visit = func(f *schemaFile, stack []*ref) error {
		switch state[f.path] {
		case 1:
			first := stack[0]
			for i, r := range stack {
				if r.file == f {
					first = stack[i]
					stack = stack[i:]
					break
				}
			}
			chain := []string{}
			for _, r := range stack {
				chain = append(chain, fmt.Sprintf("%s → %s", path.Base(r.file.path), r.name))
			}
			return first.file.errAt(first.n.off,
				fmt.Sprintf("schema files reference each other in a cycle (%s)", strings.Join(chain, ", ")),
				"a type must be defined before files that use it can be parsed; move the types that use each other into one file")
		case 2:
			return nil
		}
		state[f.path] = 1
		deps := l.deps[f.path]
		targets := slices.Sorted(func(yield func(string) bool) {
			for p := range deps {
				if !yield(p) {
					return
				}
			}
		})
		for _, p := range targets {
			if err := visit(byPath[p], append(stack, deps[p])); err != nil {
				return err
			}
		}
		state[f.path] = 2
		order = append(order, f)
		return nil
	}
	for _, f := range l.files {
		if err := visit(f, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// avroError positions an error of the Avro parser that the checks before
// it did not catch: at the first string or key it quotes that the file
// holds, or at the top of the file.
func (l *loader) avroError(f *schemaFile, err error) error {
	msg := "avro: " + err.Error()
	off := f.root.off
	for _, q := range quoted(err.Error()) {
		if n := findString(f.root, q, 0); n != nil {
			off = n.off
			break
		}
	}
	return f.errAt(off, msg, "")
}

// quoted returns the double-quoted strings of msg, in order.
func quoted(msg string) []string {
	var out []string
	for {
		_, rest, ok := strings.Cut(msg, `"`)
		if !ok {
			return out
		}
		q, after, ok := strings.Cut(rest, `"`)
		if !ok {
			return out
		}
		out = append(out, q)
		msg = after
	}
}

// findString returns the first node below n whose value is the string s,
// or a node at the first object key that is s.
func findString(n *node, s string, depth int) *node {
	if depth > maxDepth {
		return nil
	}
	switch n.kind {
	case jsonString:
		if n.str == s {
			return n
		}
	case jsonArray:
		for _, it := range n.items {
			if f := findString(it, s, depth+1); f != nil {
				return f
			}
		}
	case jsonObject:
		for _, m := range n.members {
			if m.key == s {
				return &node{kind: jsonString, str: s, off: m.off}
			}
			if f := findString(m.val, s, depth+1); f != nil {
				return f
			}
		}
	}
	return nil
}

// sortRecords sorts the records of the set by full name.
func (s *Set) sortRecords() {
	slices.SortFunc(s.Records, func(a, b *Record) int { return cmp.Compare(a.Name, b.Name) })
}

// namespaceOf returns the namespace part of a full name.
func namespaceOf(full string) string {
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		return full[:i]
	}
	return ""
}
