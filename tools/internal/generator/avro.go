package generator

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/keiyaku/keiyaku/tools/internal/avroschema"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/diag"
)

// AvroDir is the folder of a module that holds its Avro schemas.
const AvroDir = "avro"

// AvroFile is the generated file of a module's Avro types.
const AvroFile = "avro" + Suffix

const codecPkg = "github.com/keiyaku/keiyaku/runtime/events/codec"

// goTypes maps Avro types to Go types, the mapping runtime/events/codec
// (twmb/avro) encodes and decodes: uuid → string, date and
// timestamp-millis → time.Time, decimal → *big.Rat, ["null", T] → *T.
type goTypes struct {
	imports map[string]bool
	names   namer
	// owner is the Go name of the record whose fields are being typed;
	// unions are the sum types of general unions, in the order met.
	owner      string
	unions     []union
	unionNames map[*avroschema.Type]string
	unionTaken map[string]bool
}

// namer gives the Go name of a named Avro type. A name the package's
// OpenAPI code already declares (room's REST Money and the event's Avro
// Money) gets the suffix "Avro", the same at every use.
type namer map[string]bool

func (taken namer) name(full string) string {
	n := typeName(full)
	if taken[n] {
		return n + "Avro"
	}
	return n
}

func (g *goTypes) goType(t *avroschema.Type, at *avroschema.Field) (string, error) {
	if inner, ok := t.Nullable(); ok {
		s, err := g.goType(inner, at)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(s, "*") || strings.HasPrefix(s, "[]") || strings.HasPrefix(s, "map[") {
			return s, nil
		}
		return "*" + s, nil
	}
	if general(t) {
		return g.unionName(t, at)
	}
	switch t.Logical {
	case "uuid":
		return "string", nil
	case "date", "timestamp-millis", "timestamp-micros", "local-timestamp-millis", "local-timestamp-micros":
		g.imports["time"] = true
		return "time.Time", nil
	case "time-millis", "time-micros":
		g.imports["time"] = true
		return "time.Duration", nil
	case "decimal":
		g.imports["math/big"] = true
		return "*big.Rat", nil
	}
	switch t.Kind {
	case avroschema.KindNull:
		// A field that is always null: only nil encodes as Avro null.
		return "any", nil
	case avroschema.KindBoolean:
		return "bool", nil
	case avroschema.KindInt:
		return "int32", nil
	case avroschema.KindLong:
		return "int64", nil
	case avroschema.KindFloat:
		return "float32", nil
	case avroschema.KindDouble:
		return "float64", nil
	case avroschema.KindBytes:
		return "[]byte", nil
	case avroschema.KindString:
		return "string", nil
	case avroschema.KindRecord, avroschema.KindEnum:
		return g.names.name(t.Name), nil
	case avroschema.KindFixed:
		return fmt.Sprintf("[%d]byte", t.Size), nil
	case avroschema.KindArray:
		s, err := g.goType(t.Items, at)
		return "[]" + s, err
	case avroschema.KindMap:
		s, err := g.goType(t.Values, at)
		return "map[string]" + s, err
	}
	where := ""
	if at != nil {
		where = "field " + at.Name + ": "
	}
	return "", fmt.Errorf("%sno Go type for Avro %s; use a record, a primitive, or a union of null and one type", where, t.Kind)
}

// typeName is the Go name of a named Avro type: the last part of its full
// name.
func typeName(full string) string {
	return exported(full[strings.LastIndex(full, ".")+1:])
}

// initialisms are written in capitals in Go names (Go's naming habit).
var initialisms = []string{"ID", "URL", "URI", "UUID", "HTTP", "API", "JSON", "SQL"}

// exported turns an Avro or AsyncAPI name ("reservationId", "on-created")
// into an exported Go name ("ReservationID", "OnCreated").
func exported(name string) string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, string(cur))
			cur = nil
		}
	}
	for i, r := range name {
		switch {
		case r == '_' || r == '-' || r == '.' || r == ' ':
			flush()
			continue
		case i > 0 && r >= 'A' && r <= 'Z' && len(cur) > 0 && !(cur[len(cur)-1] >= 'A' && cur[len(cur)-1] <= 'Z'):
			flush()
		}
		cur = append(cur, r)
	}
	flush()
	var b strings.Builder
	for _, w := range words {
		if up := strings.ToUpper(w); slices.Contains(initialisms, up) {
			b.WriteString(up)
			continue
		}
		r, size := utf8.DecodeRuneInString(w)
		b.WriteRune(unicode.ToUpper(r))
		b.WriteString(w[size:])
	}
	return b.String()
}

