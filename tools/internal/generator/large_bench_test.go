package generator

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/avroschema"
	"github.com/keiyaku/keiyaku/tools/internal/config"
)

// largeAvro is the synthetic 436 KB, 341-record schema of avroschema's
// testdata/large (the shape of apache/avro's large_schema.avsc, which once
// took 25–33 s and ~3 GB in generate).
const largeAvro = "../avroschema/testdata/large/R1.avsc"

// BenchmarkGenerateLargeAvro loads and generates the Go types of the
// large schema: what `keiyaku generate` does for an avro folder (types),
// and the whole of `keiyaku generate` on a module holding it, the type
// check included (workspace; goal ≤ 2 s and ≤ 300 MB).
func BenchmarkGenerateLargeAvro(b *testing.B) {
	b.Run("types", func(b *testing.B) {
		fsys := os.DirFS("../avroschema/testdata")
		m := config.Module{Path: "contracts/big/v1"}
		b.ReportAllocs()
		for b.Loop() {
			set, err := avroschema.LoadFS(b.Context(), fsys, "large")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := generateAvro(set, m, namer{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("workspace", func(b *testing.B) {
		cfg := loadWS(b, largeAvroWorkspace(b, largeAvro))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Generate(b.Context(), cfg); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// largeAvroWorkspace writes a workspace of one module whose avro folder
// holds the schema file src, and returns its folder.
func largeAvroWorkspace(tb testing.TB, src string) string {
	tb.Helper()
	ws := tb.TempDir()
	dir := filepath.Join(ws, "contracts", "big", "v1", AvroDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	for p, content := range map[string][]byte{
		filepath.Join(dir, filepath.Base(src)): data,
		filepath.Join(ws, "go.mod"):            []byte("module example.com/big\n"),
		filepath.Join(ws, "keiyaku.yaml"):      []byte("version: v1\nmodules:\n  - path: contracts/big/v1\n    package: big\n"),
	} {
		if err := os.WriteFile(p, content, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return ws
}
