package baseline

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// testRepo is a real git repository in a temporary folder, built by running
// git the way a person would.
type testRepo struct {
	t   testing.TB
	dir string

	mu   sync.Mutex
	tick int // commit clock, so commit times increase
}

// gitTestEnv is the environment the tests run git in: no GIT_* variable
// from outside, no system or global configuration.
func gitTestEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	return append(env, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
}

func newTestRepo(t testing.TB) *testRepo {
	t.Helper()
	r := &testRepo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	r.git("config", "user.name", "Keiyaku Test")
	r.git("config", "user.email", "test@keiyaku.invalid")
	r.git("config", "commit.gpgsign", "false")
	r.git("config", "tag.gpgsign", "false")
	return r
}

// git runs git in the repository and returns its trimmed output; a failure
// ends the test.
func (r *testRepo) git(args ...string) string {
	r.t.Helper()
	out, err := r.tryGit(args...)
	if err != nil {
		r.t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func (r *testRepo) tryGit(args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	r.mu.Lock()
	r.tick++
	date := fmt.Sprintf("GIT_COMMITTER_DATE=%d +0000", 1700000000+r.tick*60)
	adate := fmt.Sprintf("GIT_AUTHOR_DATE=%d +0000", 1700000000+r.tick*60)
	r.mu.Unlock()
	cmd.Env = append(gitTestEnv(), date, adate)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w: %s", err, stderr.String())
	}
	return strings.TrimSpace(stdout.String()), nil
}

// write writes files (path → content) into the work tree.
func (r *testRepo) write(files map[string]string) {
	r.t.Helper()
	for p, content := range files {
		full := filepath.Join(r.dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
}

// commit writes files, stages everything and commits; it returns the new
// commit id.
func (r *testRepo) commit(msg string, files map[string]string) string {
	r.t.Helper()
	r.write(files)
	r.git("add", "-A")
	r.git("commit", "-q", "--allow-empty", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

// mv moves a file with git mv, writes files and commits.
func (r *testRepo) mv(from, to, msg string, files map[string]string) string {
	r.t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(r.dir, filepath.FromSlash(to))), 0o755); err != nil {
		r.t.Fatal(err)
	}
	r.git("mv", from, to)
	return r.commit(msg, files)
}
