package generator

import (
	"bytes"
	"flag"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/config"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ws/gen")

// loadWS loads the configuration of a workspace folder.
func loadWS(t testing.TB, dir string) *config.Config {
	t.Helper()
	cfg, err := config.Load(filepath.Join(dir, config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// copyDir copies the tree src into a new temporary folder and returns it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	if err := copyTree(src, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// copyTree copies a file or a folder tree to dst.
func copyTree(src, dst string) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	}
	return os.CopyFS(dst, os.DirFS(src))
}

// TestGolden pins the generated code of a multi-file contract (a response
// taken from another file by relative $ref) and its determinism: two runs
// give the same bytes, gofmt-clean, marked generated for go/ast.
func TestGolden(t *testing.T) {
	t.Parallel()
	cfg := loadWS(t, "testdata/ws")
	first, err := Generate(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	second, err := Generate(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range first {
		paths = append(paths, f.Path+" ← "+f.Source)
	}
	want := []string{
		"gen/pets/v1/openapi.gen.go ← contracts/pets/v1/openapi.yaml",
		"gen/pets/v1/avro.gen.go ← contracts/pets/v1/avro",
		"gen/pets/v1/events.gen.go ← contracts/pets/v1/asyncapi.yaml",
		"gen/shop/v1/openapi.gen.go ← contracts/shop/v1/openapi.yaml",
		"gen/shop/v1/events.gen.go ← contracts/shop/v1/asyncapi.yaml",
		"gen/shop/v1/clients.gen.go ← keiyaku.yaml",
	}
	if !slices.Equal(paths, want) {
		t.Fatalf("planned files = %q, want %q", paths, want)
	}
	for i, f := range first {
		if !bytes.Equal(f.Content, second[i].Content) {
			t.Errorf("%s: two runs differ", f.Path)
		}
		formatted, err := format.Source(f.Content)
		if err != nil || !bytes.Equal(formatted, f.Content) {
			t.Errorf("%s: not gofmt-clean (err %v)", f.Path, err)
		}
		file, err := parser.ParseFile(token.NewFileSet(), f.Path, f.Content, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			t.Fatal(err)
		}
		if !ast.IsGenerated(file) {
			t.Errorf("%s: go/ast does not see it as generated", f.Path)
		}
		if want := strings.Split(f.Path, "/")[1] + "v1"; file.Name.Name != want {
			t.Errorf("%s: package %s, want %s", f.Path, file.Name.Name, want)
		}
		wantHead := Header + "\n// source: " + f.Source
		if !bytes.HasPrefix(f.Content, []byte(wantHead)) {
			t.Errorf("%s: does not start with %q", f.Path, wantHead)
		}
		abs, _ := filepath.Abs(".")
		if bytes.Contains(f.Content, []byte(abs)) {
			t.Errorf("%s: holds the absolute path %s", f.Path, abs)
		}
		// The shared response came in through the relative $ref.
		if f.Path == "gen/pets/v1/openapi.gen.go" && !bytes.Contains(f.Content, []byte("type Problem struct")) {
			t.Errorf("%s: Problem from common.yaml was not bundled", f.Path)
		}
		checkGolden(t, f, filepath.Join("testdata/ws", filepath.FromSlash(f.Path)))
	}
}

// TestCheckAndWrite pins what --check reports and what a write repairs: a
// stale file, a missing file, an orphan whose contract is gone; a
// hand-written file in the output folder is never touched.
func TestCheckAndWrite(t *testing.T) {
	t.Parallel()
	ws := copyDir(t, "testdata/ws")
	// A second generated module, to make one file missing.
	catsDir := filepath.Join(ws, "contracts/cats/v1")
	if err := os.MkdirAll(catsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	petsSpec, err := os.ReadFile(filepath.Join(ws, "contracts/pets/v1/openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(catsDir, "openapi.yaml"), petsSpec, 0o644); err != nil {
		t.Fatal(err)
	}
	appendFile(t, filepath.Join(ws, "keiyaku.yaml"), "  - path: contracts/cats/v1\n    service: cats\n")
	// Stale: a hand edit of a generated file.
	appendFile(t, filepath.Join(ws, "gen/pets/v1/openapi.gen.go"), "\n// edited by hand\n")
	// Orphan: generated once from a contract that is gone.
	orphan := filepath.Join(ws, "gen/dogs/v1/openapi.gen.go")
	if err := writeFile(orphan, []byte(Header+"\n// source: contracts/dogs/v1/openapi.yaml\n\npackage dogsv1\n")); err != nil {
		t.Fatal(err)
	}
	// Hand-written: no header, must survive.
	handWritten := filepath.Join(ws, "gen/pets/v1/doc.go")
	if err := os.WriteFile(handWritten, []byte("package petsv1\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	cfg := loadWS(t, ws)
	files, err := Generate(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	changes, err := Check(cfg.Root, cfg.Generate.Out, files)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"gen/cats/v1/openapi.gen.go missing",
		"gen/dogs/v1/openapi.gen.go orphaned",
		"gen/pets/v1/avro.gen.go unchanged",
		"gen/pets/v1/events.gen.go unchanged",
		"gen/pets/v1/openapi.gen.go stale",
		"gen/shop/v1/clients.gen.go unchanged",
		"gen/shop/v1/events.gen.go unchanged",
		"gen/shop/v1/openapi.gen.go unchanged",
	}
	if got := summary(changes); !slices.Equal(got, want) {
		t.Fatalf("check = %q, want %q", got, want)
	}
	if _, err := os.Stat(orphan); err != nil {
		t.Fatalf("check removed the orphan: %v", err)
	}

	changes, err = Write(cfg.Root, cfg.Generate.Out, files)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{
		"gen/cats/v1/openapi.gen.go wrote",
		"gen/dogs/v1/openapi.gen.go removed",
		"gen/pets/v1/avro.gen.go unchanged",
		"gen/pets/v1/events.gen.go unchanged",
		"gen/pets/v1/openapi.gen.go wrote",
		"gen/shop/v1/clients.gen.go unchanged",
		"gen/shop/v1/events.gen.go unchanged",
		"gen/shop/v1/openapi.gen.go unchanged",
	}
	if got := summary(changes); !slices.Equal(got, want) {
		t.Fatalf("write = %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Dir(orphan)); !os.IsNotExist(err) {
		t.Errorf("the orphan's empty folder is left: %v", err)
	}
	if _, err := os.Stat(handWritten); err != nil {
		t.Errorf("the hand-written file is gone: %v", err)
	}

	changes, err = Check(cfg.Root, cfg.Generate.Out, files)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"gen/cats/v1/openapi.gen.go unchanged", "gen/pets/v1/avro.gen.go unchanged", "gen/pets/v1/events.gen.go unchanged",
		"gen/pets/v1/openapi.gen.go unchanged", "gen/shop/v1/clients.gen.go unchanged", "gen/shop/v1/events.gen.go unchanged", "gen/shop/v1/openapi.gen.go unchanged"}
	if got := summary(changes); !slices.Equal(got, want) {
		t.Fatalf("check after write = %q, want %q", got, want)
	}
}

func summary(changes []Change) []string {
	var out []string
	for _, c := range changes {
		out = append(out, c.Path+" "+string(c.Status))
	}
	slices.Sort(out)
	return out
}

func appendFile(t *testing.T, file, text string) {
	t.Helper()
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestGenerateRefusesBrokenContract pins that a bad contract stops
// generation with its position and writes nothing.
func TestGenerateRefusesBrokenContract(t *testing.T) {
	t.Parallel()
	ws := copyDir(t, "testdata/ws")
	spec := filepath.Join(ws, "contracts/pets/v1/openapi.yaml")
	data, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), "common.yaml#", "commn.yaml#", 1))
	if err := os.WriteFile(spec, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Generate(t.Context(), loadWS(t, ws))
	want := `contracts/pets/v1/openapi.yaml:24:17: $ref "../../common/v1/commn.yaml#/components/responses/NotFound": file contracts/common/v1/commn.yaml not found; fix the path; it is relative to the file holding the $ref`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

// TestUpToDate pins the no-op cache: it answers true only while the
// generator, keiyaku.yaml, every file read (including one reached by a
// relative $ref), the names of the files in the contract folders and
// every file written are unchanged and no orphan appeared.
func TestUpToDate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(t *testing.T, ws string)
		gen    string
		want   bool
	}{
		{name: "nothing changed", change: func(*testing.T, string) {}, gen: "g1", want: true},
		{name: "other generator", change: func(*testing.T, string) {}, gen: "g2", want: false},
		{name: "shared file reached by $ref", change: func(t *testing.T, ws string) {
			appendFile(t, filepath.Join(ws, "contracts/common/v1/common.yaml"), "# edited\n")
		}, gen: "g1", want: false},
		{name: "contract", change: func(t *testing.T, ws string) {
			appendFile(t, filepath.Join(ws, "contracts/pets/v1/openapi.yaml"), "# edited\n")
		}, gen: "g1", want: false},
		{name: "config", change: func(t *testing.T, ws string) {
			appendFile(t, filepath.Join(ws, "keiyaku.yaml"), "# edited\n")
		}, gen: "g1", want: false},
		{name: "generated file edited by hand", change: func(t *testing.T, ws string) {
			appendFile(t, filepath.Join(ws, "gen/pets/v1/openapi.gen.go"), "// edited\n")
		}, gen: "g1", want: false},
		{name: "generated file deleted", change: func(t *testing.T, ws string) {
			if err := os.Remove(filepath.Join(ws, "gen/pets/v1/openapi.gen.go")); err != nil {
				t.Fatal(err)
			}
		}, gen: "g1", want: false},
		// A new .avsc is read by the next folder load though no recorded
		// input changed: the listing of the contract folders catches it.
		{name: "new file in a contract folder", change: func(t *testing.T, ws string) {
			if err := writeFile(filepath.Join(ws, "contracts/pets/v1/avro/New.avsc"), []byte(`{"type": "record", "name": "New", "fields": []}`)); err != nil {
				t.Fatal(err)
			}
		}, gen: "g1", want: false},
		{name: "orphan appeared", change: func(t *testing.T, ws string) {
			if err := writeFile(filepath.Join(ws, "gen/old/v1/openapi.gen.go"), []byte(Header+"\npackage oldv1\n")); err != nil {
				t.Fatal(err)
			}
		}, gen: "g1", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ws := copyDir(t, "testdata/ws")
			cfg := loadWS(t, ws)
			if UpToDate(cfg, "g1") {
				t.Fatal("up to date before any generation was recorded")
			}
			files, err := Generate(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"contracts/common/v1/common.yaml", "contracts/pets/v1/openapi.yaml"}; !slices.Equal(files[0].Inputs, want) {
				t.Fatalf("inputs = %q, want %q", files[0].Inputs, want)
			}
			if _, err := Write(cfg.Root, cfg.Generate.Out, files); err != nil {
				t.Fatal(err)
			}
			if err := Remember(cfg, "g1", files); err != nil {
				t.Fatal(err)
			}
			tt.change(t, ws)
			if got := UpToDate(cfg, tt.gen); got != tt.want {
				t.Fatalf("UpToDate = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRefChainNames pins the names of the components taken in from another
// file through chains of $refs (an alias of an alias): each after the $ref's
// own target, whatever order kin-openapi resolved the links in and although
// the loader shortens the chains (before, the response took the name of the
// chain's end and the schema that of its first link).
func TestRefChainNames(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	dir := filepath.Join(ws, "contracts", "x", "v1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for p, content := range map[string]string{
		filepath.Join(ws, "go.mod"):       "module example.com/x\n",
		filepath.Join(ws, "keiyaku.yaml"): "version: v1\nmodules:\n  - path: contracts/x/v1\n    package: x\n",
		filepath.Join(dir, "openapi.yaml"): `openapi: 3.0.3
info: {title: chains, version: '1'}
paths:
  /pets:
    get:
      operationId: listPets
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Pet'}
        default: {$ref: 'common.yaml#/components/responses/ProblemAlias'}
components:
  schemas:
    Pet:
      type: object
      required: [id]
      properties:
        id: {$ref: 'common.yaml#/components/schemas/IdAlias'}
`,
		filepath.Join(dir, "common.yaml"): `components:
  responses:
    ProblemAlias: {$ref: '#/components/responses/Problem2'}
    Problem2: {$ref: '#/components/responses/Problem'}
    Problem: {description: problem, content: {application/json: {schema: {type: object}}}}
  schemas:
    IdAlias: {$ref: '#/components/schemas/Id2'}
    Id2: {$ref: '#/components/schemas/Id'}
    Id: {type: string, format: uuid}
`,
	} {
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, err := Generate(t.Context(), loadWS(t, ws))
	if err != nil {
		t.Fatal(err)
	}
	code := string(files[0].Content)
	for _, want := range []string{"type IdAlias = openapi_types.UUID", "Id IdAlias `json:\"id\"`", "type ProblemAliasJSONResponse "} {
		if !strings.Contains(code, want) {
			t.Errorf("generated code lacks %q", want)
		}
	}
}
