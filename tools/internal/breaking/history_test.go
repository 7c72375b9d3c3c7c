package breaking

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/baseline"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/report"
)

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func write(t *testing.T, file, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const schemaV1 = `{"type": "record", "name": "Stay", "namespace": "example.stays.v1", "doc": "A stay.",
 "fields": [{"name": "id", "doc": "Id.", "type": "string"}]}`

const schemaV2 = `{"type": "record", "name": "Stay", "namespace": "example.stays.v1", "doc": "A stay.",
 "fields": [{"name": "id", "doc": "Id.", "type": "string"},
            {"name": "nights", "doc": "Nights.", "type": "int", "default": 1}]}`

// v3 drops the default: v3 reads v2's data (it has nights) but not v1's.
const schemaV3 = `{"type": "record", "name": "Stay", "namespace": "example.stays.v1", "doc": "A stay.",
 "fields": [{"name": "id", "doc": "Id.", "type": "string"},
            {"name": "nights", "doc": "Nights.", "type": "int"}]}`

// TestAvroHistoryTransitive pins the history semantics on a real git
// repository: v1 and v2 committed, v3 in the working tree. BACKWARD
// checks v3 against v2 only and passes; BACKWARD_TRANSITIVE checks it
// against every version reachable from the baseline and finds that v3
// cannot read v1's records.
func TestAvroHistoryTransitive(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	schema := filepath.Join(ws, "contracts/stays/v1/avro/Stay.avsc")
	write(t, filepath.Join(ws, "go.mod"), "module example.com/stays\n")
	git(t, ws, "init", "-q", "-b", "main")
	write(t, schema, schemaV1)
	git(t, ws, "add", ".")
	git(t, ws, "commit", "-q", "-m", "v1")
	write(t, schema, schemaV2)
	git(t, ws, "commit", "-q", "-am", "v2")
	write(t, schema, schemaV3)

	for _, tt := range []struct {
		mode   string
		errors int
	}{{"BACKWARD", 0}, {"BACKWARD_TRANSITIVE", 1}, {"FULL", 0}, {"FULL_TRANSITIVE", 1}, {"NONE", 0}} {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()
			cfg, err := config.Parse(filepath.Join(ws, config.FileName), []byte(
				"version: v1\nmodules:\n  - path: contracts/stays/v1\n    service: stays\nbreaking:\n  avro:\n    compatibility: "+tt.mode+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			in, err := baseline.Parse(filepath.Join(ws, ".git") + "#branch=main")
			if err != nil {
				t.Fatal(err)
			}
			base, err := baseline.Open(t.Context(), in)
			if err != nil {
				t.Fatal(err)
			}
			defer base.Close()
			findings, err := Avro(t.Context(), cfg, os.DirFS(ws), base)
			if err != nil {
				t.Fatal(err)
			}
			if got := report.Count(findings, report.Error); got != tt.errors {
				t.Fatalf("%s: %d errors, want %d: %v", tt.mode, got, tt.errors, findings)
			}
			for _, f := range findings {
				if f.Rule != "READER_FIELD_MISSING_DEFAULT_VALUE" || f.Line != 3 || len(f.Versions) != 2 || !strings.Contains(f.Message, "nights") {
					t.Errorf("finding = %+v, want READER_FIELD_MISSING_DEFAULT_VALUE at the nights field (line 3) naming both versions", f)
				}
			}
		})
	}
}

// TestAvroHistoryFiveVersions pins that every distinct committed version
// is in the history (a revert to an earlier content counts once) and that
// a change compatible with all of them passes FULL_TRANSITIVE.
func TestAvroHistoryFiveVersions(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	schema := filepath.Join(ws, "contracts/stays/v1/avro/Stay.avsc")
	git(t, ws, "init", "-q", "-b", "main")
	fields := `{"name": "id", "doc": "Id.", "type": "string"}`
	for i, extra := range []string{"", "a", "b", "c", "d"} {
		if extra != "" {
			fields += `, {"name": "` + extra + `", "doc": "X.", "type": ["null", "string"], "default": null}`
		}
		write(t, schema, `{"type": "record", "name": "Stay", "namespace": "example.stays.v1", "doc": "A stay.", "fields": [`+fields+`]}`)
		git(t, ws, "add", ".")
		git(t, ws, "commit", "-q", "-m", "v"+string(rune('1'+i)))
	}
	write(t, schema, `{"type": "record", "name": "Stay", "namespace": "example.stays.v1", "doc": "A stay.", "fields": [`+fields+
		`, {"name": "e", "doc": "X.", "type": ["null", "string"], "default": null}]}`)
	in, err := baseline.Parse(filepath.Join(ws, ".git") + "#branch=main")
	if err != nil {
		t.Fatal(err)
	}
	base, err := baseline.Open(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	history, truncated, err := avroHistory(t.Context(), base, "contracts/stays/v1/avro")
	if err != nil || truncated {
		t.Fatalf("history: %v (truncated %v)", err, truncated)
	}
	if len(history) != 5 {
		t.Fatalf("history has %d versions, want 5", len(history))
	}
	cfg, err := config.Parse("keiyaku.yaml", []byte("version: v1\nmodules:\n  - path: contracts/stays/v1\n    service: stays\n"))
	if err != nil {
		t.Fatal(err)
	}
	findings, err := Avro(t.Context(), cfg, os.DirFS(ws), base)
	if err != nil || len(findings) != 0 {
		t.Fatalf("a compatible sixth version: %v %v", findings, err)
	}
}
