package asyncapi_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
	"github.com/keiyaku/keiyaku/tools/internal/diag"
)

// FuzzLoad feeds arbitrary bytes as the asyncapi.yaml of a workspace that
// also holds an Avro schema folder and a second YAML file to $ref. It pins
// that Load never panics and that every failure is a positioned
// *diag.Error naming a file.
func FuzzLoad(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*/*/asyncapi.yaml")
	if err != nil {
		f.Fatal(err)
	}
	seeds = append(seeds, "testdata/good/asyncapi.yaml", filepath.Join(repoRoot, "contracts/reservation/v1/asyncapi.yaml"))
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	avsc, err := os.ReadFile("testdata/bad/avro-unknown-type/avro/Created.avsc")
	if err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile("testdata/good/shared/messages.yaml")
	if err != nil {
		f.Fatal(err)
	}
	// One workspace per fuzzing process: the fuzz function runs
	// sequentially within a process, so only the document is rewritten.
	base := f.TempDir()
	ws := filepath.Join(base, "ws")
	for name, content := range map[string][]byte{
		"avro/Created.avsc":    []byte(`{"type": "record", "name": "Created", "namespace": "t.v1", "fields": [{"name": "id", "type": "string"}]}`),
		"avro/Broken.avsc":     avsc,
		"shared/messages.yaml": good,
		"../outside.yaml":      []byte("Created:\n  payload:\n    type: string\n"),
	} {
		p := filepath.Join(ws, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(ws, "asyncapi.yaml"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		doc, err := asyncapi.Load(t.Context(), ws, "asyncapi.yaml")
		if err == nil {
			if doc == nil || !slices.Contains(asyncapi.Versions, doc.AsyncAPI) {
				t.Fatalf("no error and document %+v", doc)
			}
			return
		}
		var de *diag.Error
		if !errors.As(err, &de) || de.File == "" {
			t.Fatalf("error %T without a file: %v", err, err)
		}
	})
}
