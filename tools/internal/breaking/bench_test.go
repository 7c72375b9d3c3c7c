package breaking

import (
	"os"
	"path/filepath"
	"testing"
)

// stripeDir holds two Stripe OpenAPI releases (3.9 MB each) beside the
// checkout, in the team's shared test data; the benchmark skips without it.
const stripeDir = "../../../../shared/testdata/stripe"

// BenchmarkStripe measures "keiyaku breaking --against OLD NEW" on the
// Stripe pair in-process and reports the findings (one line each in text
// output) and the error findings.
func BenchmarkStripe(b *testing.B) {
	if _, err := os.Stat(stripeDir); err != nil {
		b.Skip("no Stripe pair: ", err)
	}
	old, cur := filepath.Join(stripeDir, "spec3.2022-02-11.json"), filepath.Join(stripeDir, "spec3.2022-02-24.json")
	var n, errs int
	for b.Loop() {
		findings, err := Files(b.Context(), old, cur, "")
		if err != nil {
			b.Fatal(err)
		}
		n = len(findings)
		errs = 0
		for _, f := range findings {
			if f.Severity == "error" {
				errs++
			}
		}
	}
	b.ReportMetric(float64(n), "findings")
	b.ReportMetric(float64(errs), "errors")
}
