package deps_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/command"
	"github.com/keiyaku/keiyaku/tools/internal/exitcode"
)

// repoRoot is the root of this repository, from the package folder.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../../../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// git runs git in dir and returns its trimmed output.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main", "-c", "tag.gpgSign=false", "-c", "commit.gpgSign=false"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// keiyaku runs the command tree as main does and returns the output and
// the exit code main would use.
func keiyaku(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	cmd := command.New("keiyaku")
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(t.Context())
	if err != nil {
		out.WriteString("error: " + err.Error() + "\n")
	}
	return out.String(), exitcode.Of(err)
}

// provider makes a provider's repository in dir: a copy of this
// repository's contracts and keiyaku.yaml, tagged v1.0.0, then a commit
// that renames the member operation's path (a breaking change) tagged
// v2.0.0, published as the bare repository dir/provider.git. It returns the
// two commits.
func provider(t *testing.T, dir string) (v1, v2 string) {
	t.Helper()
	work := filepath.Join(dir, "provider")
	if err := os.CopyFS(filepath.Join(work, "contracts"), os.DirFS(filepath.Join(repoRoot(t), "contracts"))); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(repoRoot(t), "keiyaku.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(work, "keiyaku.yaml"), string(cfg))
	writeFile(t, filepath.Join(work, "go.mod"), "module example.com/provider\n\ngo 1.26\n")
	git(t, work, "init", "-q")
	git(t, work, "add", "-A")
	git(t, work, "commit", "-q", "-m", "v1")
	git(t, work, "tag", "v1.0.0")
	v1 = git(t, work, "rev-parse", "HEAD")
	spec := filepath.Join(work, "contracts/member/v1/openapi.yaml")
	data, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, spec, strings.Replace(string(data), "  /members/{memberId}:", "  /people/{memberId}:", 1))
	git(t, work, "commit", "-q", "-am", "v2: members are people now")
	git(t, work, "tag", "v2.0.0")
	v2 = git(t, work, "rev-parse", "HEAD")
	git(t, dir, "clone", "-q", "--bare", work, filepath.Join(dir, "provider.git"))
	return v1, v2
}

