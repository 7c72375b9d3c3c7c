package linter

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/config"
)

// BenchmarkLintLargeAvro lints a module whose avro folder holds the
// synthetic 436 KB, 341-record schema of avroschema's testdata/large (the
// shape of apache/avro's large_schema.avsc, which once took 25–33 s and
// ~3 GB): the rules and the in-memory generation lint runs (goal ≤ 2 s
// and ≤ 300 MB).
func BenchmarkLintLargeAvro(b *testing.B) {
	ws := b.TempDir()
	dir := filepath.Join(ws, "contracts", "big", "v1", "avro")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile("../avroschema/testdata/large/R1.avsc")
	if err != nil {
		b.Fatal(err)
	}
	for p, content := range map[string][]byte{
		filepath.Join(dir, "R1.avsc"):     data,
		filepath.Join(ws, "go.mod"):       []byte("module example.com/big\n"),
		filepath.Join(ws, "keiyaku.yaml"): []byte("version: v1\nmodules:\n  - path: contracts/big/v1\n    package: big\n"),
	} {
		if err := os.WriteFile(p, content, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	cfg, err := config.Load(filepath.Join(ws, config.FileName))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(b.Context(), cfg); err != nil {
			b.Fatal(err)
		}
	}
}
