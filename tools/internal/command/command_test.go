package command

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/exitcode"
)

// workspace copies the generator's test workspace (one contract with a
// relative $ref into a shared file) to a temp dir.
func workspace(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS("../generator/testdata/ws")); err != nil {
		t.Fatal(err)
	}
	return dst
}

// keiyaku runs the command tree as main does and returns the output and
// the exit code main would use.
func keiyaku(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	cmd := New("keiyaku")
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(t.Context())
	if err != nil {
		out.WriteString("error: " + err.Error() + "\n")
	}
	return out.String(), exitcode.Of(err)
}

// TestExitCodes pins the exit-code contract: 0 ok, 1 usage or load error,
// 100 findings — for generate, generate --check and lint.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	ws := workspace(t)
	cfg := filepath.Join(ws, "keiyaku.yaml")

	out, code := keiyaku(t, "--config", cfg, "generate", "--check")
	if code != exitcode.OK || !strings.Contains(out, "6 generated files up to date") {
		t.Fatalf("check on a fresh workspace = %d\n%s", code, out)
	}

	if err := os.Remove(filepath.Join(ws, "gen/pets/v1/openapi.gen.go")); err != nil {
		t.Fatal(err)
	}
	out, code = keiyaku(t, "--config", cfg, "generate", "--check")
	if code != exitcode.Findings || !strings.Contains(out, "gen/pets/v1/openapi.gen.go: missing (from contracts/pets/v1/openapi.yaml)") {
		t.Fatalf("check with a missing file = %d, want 100 naming it\n%s", code, out)
	}

	out, code = keiyaku(t, "--config", cfg, "generate")
	line := regexp.MustCompile(`(?m)^wrote +gen/pets/v1/openapi\.gen\.go \(from contracts/pets/v1/openapi\.yaml\) in [0-9.]+(µs|ms|s)$`)
	if code != exitcode.OK || !line.MatchString(out) {
		t.Fatalf("generate = %d, want one line per target with its time\n%s", code, out)
	}
	out, code = keiyaku(t, "--config", cfg, "generate", "--no-cache")
	if code != exitcode.OK || !strings.Contains(out, "unchanged gen/pets/v1/openapi.gen.go") {
		t.Fatalf("second generate = %d, want unchanged\n%s", code, out)
	}

	out, code = keiyaku(t, "--config", cfg, "lint")
	if code != exitcode.OK {
		t.Fatalf("lint on a clean workspace = %d\n%s", code, out)
	}

	// A finding: an error response that is not problem+json.
	spec := filepath.Join(ws, "contracts/common/v1/common.yaml")
	data, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(spec, bytes.Replace(data, []byte("application/problem+json"), []byte("application/json"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = keiyaku(t, "--config", cfg, "lint")
	if code != exitcode.Findings || !strings.Contains(out, "contracts/common/v1/common.yaml:20:5: error ERROR_RESPONSE_PROBLEM_JSON: GET /pets/{petId} response 404 has application/json") {
		t.Fatalf("lint with a finding = %d, want 100 with the finding\n%s", code, out)
	}

	// A load error: a contract that does not parse.
	if err := os.WriteFile(spec, []byte("openapi: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = keiyaku(t, "--config", cfg, "lint")
	if code != exitcode.Failure || !strings.Contains(out, "contracts/common/v1/common.yaml:") {
		t.Fatalf("lint of unparsable YAML = %d, want 1 naming the file\n%s", code, out)
	}

	if out, code = keiyaku(t, "generate", "--no-such-flag"); code != exitcode.Failure {
		t.Fatalf("unknown flag = %d, want 1\n%s", code, out)
	}
	if out, code = keiyaku(t, "--config", filepath.Join(t.TempDir(), "keiyaku.yaml"), "lint"); code != exitcode.Failure || !strings.Contains(out, "no keiyaku.yaml here") {
		t.Fatalf("missing config = %d, want 1 saying so\n%s", code, out)
	}
}

// TestHelp pins that every command documents itself with an example.
func TestHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {"generate", "--help"}, {"lint", "--help"}, {"breaking", "--help"}} {
		out, code := keiyaku(t, args...)
		if code != exitcode.OK || !strings.Contains(out, "Examples:\n  keiyaku ") {
			t.Errorf("keiyaku %s = %d, want 0 with an example\n%s", strings.Join(args, " "), code, out)
		}
	}
}

// git runs git in dir with a fixed identity and fails the test on error.
func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestBreakingAgainstGit pins the gate end to end on a real git
// repository: clean against its own main (0), a breaking edit in the
// working tree (100, with the finding at its line), a missing branch (1),
// and the two-file form.
func TestBreakingAgainstGit(t *testing.T) {
	t.Parallel()
	ws := workspace(t)
	cfg := filepath.Join(ws, "keiyaku.yaml")
	git(t, ws, "init", "-q", "-b", "main")
	git(t, ws, "add", ".")
	git(t, ws, "commit", "-q", "-m", "contracts")

	against := "--against=" + filepath.Join(ws, ".git") + "#branch=main"
	out, code := keiyaku(t, "--config", cfg, "breaking", against)
	if code != exitcode.OK || !strings.Contains(out, "0 findings against main@") {
		t.Fatalf("breaking against itself = %d\n%s", code, out)
	}

	spec := filepath.Join(ws, "contracts/pets/v1/openapi.yaml")
	data, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	// Drop "kind" from the response: clients reading it break.
	edited := strings.Replace(string(data), "required: [id, name, kind]", "required: [id, name]", 1)
	edited = strings.Replace(edited, "        kind:\n          type: string\n          enum: [cat, dog]\n", "", 1)
	if edited == string(data) {
		t.Fatal("fixture edit did not apply")
	}
	if err := os.WriteFile(spec, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = keiyaku(t, "--config", cfg, "breaking", against)
	if code != exitcode.Findings || !regexp.MustCompile(`contracts/pets/v1/openapi\.yaml:\d+:\d+: error response-required-property-removed: .*kind.* in GET /pets/\{petId\}`).MatchString(out) {
		t.Fatalf("breaking after removing a response property = %d, want 100 with the finding\n%s", code, out)
	}
	out, code = keiyaku(t, "--config", cfg, "breaking", against, "--format", "github-actions")
	if code != exitcode.Findings || !strings.HasPrefix(out, "::error file=contracts/pets/v1/openapi.yaml,line=") {
		t.Fatalf("github-actions output = %d\n%s", code, out)
	}

	out, code = keiyaku(t, "--config", cfg, "breaking", "--against="+filepath.Join(ws, ".git")+"#branch=nope")
	if code != exitcode.Failure || !strings.Contains(out, `no such branch "nope"`) {
		t.Fatalf("missing branch = %d, want 1 naming it\n%s", code, out)
	}

	old := filepath.Join(t.TempDir(), "old.yaml")
	if err := os.WriteFile(old, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// The old file $refs ../../common/v1/common.yaml, which is not below
	// its folder: a clear load error, exit 1.
	if out, code = keiyaku(t, "breaking", "--against", old, spec); code != exitcode.Failure || !strings.Contains(out, "common.yaml") {
		t.Fatalf("two files with a $ref out of the folder = %d\n%s", code, out)
	}
}
