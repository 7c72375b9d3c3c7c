package generator

import (
	"path/filepath"
	"testing"
)

// repoBench copies the repository's own workspace to a temp dir: the
// benchmarks run on the real contracts.
func repoBench(b *testing.B) string {
	b.Helper()
	ws := b.TempDir()
	for _, p := range []string{"keiyaku.yaml", "go.mod", "contracts", "gen"} {
		src := filepath.Join("../../..", p)
		if err := copyTree(src, filepath.Join(ws, p)); err != nil {
			b.Fatal(err)
		}
	}
	return ws
}

// BenchmarkGenerateFull measures loading, bundling and generating every
// contract of the repository and comparing with gen/ (what --check does).
func BenchmarkGenerateFull(b *testing.B) {
	cfg := loadWS(b, repoBench(b))
	for b.Loop() {
		files, err := Generate(b.Context(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Check(cfg.Root, cfg.Generate.Out, files); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGenerateNoOp measures the no-op path of generate: deciding from
// the cache record that nothing changed.
func BenchmarkGenerateNoOp(b *testing.B) {
	cfg := loadWS(b, repoBench(b))
	files, err := Generate(b.Context(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := Remember(cfg, "bench", files); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if !UpToDate(cfg, "bench") {
			b.Fatal("not up to date")
		}
	}
}
