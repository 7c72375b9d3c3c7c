package command

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/exitcode"
)

// TestContractsOnlyRepository pins issue 13's promise for a repository that
// holds contracts and no Go: lint, breaking, export and docs run without a
// go.mod; generate names what it needs; docs outside git points at
// --no-changelog.
func TestContractsOnlyRepository(t *testing.T) {
	t.Parallel()
	ws := workspace(t)
	for _, p := range []string{"go.mod", "gen"} {
		if err := os.RemoveAll(filepath.Join(ws, p)); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(ws, "keiyaku.yaml")

	// Outside git first: docs without a baseline says how to go on.
	out, code := keiyaku(t, "--config", cfg, "docs", "-o", filepath.Join(t.TempDir(), "site"))
	if code != exitcode.Failure || !strings.Contains(out, "--no-changelog") {
		t.Fatalf("docs outside git = %d, want 1 suggesting --no-changelog\n%s", code, out)
	}
	out, code = keiyaku(t, "--config", cfg, "docs", "-o", filepath.Join(t.TempDir(), "site"), "--no-changelog")
	if code != exitcode.OK {
		t.Fatalf("docs --no-changelog without go.mod = %d\n%s", code, out)
	}

	git(t, ws, "init", "-q", "-b", "main")
	git(t, ws, "add", ".")
	git(t, ws, "commit", "-q", "-m", "contracts")
	for _, args := range [][]string{
		{"lint"},
		{"breaking", "--against=" + filepath.Join(ws, ".git") + "#branch=main"},
		{"export", ws, "-o", filepath.Join(t.TempDir(), "dist")},
		// An absolute baseline: the Avro history of the changelog opens
		// relative paths against the working directory, not the workspace.
		{"docs", "-o", filepath.Join(t.TempDir(), "site"), "--changelog-from=" + filepath.Join(ws, ".git") + "#branch=main"},
	} {
		out, code := keiyaku(t, append([]string{"--config", cfg}, args...)...)
		if code != exitcode.OK {
			t.Errorf("keiyaku %s without go.mod = %d, want 0\n%s", args[0], code, out)
		}
	}

	out, code = keiyaku(t, "--config", cfg, "generate")
	if code != exitcode.Failure || !strings.Contains(out, `run "go mod init <module path>" in `+ws) || !strings.Contains(out, "generate.go_module") {
		t.Fatalf("generate without go.mod = %d, want 1 naming go mod init and generate.go_module\n%s", code, out)
	}
}