// goIdent turns any name (a JSON property, "user-name", "@type", "2fa")
// into an exported Go identifier: [exported], with every character that
// cannot be in one taken as a word break, and an X in front of one that
// would not start with an upper-case letter.
func goIdent(name string) string {
	id := exported(strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return ' '
	}, name))
	if r, _ := utf8.DecodeRuneInString(id); !unicode.IsUpper(r) {
		id = "X" + id
	}
	return id
}

// CheckAvro runs every check generating the Go types of set for module m
// runs, without writing code: lint calls it, so that lint passing means
// generate works. The code is not formatted (only a bug of the generator
// would make that fail, and lint's [Verify] formats it).
func CheckAvro(set *avroschema.Set, m config.Module) error {
	_, _, err := avroBody(set, namer{})
	return err
}

// generateAvro writes the Go types of every named type in set, with the
// self-contained schema, its fingerprint and a parsed codec.Schema of each
// record.
func generateAvro(set *avroschema.Set, m config.Module, taken namer) ([]byte, error) {
	body, imports, err := avroBody(set, taken)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "%s\n// source: %s\n\npackage %s\n\n", Header, set.Dir, m.GoPackage())
	writeImports(&out, imports)
	out.Write(body)
	src, err := format.Source(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("generate Avro types of %s: format: %w", m.Path, err)
	}
	return src, nil
}

// avroBody returns the declarations of the Go types of set, unformatted,
// and the imports they need.
func avroBody(set *avroschema.Set, taken namer) ([]byte, map[string]string, error) {
	// Enums of the folder, those at the top of a file included (a record
	// field's enum is found through the record too).
	var enums []*avroschema.Type
	for _, t := range set.Types() {
		if t.Kind == avroschema.KindEnum {
			enums = append(enums, t)
		}
	}
	return avroDecls(set.Records, enums, taken)
}

// reachable returns the records roots and every record they use, each
// once, sorted by full name. Two records of one full name from different
// schemas (an inline payload and an .avsc file) are one type when they are
// identical; when they differ it is an error.
func reachable(roots ...*avroschema.Record) ([]*avroschema.Record, error) {
	seen := map[string]*avroschema.Record{}
	var conflict error
	enter := func(t *avroschema.Type) bool {
		if conflict != nil {
			return false
		}
		if prev, ok := seen[t.Name]; ok {
			if prev != t.Record && prev.Canonical != t.Record.Canonical {
				conflict = &diag.Error{File: t.Record.File, Line: t.Record.Line, Column: t.Record.Column,
					Msg:  fmt.Sprintf("record %s differs from the record of the same name at %s:%d", t.Name, prev.File, prev.Line),
					Hint: "a Go package holds one type per name: make the definitions identical, or rename one"}
			}
			return false
		}
		seen[t.Name] = t.Record
		return true
	}
	for _, r := range roots {
		walkType(r.Type, enter, nil)
	}
	out := make([]*avroschema.Record, 0, len(seen))
	for _, r := range seen {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *avroschema.Record) int { return strings.Compare(a.Name, b.Name) })
	return out, conflict
}

// walkType visits t and the types inside it, depth first: array items,
// map values and union branches always; a record's fields when enter,
// called at each record type reached, returns true (it is how a walk stops
// at records it has seen). visit, when not nil, is called at every type
// that is not a record.
func walkType(t *avroschema.Type, enter func(t *avroschema.Type) bool, visit func(t *avroschema.Type)) {
	if t == nil {
		return
	}
	if t.Kind == avroschema.KindRecord {
		if enter(t) {
			for _, f := range t.Record.Fields {
				walkType(f.Type, enter, visit)
			}
		}
		return
	}
	if visit != nil {
		visit(t)
	}
	walkType(t.Items, enter, visit)
	walkType(t.Values, enter, visit)
	for _, b := range t.Branches {
		walkType(b, enter, visit)
	}
}

