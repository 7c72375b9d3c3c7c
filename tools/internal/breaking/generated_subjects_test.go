package breaking_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/breaking"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/generator"
)

// TestGeneratedSubjects pins that the subjects generated event types
// register their schemas under (events.Type Subject and KeySubject, which
// the producer hands to the Confluent codec) are the subjects the gate
// checks, for a channel with one record type and one with several, by
// default and with each configured strategy, Avro record keys included.
// Each case also lists the subjects, so that the two cannot agree on a
// wrong name.
func TestGeneratedSubjects(t *testing.T) {
	t.Parallel()
	const keyFile = "contracts/stays/v1/avro/StayKey.avsc"
	keyedTwo := strings.Replace(breaking.TwoMessageEvents, "          key:\n            type: string\n            x-keiyaku-field: id\n",
		"          key:\n            schemaFormat: application/vnd.apache.avro;version=1.9.0\n            schema:\n              $ref: './avro/StayKey.avsc'\n", 1)
	const (
		booked    = "example.stays.v1.StayBooked"
		cancelled = "example.stays.v1.StayCancelled"
		key       = "example.stays.v1.StayKey"
	)
	for _, tt := range []struct {
		name, doc, breaking string
		want                []string // topic/part/record=subject
	}{
		{"one record", breaking.KeyedStayEvents, "", []string{
			"stays.events.v1/value/" + booked + "=stays.events.v1-value",
			"stays.events.v1/key/" + key + "=stays.events.v1-key",
		}},
		{"several records", keyedTwo, "", []string{
			"stays.events.v1/value/" + booked + "=stays.events.v1-" + booked,
			"stays.events.v1/key/" + key + "=stays.events.v1-" + key,
			"stays.events.v1/value/" + cancelled + "=stays.events.v1-" + cancelled,
		}},
		{"one record, RecordNameStrategy", breaking.KeyedStayEvents, "breaking:\n  avro:\n    strategy: RecordNameStrategy\n", []string{
			"stays.events.v1/value/" + booked + "=" + booked,
			"stays.events.v1/key/" + key + "=" + key,
		}},
		{"one record, TopicRecordNameStrategy for the module", breaking.KeyedStayEvents, "breaking:\n  avro:\n    strategies:\n      contracts/stays/v1: TopicRecordNameStrategy\n", []string{
			"stays.events.v1/value/" + booked + "=stays.events.v1-" + booked,
			"stays.events.v1/key/" + key + "=stays.events.v1-" + key,
		}},
		{"several records, TopicNameStrategy for the topic", keyedTwo, "breaking:\n  avro:\n    strategy: RecordNameStrategy\n    strategies:\n      stays.events.v1: TopicNameStrategy\n", []string{
			"stays.events.v1/value/" + booked + "=stays.events.v1-value",
			"stays.events.v1/key/" + key + "=stays.events.v1-key",
			"stays.events.v1/value/" + cancelled + "=stays.events.v1-value",
		}},
		{"several records, RecordNameStrategy", keyedTwo, "breaking:\n  avro:\n    strategy: RecordNameStrategy\n", []string{
			"stays.events.v1/value/" + booked + "=" + booked,
			"stays.events.v1/key/" + key + "=" + key,
			"stays.events.v1/value/" + cancelled + "=" + cancelled,
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for file, content := range map[string]string{
				config.FileName:                    "version: v1\nmodules:\n  - path: contracts/stays/v1\n    service: stays\n" + tt.breaking,
				"go.mod":                           "module example.com/stays\n",
				"contracts/stays/v1/asyncapi.yaml": tt.doc,
				"contracts/stays/v1/avro/StayBooked.avsc":    breaking.StayBooked("StayBooked", ""),
				"contracts/stays/v1/avro/StayCancelled.avsc": breaking.Record("example.stays.v1", "StayCancelled", "", breaking.FieldID),
				breaking.GuestFile:                           breaking.Record("example.stays.v1", "Guest", "", breaking.FieldID),
				keyFile:                                      breaking.Record("example.stays.v1", "StayKey", "", breaking.FieldID),
			} {
				writeFile(t, filepath.Join(dir, file), content)
			}
			cfg, err := config.Load(filepath.Join(dir, config.FileName))
			if err != nil {
				t.Fatal(err)
			}

			// The gate's subjects of the channel's messages.
			gate, err := breaking.GateSubjects(t.Context(), cfg, os.DirFS(dir))
			if err != nil {
				t.Fatal(err)
			}

			// The generated event types' subjects.
			files, err := generator.Generate(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			generated := typeSubjects(t, files)
			slices.Sort(gate)
			gate = slices.Compact(gate)
			slices.Sort(generated)
			generated = slices.Compact(generated)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(generated, gate) {
				t.Errorf("generated subjects\n  %s\ngate subjects\n  %s", strings.Join(generated, "\n  "), strings.Join(gate, "\n  "))
			}
			if !slices.Equal(gate, want) {
				t.Errorf("gate subjects\n  %s\nwant\n  %s", strings.Join(gate, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}

// typeSubjects returns the subjects of the events.Type literals of the
// generated events files, as topic/part/record=subject; a KeySubject's
// record is the one of the key schema the publisher encodes with
// (events.EncodeKey(ctx, p.p, <Type>Schema, <Var>.KeySubject, key)), read
// from the <Type>SchemaJSON constant of the package.
func typeSubjects(t *testing.T, files []generator.File) []string {
	t.Helper()
	consts := map[string]string{} // dir/constant → value
	var events []*ast.File
	var dirs []string
	for _, gf := range files {
		if !strings.HasSuffix(gf.Path, ".go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), gf.Path, gf.Content, 0)
		if err != nil {
			t.Fatal(err)
		}
		dir := path.Dir(gf.Path)
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.CONST {
				for _, spec := range g.Specs {
					vs := spec.(*ast.ValueSpec)
					if bl, ok := vs.Values[0].(*ast.BasicLit); ok && bl.Kind == token.STRING {
						consts[dir+"/"+vs.Names[0].Name], _ = strconv.Unquote(bl.Value)
					}
				}
			}
		}
		if path.Base(gf.Path) == generator.EventsFile {
			events, dirs = append(events, f), append(dirs, dir)
		}
	}
	var out []string
	for i, f := range events {
		keyRecord := map[string]string{} // events.Type var → Avro key record full name
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != "EncodeKey" {
				return true
			}
			if len(call.Args) != 5 {
				t.Errorf("EncodeKey call with %d arguments, want 5", len(call.Args))
				return true
			}
			schema, _ := call.Args[2].(*ast.Ident)
			sub, _ := call.Args[3].(*ast.SelectorExpr)
			if schema == nil || sub == nil || sub.Sel.Name != "KeySubject" {
				t.Errorf("EncodeKey call does not pass a schema and an event type's KeySubject")
				return true
			}
			var named struct{ Name, Namespace string }
			if err := json.Unmarshal([]byte(consts[dirs[i]+"/"+schema.Name+"JSON"]), &named); err != nil {
				t.Fatalf("%sJSON: %v", schema.Name, err)
			}
			keyRecord[sub.X.(*ast.Ident).Name] = named.Namespace + "." + named.Name
			return true
		})
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				if len(vs.Values) != 1 {
					continue
				}
				lit, ok := vs.Values[0].(*ast.CompositeLit)
				if !ok {
					continue
				}
				if ix, ok := lit.Type.(*ast.IndexExpr); !ok || ix.X.(*ast.SelectorExpr).Sel.Name != "Type" {
					continue
				}
				fields := map[string]string{}
				for _, e := range lit.Elts {
					kv := e.(*ast.KeyValueExpr)
					if bl, ok := kv.Value.(*ast.BasicLit); ok && bl.Kind == token.STRING {
						fields[kv.Key.(*ast.Ident).Name], _ = strconv.Unquote(bl.Value)
					}
				}
				name := vs.Names[0].Name
				if fields["Subject"] != "" {
					out = append(out, fields["Topic"]+"/value/"+fields["Name"]+"="+fields["Subject"])
				}
				if fields["KeySubject"] != "" {
					out = append(out, fields["Topic"]+"/key/"+keyRecord[name]+"="+fields["KeySubject"])
				} else if keyRecord[name] != "" {
					t.Errorf("%s: an Avro record key without a KeySubject", name)
				}
			}
		}
	}
	return out
}

func writeFile(t *testing.T, file, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
