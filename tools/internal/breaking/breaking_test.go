package breaking

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oasdiff/oasdiff/checker"
	"github.com/oasdiff/oasdiff/diff"
	"github.com/oasdiff/oasdiff/load"

	"github.com/keiyaku/keiyaku/tools/internal/baseline"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/openapi"
	"github.com/keiyaku/keiyaku/tools/internal/report"
)

var update = flag.Bool("update", false, "rewrite testdata/*/want.txt")

// testBreaking compares testdata/<name>/current (a workspace) with
// testdata/<name>/previous (its baseline) and checks the findings, one
// String() per line with the rule, severity, file and line, against
// testdata/<name>/want.txt.
func testBreaking(t *testing.T, name string) []report.Finding {
	t.Helper()
	dir := filepath.Join("testdata", name)
	cfg, err := config.Load(filepath.Join(dir, "current", config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	base, err := baseline.Open(t.Context(), baseline.Input{Path: filepath.Join(dir, "previous")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { base.Close() })
	findings, err := Workspace(t.Context(), cfg, os.DirFS(filepath.Join(dir, "current")), base)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range findings {
		b.WriteString(f.String() + "\n")
	}
	golden := filepath.Join(dir, "want.txt")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return findings
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if b.String() != string(want) {
		t.Errorf("findings differ from %s\ngot:\n%s\nwant:\n%s", golden, b.String(), want)
	}
	return findings
}

// TestWorkspace pins one finding per root cause with its position: a
// property removed from a shared schema is reported once, naming the three
// operations it breaks; a compatible addition reports nothing.
func TestWorkspace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		wantErrors int
		wantOps    int // operations of the first finding
	}{
		{name: "shared-property-removed", wantErrors: 1, wantOps: 3},
		{name: "request-property-required", wantErrors: 1, wantOps: 1},
		{name: "path-removed", wantErrors: 1, wantOps: 1},
		{name: "contract-removed", wantErrors: 1},
		{name: "compatible-addition", wantErrors: 0},
		{name: "avro-field-no-default", wantErrors: 1},
		{name: "avro-field-with-default", wantErrors: 0},
		{name: "asyncapi-topic-moved", wantErrors: 1},
		{name: "asyncapi-message-removed", wantErrors: 1},
		// Consumer-aware: findings name the consumers whose pacts use
		// what changed (reservation reads `status`), or say none does.
		{name: "pact-consumers", wantErrors: 2, wantOps: 1},
		{name: "pact-consumers-avro", wantErrors: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			findings := testBreaking(t, tt.name)
			if got := report.Count(findings, report.Error); got != tt.wantErrors {
				t.Errorf("%d errors, want %d", got, tt.wantErrors)
			}
			for _, f := range findings {
				if f.File == "" || (f.Rule != RuleContractRemoved && f.Line == 0) {
					t.Errorf("finding without a position: %s", f)
				}
			}
			if tt.wantOps > 0 && (len(findings) == 0 || len(findings[0].Operations) != tt.wantOps) {
				t.Errorf("first finding lists %v, want %d operations", findings, tt.wantOps)
			}
		})
	}
}

// TestGroupingLosesNothing pins the grouping promise: every (rule, level,
// operation) that oasdiff reports is in exactly one Keiyaku finding of the
// same severity.
func TestGroupingLosesNothing(t *testing.T) {
	t.Parallel()
	dir := "testdata/shared-property-removed"
	l := openapi.NewLoaderFS(os.DirFS(dir))
	base, err := l.Resolve(t.Context(), "previous/contracts/shop/v1/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rev, err := l.Resolve(t.Context(), "current/contracts/shop/v1/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, sources, err := diff.GetWithOperationsSourcesMap(diff.NewConfig(), &load.SpecInfo{Spec: base}, &load.SpecInfo{Spec: rev})
	if err != nil {
		t.Fatal(err)
	}
	raw := checker.CheckBackwardCompatibilityUntilLevel(checker.NewConfig(checker.GetAllChecks()), d, sources, checker.WARN)
	grouped, err := OpenAPI("previous", base, "current", rev)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) < 3 || len(grouped) >= len(raw) {
		t.Fatalf("fixture should group: %d raw changes, %d findings", len(raw), len(grouped))
	}
	covered := map[string]int{}
	for _, f := range grouped {
		for _, op := range f.Operations {
			covered[f.Rule+"|"+string(f.Severity)+"|"+op]++
		}
	}
	for _, c := range raw {
		k := c.GetId() + "|" + string(severity(c.GetLevel())) + "|" + operation(c)
		if covered[k] != 1 {
			t.Errorf("oasdiff change %s is in %d findings, want 1", k, covered[k])
		}
	}
}

// TestFiles pins the two-file form for each format, and that two files
// of different formats are refused.
func TestFiles(t *testing.T) {
	t.Parallel()
	pair := func(c, file string) (string, string) {
		return filepath.Join("testdata", c, "previous", file), filepath.Join("testdata", c, "current", file)
	}
	tests := []struct {
		name, old, new string
		rule           string
	}{
		{name: "avro", rule: "READER_FIELD_MISSING_DEFAULT_VALUE"},
		{name: "asyncapi", rule: RuleChannelAddressChanged},
		{name: "openapi", rule: "response-required-property-removed"},
	}
	tests[0].old, tests[0].new = pair("avro-field-no-default", "contracts/pets/v1/avro/PetAdopted.avsc")
	tests[1].old, tests[1].new = pair("asyncapi-topic-moved", "contracts/pets/v1/asyncapi.yaml")
	tests[2].old, tests[2].new = pair("shared-property-removed", "contracts/shop/v1/openapi.yaml")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			findings, err := Files(t.Context(), tt.old, tt.new, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(findings) == 0 || findings[0].Rule != tt.rule || findings[0].Severity != report.Error {
				t.Fatalf("findings = %v, want an error %s first", findings, tt.rule)
			}
		})
	}
	if _, err := Files(t.Context(), tests[0].old, tests[1].new, ""); err == nil || !strings.Contains(err.Error(), "same format") {
		t.Errorf("avro against asyncapi: %v, want a same-format error", err)
	}
}

// TestFilesAvroMode pins --avro-compatibility in two-file mode and the
// position of each finding in the new file: a field added without a
// default breaks BACKWARD at its line and column, passes FORWARD, and an
// unknown mode is an error naming the flag.
func TestFilesAvroMode(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "avro-field-no-default")
	old, cur := filepath.Join(dir, "previous/contracts/pets/v1/avro/PetAdopted.avsc"), filepath.Join(dir, "current/contracts/pets/v1/avro/PetAdopted.avsc")
	findings, err := Files(t.Context(), old, cur, "backward")
	if err != nil {
		t.Fatal(err)
	}
	if len(findings) != 1 || findings[0].File != cur || findings[0].Line != 4 || findings[0].Column != 3 || !strings.Contains(findings[0].Message, "counterexample: {") {
		t.Errorf("BACKWARD: %v, want one finding at %s:4:3 with a counterexample", findings, cur)
	}
	if findings, err := Files(t.Context(), old, cur, "FORWARD"); err != nil || len(findings) != 0 {
		t.Errorf("FORWARD: %v, %v; want none", findings, err)
	}
	if _, err := Files(t.Context(), old, cur, "SIDEWAYS"); err == nil || !strings.Contains(err.Error(), "--avro-compatibility") {
		t.Errorf("unknown mode: %v", err)
	}
}
