package breaking

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
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
		// Three values added to one enum are one finding listing them.
		{name: "enum-values-added", wantErrors: 1, wantOps: 2},
		// A shared component two modules use: one finding, both operations.
		{name: "shared-component-two-documents", wantErrors: 1, wantOps: 2},
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
		// reservation reads `status` (broken) but not `tier` (not broken).
		{name: "pact-consumers", wantErrors: 3, wantOps: 1},
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

// checkGrouping asserts the grouping invariant that holds on real data:
// every change oasdiff reports is covered by a finding of its rule and
// severity that lists its operation and keeps its text (as a variant, or
// as the message), and every finding covers at least one change. A change
// may be covered by more than one finding: oasdiff reports one change at
// several places when a schema is reached through several paths.
func checkGrouping(t *testing.T, raw checker.Changes, grouped []report.Finding) {
	t.Helper()
	l := checker.NewDefaultLocalizer()
	used := make([]bool, len(grouped))
	for _, c := range raw {
		text, op := c.GetUncolorizedText(l), operation(c)
		covered := false
		for i, f := range grouped {
			if f.Rule != c.GetId() || f.Severity != severity(c.GetLevel()) || (op != "" && !slices.Contains(f.Operations, op)) {
				continue
			}
			if slices.Contains(f.Variants, text) || strings.Contains(f.Message, shortenPaths(text, f.Path != "")) {
				covered, used[i] = true, true
			}
		}
		if !covered {
			t.Errorf("oasdiff change lost: %s %s %s", c.GetId(), op, text)
		}
	}
	for i, f := range grouped {
		if !used[i] {
			t.Errorf("finding covers no oasdiff change: %s", f)
		}
	}
}

// rawChanges is what oasdiff's checker reports at warning level and up.
func rawChanges(t *testing.T, base, rev *openapi3.T) checker.Changes {
	t.Helper()
	d, sources, err := diff.GetWithOperationsSourcesMap(diff.NewConfig(), &load.SpecInfo{Spec: base}, &load.SpecInfo{Spec: rev})
	if err != nil {
		t.Fatal(err)
	}
	return checker.CheckBackwardCompatibilityUntilLevel(checker.NewConfig(checker.GetAllChecks()), d, sources, checker.WARN)
}

// TestGroupingLosesNothing pins the grouping invariant on a fixture that
// groups (a shared property removed, reached by three operations).
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
	raw := rawChanges(t, base, rev)
	grouped, err := OpenAPI("previous", base, "current", rev, func(isBase bool, name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) })
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) < 3 || len(grouped) >= len(raw) {
		t.Fatalf("fixture should group: %d raw changes, %d findings", len(raw), len(grouped))
	}
	checkGrouping(t, raw, grouped)
}

// TestStripe checks the grouping invariant on real data, the two Stripe
// releases of the team's shared test data (3.9 MB each, not copied into
// the repository), and pins the findings' places and folded enums in
// testdata/stripe.txt (-update rewrites it) and their length: no line
// longer than maxLine. It is skipped where the files are absent, in
// -short mode, and under -race, where loading them takes minutes.
func TestStripe(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(stripeDir); err != nil {
		t.Skip("no Stripe pair in the shared test data: ", err)
	}
	if testing.Short() || raceEnabled {
		t.Skip("the Stripe pair takes about 30 s of CPU (minutes under -race)")
	}
	old, cur := filepath.Join(stripeDir, "spec3.2022-02-11.json"), filepath.Join(stripeDir, "spec3.2022-02-24.json")
	findings, err := Files(t.Context(), old, cur, "")
	if err != nil {
		t.Fatal(err)
	}
	l := openapi.NewLoaderFS(os.DirFS(stripeDir))
	base, err := l.Resolve(t.Context(), "spec3.2022-02-11.json")
	if err != nil {
		t.Fatal(err)
	}
	rev, err := l.Resolve(t.Context(), "spec3.2022-02-24.json")
	if err != nil {
		t.Fatal(err)
	}
	checkGrouping(t, rawChanges(t, base, rev), findings)
	var b strings.Builder
	for _, f := range findings {
		line := f.String()
		if n := utf8.RuneCountInString(line); n > maxLine {
			t.Errorf("line of %d characters: %s", n, line)
		}
		b.WriteString(line + "\n")
	}
	golden := filepath.Join("testdata", "stripe.txt")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("Stripe findings differ from %s\ngot:\n%s", golden, b.String())
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

// TestChangeDeepInRefChain pins that a change at the end of a long chain of
// $refs crossing two files (which the loader shortens for kin-openapi) is
// reported, at the changed definition, and that nothing else is.
func TestChangeDeepInRefChain(t *testing.T) {
	t.Parallel()
	const links = 300
	chain := func(required string) string {
		dir := t.TempDir()
		root := &strings.Builder{}
		other := &strings.Builder{}
		root.WriteString("openapi: 3.0.3\ninfo: {title: chain, version: '1'}\npaths:\n  /x:\n    get:\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {$ref: '#/components/schemas/S0'}\ncomponents:\n  schemas:\n")
		other.WriteString("components:\n  schemas:\n")
		for i := range links {
			if i%2 == 0 {
				fmt.Fprintf(root, "    S%d: {$ref: 'other.yaml#/components/schemas/S%d'}\n", i, i+1)
			} else {
				fmt.Fprintf(other, "    S%d: {$ref: 'openapi.yaml#/components/schemas/S%d'}\n", i, i+1)
			}
		}
		fmt.Fprintf(root, "    S%d:\n      type: object\n      required: [%s]\n      properties: {id: {type: string}, name: {type: string}}\n", links, required)
		for name, b := range map[string]*strings.Builder{"openapi.yaml": root, "other.yaml": other} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return filepath.Join(dir, "openapi.yaml")
	}
	findings, err := Files(t.Context(), chain("id, name"), chain("id"), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(findings) != 1 || findings[0].Rule != "response-property-became-optional" || findings[0].Severity != report.Error {
		t.Fatalf("findings = %v, want one error response-property-became-optional", findings)
	}
	// The changed name in "required: [id, name]".
	if got, want := fmt.Sprintf("%s:%d:%d", findings[0].File, findings[0].Line, findings[0].Column), fmt.Sprintf("openapi.yaml:%d:22", 16+links/2); got != want {
		t.Errorf("finding at %s, want %s (the changed definition)", got, want)
	}
}
