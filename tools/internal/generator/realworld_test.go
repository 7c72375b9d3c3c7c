package generator

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
)

// realWorld is the folder of the official AsyncAPI 3.0 and 3.1 examples
// (asyncapi/spec, Apache-2.0; source line in its README.md).
const realWorld = "../asyncapi/testdata/real-world"

// TestRealWorldGenerate generates the events of every official AsyncAPI
// example that loads, each as the contract of a module of a scratch
// workspace, and type-checks the result: what is Kafka is generated, JSON
// Schema payloads included (typed Go structs and a JSON event type), the
// rest (MQTT, WebSocket, AMQP channels, addresses with parameters) is left
// out and listed by EventsSkipped — never code that does not compile,
// never an error for a valid document.
func TestRealWorldGenerate(t *testing.T) {
	t.Parallel()
	var docs []string
	err := filepath.WalkDir(realWorld, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yml") || d.Name() == "asyncapi.yaml") && !strings.Contains(p, "adeo-") {
			docs = append(docs, filepath.ToSlash(strings.TrimPrefix(p, realWorld+"/")))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) < 40 {
		t.Fatalf("only %d examples", len(docs))
	}
	// One workspace holding the examples as they are; a module per folder.
	ws := t.TempDir()
	if err := os.CopyFS(filepath.Join(ws, "contracts"), os.DirFS(realWorld)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, "go.mod"), []byte("module example.com/rw\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := "version: v1\nmodules:\n"
	seen := map[string]bool{}
	for _, d := range docs {
		dir := path.Join("contracts", path.Dir(d))
		if !seen[dir] {
			seen[dir] = true
			conf += "  - path: " + dir + "\n    package: rw\n"
		}
	}
	if err := os.WriteFile(filepath.Join(ws, "keiyaku.yaml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := loadWS(t, ws)
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "source", nil)
	skipped := 0
	// The JSON-only documents whose Kafka channels generate typed JSON
	// event types (they were skipped as "JSON Schema payload" before), with
	// a type each must declare.
	jsonTyped := map[string]string{
		"asyncapi-3.0/oneof-asyncapi.yml":              "type ObjectWithKey struct",
		"asyncapi-3.1/oneof-asyncapi.yml":              "type ObjectWithKey struct",
		"asyncapi-3.0/not-asyncapi.yml":                "type TestSchema struct",
		"asyncapi-3.0/anyof-asyncapi.yml":              "type TestMessages = json.RawMessage",
		"asyncapi-3.0/operation-security-asyncapi.yml": "type AuthorizationRevocationData struct",
		"asyncapi-3.1/operation-security-asyncapi.yml": "type AuthorizationRevocationData struct",
	}
	for _, d := range docs {
		file := path.Join("contracts", d)
		doc, err := asyncapi.Load(t.Context(), ws, file)
		if err != nil {
			t.Errorf("%s: %v", d, err)
			continue
		}
		m, _ := cfg.Module(path.Dir(file))
		src, err := generateEvents(cfg, m, doc, namer{})
		if err != nil {
			t.Errorf("%s: generate: %v", d, err)
			continue
		}
		for _, s := range EventsSkipped(doc) {
			if strings.Contains(s.Why, "JSON Schema") {
				t.Errorf("%s: %s skipped: %s", d, s.What, s.Why)
			}
			if !s.Untyped {
				skipped++
			}
		}
		if want, ok := jsonTyped[d]; ok && (!strings.Contains(string(src), want) || !strings.Contains(string(src), "ContentType: events.ContentTypeJSON")) {
			t.Errorf("%s: no typed JSON event (%q) in\n%s", d, want, src)
		}
		f, err := parser.ParseFile(fset, d, src, 0)
		if err != nil {
			t.Errorf("%s: %v", d, err)
			continue
		}
		conf := types.Config{Importer: imp}
		if _, err := conf.Check("rw", fset, []*ast.File{f}, nil); err != nil {
			t.Errorf("%s: generated code does not type-check: %v\n%s", d, err, src)
		}
	}
	if skipped == 0 {
		t.Error("nothing skipped: the examples hold MQTT and WebSocket channels")
	}
}