func writeFile(t *testing.T, file, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// consumerMain serves the provider's generated strict server on a test
// server and calls it with the generated client.
const consumerMain = `package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"

	memberv1 "example.com/consumer/gen/member/v1"
)

type members struct{}

func (members) GetMember(_ context.Context, req memberv1.GetMemberRequestObject) (memberv1.GetMemberResponseObject, error) {
	return memberv1.GetMember200JSONResponse{Id: req.MemberId, Name: "Hanako Yamada", Email: "hanako@example.com",
		Status: memberv1.MemberStatusActive, Tier: memberv1.MemberTierGold}, nil
}

func main() {
	srv := httptest.NewServer(memberv1.HandlerFromMux(memberv1.NewStrictHandler(members{}, nil), http.NewServeMux()))
	defer srv.Close()
	c, err := memberv1.NewClientWithResponses(srv.URL)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var id memberv1.MemberId
	id[15] = 7
	resp, err := c.GetMemberWithResponse(context.Background(), id)
	if err != nil || resp.JSON200 == nil {
		fmt.Fprintln(os.Stderr, "call:", err, resp)
		os.Exit(1)
	}
	fmt.Println(resp.StatusCode(), resp.JSON200.Id, resp.JSON200.Name, resp.JSON200.Tier)
}
`

// TestConsumer pins the consumer team's whole path, offline against a
// local bare repository: deps update pins the tag's commit and digest in
// keiyaku.lock (deterministically), generate turns the locked member
// contracts into gen/member/v1 of the consumer's own Go module, whose client
// and strict server build and talk over HTTP; deps diff reports what a bump
// would break; a tampered copy and a moved tag are hard errors (exit 1)
// naming the dep and both digests or commits, and the lock never changes
// behind the user's back.
func TestConsumer(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("this test builds a consumer module and needs the go command: %v", err)
	}
	dir := t.TempDir()
	v1, v2 := provider(t, dir)
	cons := filepath.Join(dir, "consumer")
	// The generated code needs only the runtime module (README, "Modules").
	writeFile(t, filepath.Join(cons, "go.mod"), "module example.com/consumer\n\ngo 1.26\n\nrequire github.com/keiyaku/keiyaku/runtime v0.0.0\n\nreplace github.com/keiyaku/keiyaku/runtime => "+filepath.Join(repoRoot(t), "runtime")+"\n")
	writeFile(t, filepath.Join(cons, "keiyaku.yaml"), `version: v1
deps:
  - name: member
    source: ../provider.git
    ref: v1.0.0
    module: contracts/member/v1
`)
	writeFile(t, filepath.Join(cons, "main.go"), consumerMain)
	cfg := filepath.Join(cons, "keiyaku.yaml")
	lockFile := filepath.Join(cons, "keiyaku.lock")

	out, code := keiyaku(t, "--config", cfg, "generate")
	if code != exitcode.Failure || !strings.Contains(out, "no keiyaku.lock") {
		t.Fatalf("generate before deps update = %d, want 1 asking for deps update\n%s", code, out)
	}

	out, code = keiyaku(t, "--config", cfg, "deps", "update")
	if code != exitcode.OK || !strings.Contains(out, "member contracts/member/v1 v1.0.0 → "+v1[:7]) {
		t.Fatalf("deps update = %d\n%s", code, out)
	}
	lock, err := os.ReadFile(lockFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"commit: " + v1, "tag: v1.0.0", "digest: sha256:", "path: contracts/shared/v1/problem.yaml", "path: contracts/reservation/v1/avro/ReservationCreated.avsc"} {
		if !strings.Contains(string(lock), want) {
			t.Errorf("keiyaku.lock lacks %q\n%s", want, lock)
		}
	}
	out, code = keiyaku(t, "--config", cfg, "deps", "update")
	again, _ := os.ReadFile(lockFile)
	if code != exitcode.OK || !strings.Contains(out, "(unchanged)") || !bytes.Equal(lock, again) {
		t.Fatalf("second deps update = %d, want the same lock bytes\n%s", code, out)
	}

	out, code = keiyaku(t, "--config", cfg, "generate")
	if code != exitcode.OK || !strings.Contains(out, "gen/member/v1/openapi.gen.go") || !strings.Contains(out, "gen/member/v1/events.gen.go") {
		t.Fatalf("generate = %d\n%s", code, out)
	}
	if st, err := os.Stat(filepath.Join(cons, ".keiyaku/deps/member/contracts/member/v1/openapi.yaml")); err != nil || st.Mode().Perm()&0o222 != 0 {
		t.Fatalf("the copy of the dep is not read-only: %v %v", st.Mode(), err)
	}

	// The consumer's module graph is a part of this repository's, so its
	// go.sum (copied) verifies every module; they come from the module cache
	// or, on a fresh machine, from the configured GOPROXY — as they would for
	// a consumer team.
	sums, err := os.ReadFile(filepath.Join(repoRoot(t), "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(cons, "go.sum"), string(sums))
	run := exec.CommandContext(t.Context(), goBin, "run", ".")
	run.Dir = cons
	run.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "GOTOOLCHAIN=local")
	var stderr bytes.Buffer
	run.Stderr = &stderr // "go: downloading …" on a fresh module cache
	got, err := run.Output()
	if err != nil || strings.TrimSpace(string(got)) != "200 00000000-0000-0000-0000-000000000007 Hanako Yamada gold" {
		t.Fatalf("go run of the consumer: %v\n%s%s", err, got, stderr.Bytes())
	}

	out, code = keiyaku(t, "--config", cfg, "deps", "diff", "member", "--to", "v2.0.0")
	if code != exitcode.Findings || !strings.Contains(out, "/members/{memberId}") || !strings.Contains(out, "from v1.0.0@"+v1[:7]+" to v2.0.0@"+v2[:7]) {
		t.Fatalf("deps diff to the breaking v2 = %d, want 100 naming the removed path\n%s", code, out)
	}
	out, code = keiyaku(t, "--config", cfg, "deps", "diff", "member", "--to", "v1.0.0")
	if code != exitcode.OK || !strings.Contains(out, "0 findings") {
		t.Fatalf("deps diff to the locked tag = %d\n%s", code, out)
	}

	// A tampered copy: generate refuses it, naming the file and both digests.
	copied := filepath.Join(cons, ".keiyaku/deps/member/contracts/member/v1/openapi.yaml")
	if err := os.Chmod(copied, 0o644); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(copied)
	writeFile(t, copied, strings.Replace(string(data), "Hanako", "Mallory", 1))
	out, code = keiyaku(t, "--config", cfg, "generate")
	if code != exitcode.Failure || !strings.Contains(out, `dep "member": file .keiyaku/deps/member/contracts/member/v1/openapi.yaml: keiyaku.lock has sha256 `) || strings.Count(out, "sha256 ") != 2 {
		t.Fatalf("generate with a tampered copy = %d, want 1 naming the dep, the file and both digests\n%s", code, out)
	}
	if err := os.RemoveAll(filepath.Join(cons, ".keiyaku/deps/member")); err != nil {
		t.Fatal(err)
	}
	if out, code = keiyaku(t, "--config", cfg, "generate"); code != exitcode.OK {
		t.Fatalf("generate after removing the tampered copy = %d, want the copy made again from the cache\n%s", code, out)
	}

	// A moved tag: deps update refuses it and keeps the lock; generate too.
	git(t, dir, "--git-dir", filepath.Join(dir, "provider.git"), "tag", "-f", "v1.0.0", v2)
	out, code = keiyaku(t, "--config", cfg, "deps", "update")
	if code != exitcode.Failure || !strings.Contains(out, `dep "member": tag "v1.0.0" moved: keiyaku.lock has commit `+v1+", found commit "+v2) {
		t.Fatalf("deps update after the tag moved = %d, want 1 naming both commits\n%s", code, out)
	}
	if after, _ := os.ReadFile(lockFile); !bytes.Equal(lock, after) {
		t.Fatalf("a failed deps update changed keiyaku.lock:\n%s", after)
	}
	out, code = keiyaku(t, "--config", cfg, "generate")
	if code != exitcode.Failure || !strings.Contains(out, `tag "v1.0.0" moved`) {
		t.Fatalf("generate after the tag moved = %d, want 1\n%s", code, out)
	}
}

// TestDirectorySource pins that an exported folder works as a dep source
// without git, and that a directory that changed after locking is refused
// once the copy has to be made again.
func TestDirectorySource(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	provider(t, dir)
	exported := filepath.Join(dir, "exported")
	out, code := keiyaku(t, "--config", filepath.Join(dir, "provider/keiyaku.yaml"), "export", filepath.Join(dir, "provider.git")+"#tag=v1.0.0", "-o", exported, "--module", "contracts/member/v1")
	if code != exitcode.OK || !strings.Contains(out, "exported 7 files of 1 modules from v1.0.0@") {
		t.Fatalf("export = %d\n%s", code, out)
	}
	cons := filepath.Join(dir, "consumer")
	writeFile(t, filepath.Join(cons, "go.mod"), "module example.com/consumer\n\ngo 1.26\n")
	writeFile(t, filepath.Join(cons, "keiyaku.yaml"), "version: v1\ndeps:\n  - name: member\n    source: ../exported\n    module: contracts/member/v1\n")
	cfg := filepath.Join(cons, "keiyaku.yaml")
	if out, code := keiyaku(t, "--config", cfg, "deps", "update"); code != exitcode.OK || !strings.Contains(out, "(directory) → -") {
		t.Fatalf("deps update = %d\n%s", code, out)
	}
	man, err := os.ReadFile(filepath.Join(exported, "keiyaku-manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	lock, err := os.ReadFile(filepath.Join(cons, "keiyaku.lock"))
	if err != nil {
		t.Fatal(err)
	}
	digest := func(s string) string {
		i := strings.Index(s, "sha256:")
		return s[i : i+len("sha256:")+64]
	}
	if digest(string(man)) != digest(string(lock)) {
		t.Fatalf("manifest digest %s != lock digest %s", digest(string(man)), digest(string(lock)))
	}
	if out, code := keiyaku(t, "--config", cfg, "generate"); code != exitcode.OK {
		t.Fatalf("generate = %d\n%s", code, out)
	}
	shared := filepath.Join(exported, "contracts/shared/v1/problem.yaml")
	data, err := os.ReadFile(shared)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, shared, string(data)+"# changed after the lock\n")
	if err := os.RemoveAll(filepath.Join(cons, ".keiyaku/deps/member")); err != nil {
		t.Fatal(err)
	}
	out, code = keiyaku(t, "--config", cfg, "generate")
	if code != exitcode.Failure || !strings.Contains(out, `dep "member": content digest of the source directory: keiyaku.lock has `+digest(string(lock))) {
		t.Fatalf("generate from a changed directory = %d\n%s", code, out)
	}
}
