package generator

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// avroRealWorld holds Avro schemas written by apache/avro (source line in
// its README.md).
const avroRealWorld = "testdata/avro-real-world"

// TestRealWorldAvro generates the Go types of each apache/avro schema, as
// the avro folder of a module of its own, and compiles them against the
// real runtime packages: general unions (interop.avsc, TestUnionRecord,
// union_and_fixed_fields), logical types, fixed, maps and arrays, a
// top-level enum.
func TestRealWorldAvro(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(avroRealWorld, "*.avsc"))
	if err != nil || len(files) < 20 {
		t.Fatalf("%d schemas, %v", len(files), err)
	}
	imp := importer.ForCompiler(token.NewFileSet(), "source", nil)
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".avsc")
		t.Run(name, func(t *testing.T) {
			ws := t.TempDir()
			dir := filepath.Join(ws, "contracts", "rw", "v1", AvroDir)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			for p, content := range map[string][]byte{
				filepath.Join(dir, filepath.Base(file)): src,
				filepath.Join(ws, "go.mod"):             []byte("module example.com/rw\n"),
				filepath.Join(ws, "keiyaku.yaml"):       []byte("version: v1\nmodules:\n  - path: contracts/rw/v1\n    package: rw\n"),
			} {
				if err := os.WriteFile(p, content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out, err := Generate(t.Context(), loadWS(t, ws))
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != 1 || path.Base(out[0].Path) != AvroFile {
				t.Fatalf("generated %d files, want %s", len(out), AvroFile)
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, out[0].Path, out[0].Content, 0)
			if err != nil {
				t.Fatal(err)
			}
			conf := types.Config{Importer: imp}
			if _, err := conf.Check("rw", fset, []*ast.File{f}, nil); err != nil {
				t.Errorf("generated code does not compile: %v", err)
			}
		})
	}
}
