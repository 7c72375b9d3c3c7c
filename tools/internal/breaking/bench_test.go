package breaking

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oasdiff/oasdiff/checker"
	"github.com/oasdiff/oasdiff/diff"
	"github.com/oasdiff/oasdiff/load"

	"github.com/keiyaku/keiyaku/tools/internal/baseline"
	"github.com/keiyaku/keiyaku/tools/internal/config"
)

// stripeDir holds two Stripe OpenAPI releases (3.9 MB each) beside the
// checkout (or beside the folder of worktrees), in the team's shared test
// data; what uses it skips without it.
var stripeDir = func() string {
	for _, d := range []string{"../../../../shared/testdata/stripe", "../../../../../shared/testdata/stripe"} {
		if _, err := os.Stat(d); err == nil {
			return d
		}
	}
	return "../../../../shared/testdata/stripe"
}()

// BenchmarkStripe measures "keiyaku breaking --against OLD NEW" on the
// Stripe pair in-process and reports the findings (one line each in text
// output) and the error findings; oasdiff is oasdiff's own load, diff and
// check of the same pair, for comparison in the same run.
func BenchmarkStripe(b *testing.B) {
	if _, err := os.Stat(stripeDir); err != nil {
		b.Skip("no Stripe pair: ", err)
	}
	old, cur := filepath.Join(stripeDir, "spec3.2022-02-11.json"), filepath.Join(stripeDir, "spec3.2022-02-24.json")
	b.Run("keiyaku", func(b *testing.B) {
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
	})
	b.Run("oasdiff", func(b *testing.B) {
		var n int
		for b.Loop() {
			loader := openapi3.NewLoader()
			base, err := load.NewSpecInfo(loader, load.NewSource(old))
			if err != nil {
				b.Fatal(err)
			}
			rev, err := load.NewSpecInfo(loader, load.NewSource(cur))
			if err != nil {
				b.Fatal(err)
			}
			d, sources, err := diff.GetWithOperationsSourcesMap(diff.NewConfig(), base, rev)
			if err != nil {
				b.Fatal(err)
			}
			n = len(checker.CheckBackwardCompatibilityUntilLevel(checker.NewConfig(checker.GetAllChecks()), d, sources, checker.WARN))
		}
		b.ReportMetric(float64(n), "changes")
	})
}

// BenchmarkAvroHistory200 measures the production history path on a
// subject changed in 200 commits (a field with a default added in each):
// list the commits, read the contracts at each one (Baseline.At), keep
// the versions, check the working tree FULL_TRANSITIVE against all 200.
func BenchmarkAvroHistory200(b *testing.B) {
	w := newGitWorkspace(b, "")
	fields := []string{fieldID}
	for i := range 200 {
		fields = append(fields, fmt.Sprintf(`{"name": "f%d", "doc": "F.", "type": "int", "default": 0}`, i))
		w.write(stayFile, record("example.stays.v1", "Stay", "", fields...))
		w.commit(fmt.Sprint("v", i))
	}
	w.write(stayFile, record("example.stays.v1", "Stay", "", append(fields, `{"name": "last", "doc": "F.", "type": "int", "default": 0}`)...))
	cfg, err := config.Load(filepath.Join(w.dir, config.FileName))
	if err != nil {
		b.Fatal(err)
	}
	base, err := baseline.Open(b.Context(), baseline.Input{Path: ".git", Git: true, Branch: "main"}, baseline.WithDir(w.dir))
	if err != nil {
		b.Fatal(err)
	}
	defer base.Close()
	for b.Loop() {
		findings, err := Avro(b.Context(), cfg, os.DirFS(w.dir), base)
		if err != nil || len(findings) != 0 {
			b.Fatalf("findings %v, err %v", findings, err)
		}
	}
}
