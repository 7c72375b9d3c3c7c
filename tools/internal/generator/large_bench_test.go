package generator

import (
	"os"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/avroschema"
	"github.com/keiyaku/keiyaku/tools/internal/config"
)

// BenchmarkGenerateLargeAvro loads and generates the Go types of the
// synthetic 436 KB, 341-record schema of avroschema's testdata/large (the
// shape of apache/avro's large_schema.avsc, which once took 25–33 s and
// ~3 GB in generate): what `keiyaku generate` does for an avro folder.
func BenchmarkGenerateLargeAvro(b *testing.B) {
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
}