// avroDecls writes the Go declarations of records, of the enums their
// fields use and of the enums given, and returns the imports they need.
func avroDecls(records []*avroschema.Record, enums []*avroschema.Type, taken namer) ([]byte, map[string]string, error) {
	g := &goTypes{imports: map[string]bool{}, names: taken, unionNames: map[*avroschema.Type]string{}, unionTaken: map[string]bool{}}
	// A sum type takes no name a record, an enum or the OpenAPI code has.
	for n := range taken {
		g.unionTaken[n] = true
	}
	for _, r := range records {
		g.unionTaken[taken.name(r.Name)] = true
	}
	var body bytes.Buffer
	seen := map[string]bool{}
	for _, e := range enums {
		seen[e.Name] = true
	}
	collect := func(t *avroschema.Type) {
		if t.Kind == avroschema.KindEnum && !seen[t.Name] {
			seen[t.Name] = true
			enums = append(enums, t)
		}
	}
	noFields := func(*avroschema.Type) bool { return false } // records holds every record
	for _, r := range records {
		for _, f := range r.Fields {
			walkType(f.Type, noFields, collect)
		}
	}
	slices.SortFunc(enums, func(a, b *avroschema.Type) int { return strings.Compare(a.Name, b.Name) })
	for _, e := range enums {
		g.unionTaken[taken.name(e.Name)] = true
	}
	for _, e := range enums {
		name := taken.name(e.Name)
		comment(&body, "", name, e.Doc, "is the Avro enum "+e.Name+".")
		fmt.Fprintf(&body, "type %s string\n\n// The symbols of %s.\nconst (\n", name, name)
		for _, s := range e.Symbols {
			fmt.Fprintf(&body, "\t%s%s %s = %q\n", name, exported(strings.ToLower(s)), name, s)
		}
		body.WriteString(")\n\n")
	}
	for _, r := range records {
		name := taken.name(r.Name)
		g.owner = name
		comment(&body, "", name, r.Doc, "is the Avro record "+r.Name+".")
		fmt.Fprintf(&body, "//\n// Schema: %s\ntype %s struct {\n", r.File, name)
		for i, f := range r.Fields {
			typ, err := g.goType(f.Type, f)
			if err != nil {
				return nil, nil, &diag.Error{File: r.File, Line: f.Line, Column: f.Column, Msg: err.Error()}
			}
			if i > 0 {
				body.WriteString("\n")
			}
			comment(&body, "\t", exported(f.Name), f.Doc, "is the field "+f.Name+".")
			fmt.Fprintf(&body, "\t%s %s `avro:%q json:%q`\n", exported(f.Name), typ, f.Name, f.Name)
		}
		body.WriteString("}\n\n")
		fmt.Fprintf(&body, "// %sSchemaJSON is the self-contained Avro schema of %s, as written in\n// %s with the named types it uses inlined.\n", name, name, r.File)
		fmt.Fprintf(&body, "const %sSchemaJSON = %s\n\n", name, strconv.Quote(r.Schema))
		fmt.Fprintf(&body, "// %sFingerprint is the CRC-64-AVRO fingerprint of the Parsing Canonical\n// Form of %sSchemaJSON: the id single-object encoding writes.\n", name, name)
		fmt.Fprintf(&body, "const %sFingerprint uint64 = %#016x\n\n", name, r.Fingerprint)
		fmt.Fprintf(&body, "// %sSchema is %sSchemaJSON, parsed.\nvar %sSchema = codec.MustSchema(%sSchemaJSON)\n\n", name, name, name, name)
	}
	if err := g.writeUnions(&body, records); err != nil {
		return nil, nil, err
	}
	imports := map[string]string{}
	if len(records) > 0 {
		imports[codecPkg] = ""
	}
	for imp := range g.imports {
		imports[imp] = ""
	}
	return body.Bytes(), imports, nil
}

// comment writes a doc comment that starts with name: the Avro doc when
// there is one, else fallback.
func comment(b *bytes.Buffer, indent, name, doc, fallback string) {
	text := name + " " + fallback
	if doc = strings.TrimSpace(doc); doc != "" {
		text = name + ": " + doc
		if name == "Deprecated" {
			text = name + " holds: " + doc // "Deprecated:" would mark the field deprecated
		}
	}
	for _, line := range wrap(text, 76-len(indent)) {
		fmt.Fprintf(b, "%s// %s\n", indent, line)
	}
}

// wrap breaks text into lines of at most width runes at spaces.
func wrap(text string, width int) []string {
	var lines []string
	var cur string
	for _, w := range strings.Fields(text) {
		if cur != "" && len(cur)+1+len(w) > width {
			lines = append(lines, cur)
			cur = w
			continue
		}
		if cur != "" {
			cur += " "
		}
		cur += w
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

// declared returns the top-level identifiers of Go source, for namer.
func declared(src []byte) (namer, error) {
	f, err := parser.ParseFile(token.NewFileSet(), "", src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	names := namer{}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				names[d.Name.Name] = true
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					names[s.Name.Name] = true
				case *ast.ValueSpec:
					for _, n := range s.Names {
						names[n.Name] = true
					}
				}
			}
		}
	}
	return names, nil
}
