package verify_test

import (
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/verify"
)

// BenchmarkVerifyReferenceServices measures one keiyaku verify of all
// four reference services (real handlers, SQLite, loopback HTTP),
// reporting the operations and requests checked per run.
func BenchmarkVerifyReferenceServices(b *testing.B) {
	all := contracts(b)
	services := startServices(b)
	var ops, cases int
	for b.Loop() {
		ops, cases = 0, 0
		for _, s := range services {
			res, err := verify.HTTP(b.Context(), all[s.name].Doc, s.url)
			if err != nil {
				b.Fatal(err)
			}
			ops += res.Operations
			cases += res.Cases
		}
	}
	b.ReportMetric(float64(ops), "operations")
	b.ReportMetric(float64(cases), "requests")
}
