package docs

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// TestDocsCommand pins the command's promises on this repository: it writes
// a catalog with the fixed pages and one page per service, a second run
// into the same folder succeeds (the folder holds the marker), a non-empty
// folder of other files is refused, and --no-changelog excludes
// --changelog-from.
func TestDocsCommand(t *testing.T) {
	t.Parallel()
	cfgFile, err := filepath.Abs("../../../../keiyaku.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		prepare func(t *testing.T, out string)
		wantErr string
	}{
		{name: "fresh folder", args: []string{"--no-changelog"}},
		{name: "changelog against itself", args: []string{"--changelog-from", filepath.Dir(cfgFile)}},
		{name: "rewrite a catalog", args: []string{"--no-changelog"}, prepare: func(t *testing.T, out string) {
			mustRun(t, cfgFile, out, "--no-changelog")
		}},
		{name: "foreign folder refused", args: []string{"--no-changelog"}, wantErr: "holds no earlier catalog", prepare: func(t *testing.T, out string) {
			if err := os.WriteFile(filepath.Join(out, "notes.txt"), []byte("mine"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "flags exclude each other", args: []string{"--no-changelog", "--changelog-from", ".git#branch=main"}, wantErr: "exclude each other"},
		{name: "bad baseline", args: []string{"--changelog-from", ".git#branch=.."}, wantErr: "invalid baseline input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			if tt.prepare != nil {
				tt.prepare(t, out)
			}
			_, err := try(t, cfgFile, out, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"index.html", "map.html", "changelog.html", "style.css", "member-v1.html", "reservation-v1.html"} {
				if _, err := os.Stat(filepath.Join(out, name)); err != nil {
					t.Errorf("catalog lacks %s: %v", name, err)
				}
			}
		})
	}
}

func try(t *testing.T, cfgFile, out string, args ...string) (string, error) {
	t.Helper()
	configFile := cfgFile
	cmd := NewCommand("docs", &configFile)
	var buf bytes.Buffer
	cmd.SetOut(&buf)
	cmd.SetErr(&buf)
	cmd.SetArgs(append([]string{"-o", out}, args...))
	err := cmd.ExecuteContext(t.Context())
	return buf.String(), err
}

func mustRun(t *testing.T, cfgFile, out string, args ...string) {
	t.Helper()
	if msg, err := try(t, cfgFile, out, args...); err != nil {
		t.Fatalf("%v\n%s", err, msg)
	}
}

// TestChangelogFindings pins that the changelog page lists the gate's
// findings: against a baseline whose ReservationCreated had one more field
// without a default, the new schema breaks old readers, and the page shows
// that finding as a row naming the field.
func TestChangelogFindings(t *testing.T) {
	t.Parallel()
	repo, err := filepath.Abs("../../../..")
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	if err := os.CopyFS(filepath.Join(base, "contracts"), os.DirFS(filepath.Join(repo, "contracts"))); err != nil {
		t.Fatal(err)
	}
	avsc := filepath.Join(base, "contracts/reservation/v1/avro/ReservationCreated.avsc")
	data, err := os.ReadFile(avsc)
	if err != nil {
		t.Fatal(err)
	}
	old := strings.Replace(string(data), `"fields": [`, `"fields": [{"name": "legacyCode", "type": "string", "doc": "Dropped since."},`, 1)
	if old == string(data) {
		t.Fatal("the test's edit of ReservationCreated.avsc did not apply")
	}
	if err := os.WriteFile(avsc, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	mustRun(t, filepath.Join(repo, "keiyaku.yaml"), out, "--changelog-from", base)
	page, err := os.ReadFile(filepath.Join(out, "changelog.html"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == "tr" && hasClass(n, "finding") {
			var b strings.Builder
			for d := range n.Descendants() {
				if d.Type == html.TextNode {
					b.WriteString(d.Data)
				}
			}
			rows = append(rows, b.String())
		}
	}
	if len(rows) == 0 || !strings.Contains(strings.Join(rows, "\n"), "legacyCode") {
		t.Fatalf("changelog rows = %q, want one naming legacyCode", rows)
	}
}

func hasClass(n *html.Node, class string) bool {
	for _, a := range n.Attr {
		if a.Key == "class" && strings.Contains(" "+a.Val+" ", " "+class+" ") {
			return true
		}
	}
	return false
}
