package baseline

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fixture is a repository with a history the Open tests select from:
//
//	c1 ── c2 ── c4   main (HEAD)
//	 v1   v1.1   └── c3   feature
type fixture struct {
	r              *testRepo
	c1, c2, c3, c4 string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	r := newTestRepo(t)
	f := &fixture{r: r}
	f.c1 = r.commit("one", map[string]string{"api/contracts/a.yaml": "a1\n", "api/contracts/b.yaml": "b1\n", "README": "r1\n"})
	r.git("tag", "v1.0.0")
	f.c2 = r.commit("two", map[string]string{"api/contracts/a.yaml": "a2\n"})
	r.git("tag", "-a", "-m", "release", "v1.1.0")
	r.git("checkout", "-q", "-b", "feature")
	f.c3 = r.commit("three", map[string]string{"api/contracts/a.yaml": "a3 feature\n"})
	r.git("checkout", "-q", "main")
	f.c4 = r.commit("four", map[string]string{"api/contracts/a.yaml": "a4\n"})
	return f
}

func mustParse(t testing.TB, s string) Input {
	t.Helper()
	in, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return in
}

// TestOpenGit pins how each kind of git input selects its commit: branch,
// lightweight and annotated tag, full and abbreviated id, any revision,
// HEAD, the repository given by its .git folder, its work tree or an
// absolute path, and subdir choosing the workspace folder inside it.
func TestOpenGit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		input      string
		wantCommit string
		wantLabel  string
		file       string
		want       string
	}{
		{".git#branch=main", f.c4, "main@" + f.c4[:7], "api/contracts/a.yaml", "a4\n"},
		{".git#branch=feature", f.c3, "feature@" + f.c3[:7], "api/contracts/a.yaml", "a3 feature\n"},
		{".git#tag=v1.0.0", f.c1, "v1.0.0@" + f.c1[:7], "api/contracts/a.yaml", "a1\n"},
		{".git#tag=v1.1.0", f.c2, "v1.1.0@" + f.c2[:7], "api/contracts/a.yaml", "a2\n"},
		{".git#ref=" + f.c2, f.c2, f.c2[:7], "api/contracts/a.yaml", "a2\n"},
		{".git#ref=" + f.c3[:8], f.c3, f.c3[:7], "api/contracts/a.yaml", "a3 feature\n"},
		{".git#ref=main~2", f.c1, "main~2@" + f.c1[:7], "api/contracts/b.yaml", "b1\n"},
		{".git#ref=v1.1.0", f.c2, "v1.1.0@" + f.c2[:7], "api/contracts/a.yaml", "a2\n"},
		{".git", f.c4, "HEAD@" + f.c4[:7], "README", "r1\n"},
		{".#ref=HEAD", f.c4, "HEAD@" + f.c4[:7], "README", "r1\n"},
		{".git#branch=main,subdir=api", f.c4, "main@" + f.c4[:7], "contracts/a.yaml", "a4\n"},
		{".git#subdir=api/contracts/,tag=v1.0.0", f.c1, "v1.0.0@" + f.c1[:7], "a.yaml", "a1\n"},
		{f.r.dir + "#branch=feature,subdir=./api", f.c3, "feature@" + f.c3[:7], "contracts/a.yaml", "a3 feature\n"},
		{filepath.Join(f.r.dir, ".git") + "#tag=v1.0.0", f.c1, "v1.0.0@" + f.c1[:7], "README", "r1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			t.Parallel()
			b, err := Open(t.Context(), mustParse(t, tt.input), WithDir(f.r.dir))
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if b.Commit() != tt.wantCommit {
				t.Errorf("Commit() = %s, want %s", b.Commit(), tt.wantCommit)
			}
			if b.Label() != tt.wantLabel {
				t.Errorf("Label() = %q, want %q", b.Label(), tt.wantLabel)
			}
			got, err := b.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("ReadFile(%s) = %q, want %q", tt.file, got, tt.want)
			}
		})
	}
}

// TestOpenOriginBranch pins that a branch that exists only as origin's
// (what a CI checkout has) is found.
func TestOpenOriginBranch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	clone := t.TempDir()
	f.r.git("clone", "-q", "--no-local", f.r.dir, clone)
	cr := &testRepo{t: t, dir: clone}
	cr.git("checkout", "-q", "--detach", "HEAD")
	cr.git("branch", "-D", "main")
	b, err := Open(t.Context(), mustParse(t, ".git#branch=feature"), WithDir(clone))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Commit() != f.c3 {
		t.Errorf("Commit() = %s, want origin/feature %s", b.Commit(), f.c3)
	}
}

// TestOpenErrors pins the messages of the inputs Open cannot read: each
// names the input, says what is missing and where, and a missing revision
// wraps ErrNoRevision.
func TestOpenErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dir := f.r.dir
	plain := t.TempDir()
	if err := os.WriteFile(filepath.Join(plain, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	empty := newTestRepo(t)
	tests := []struct {
		input    string
		in       *Input // built by hand instead of parsed
		base     string
		want     string
		noSuchRe bool
	}{
		{input: ".git#branch=nope", base: dir, want: `baseline .git#branch=nope: no such branch "nope" in ` + dir, noSuchRe: true},
		{input: ".git#tag=v9", base: dir, want: `baseline .git#tag=v9: no such tag "v9" in ` + dir, noSuchRe: true},
		{input: ".git#ref=deadbeef", base: dir, want: `baseline .git#ref=deadbeef: no such revision "deadbeef" in ` + dir, noSuchRe: true},
		{input: ".git#ref=main~10", base: dir, want: `baseline .git#ref=main~10: no such revision "main~10" in ` + dir, noSuchRe: true},
		{input: ".git#branch=v1.0.0", base: dir, want: `no such branch "v1.0.0"`, noSuchRe: true},
		{input: ".git#tag=main", base: dir, want: `no such tag "main"`, noSuchRe: true},
		{input: ".git#branch=main,subdir=nope", base: dir, want: `baseline .git#branch=main,subdir=nope: no folder "nope" at main@` + f.c4[:7] + " in " + dir},
		{input: ".git#branch=main,subdir=README", base: dir, want: `no folder "README"`},
		{input: ".git#branch=main", base: plain, want: "baseline .git#branch=main: no repository at " + plain},
		{input: plain + "#branch=main", base: dir, want: plain + " is not a git repository"},
		{input: "api#branch=main", base: dir, want: filepath.Join(dir, "api") + " is not a git repository"},
		{input: ".git", base: empty.dir, want: "HEAD of " + empty.dir + " names no commit", noSuchRe: true},
		{input: "nope", base: dir, want: "baseline nope: open directory: "},
		{in: &Input{Path: ".", Git: true, Ref: "--output=x"}, base: dir, want: `ref "--output=x" starts with "-"`},
		{in: &Input{Path: ".", Git: true, Branch: "a b"}, base: dir, want: `branch "a b": contains ' '`},
		{in: &Input{Path: ".", Subdir: "x"}, base: dir, want: "need a git input"},
		{in: &Input{}, base: dir, want: "no path"},
	}
	for _, tt := range tests {
		name := tt.input
		if tt.in != nil {
			name = tt.in.String()
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var in Input
			if tt.in != nil {
				in = *tt.in
			} else {
				in = mustParse(t, tt.input)
			}
			b, err := Open(t.Context(), in, WithDir(tt.base))
			if err == nil {
				b.Close()
				t.Fatalf("Open(%s) succeeded, want error %q", name, tt.want)
			}
			if strings.HasPrefix(tt.want, "baseline ") && tt.noSuchRe {
				if err.Error() != tt.want {
					t.Errorf("error = %q, want exactly %q", err, tt.want)
				}
			} else if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
			if got := errors.Is(err, ErrNoRevision); got != tt.noSuchRe {
				t.Errorf("errors.Is(err, ErrNoRevision) = %v, want %v", got, tt.noSuchRe)
			}
		})
	}
}

// TestOpenOptions pins that bad options are errors, not panics, and that
// a missing git binary is reported.
func TestOpenOptions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name string
		opt  Option
		want string
	}{
		{"empty git", WithGit(""), "WithGit: empty git binary"},
		{"missing git", WithGit("/nonexistent/git"), "find git"},
		{"zero size", WithMaxFileSize(0), "WithMaxFileSize: 0 is not a positive size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := Open(t.Context(), mustParse(t, ".git"), WithDir(f.r.dir), tt.opt)
			if err == nil {
				b.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
		})
	}
}

// TestHostileRefs pins that a revision is never run by a shell nor read as
// an option: shell metacharacters are refused or looked up literally, and
// the marker file the command would create never appears.
func TestHostileRefs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	marker := filepath.Join(t.TempDir(), "pwned")
	inputs := []string{
		".git#branch=main;rm -rf /",
		".git#ref=main;rm -rf /",
		".git#ref=main;touch " + marker,
		".git#ref=$(touch " + marker + ")",
		".git#branch=$(touch " + marker + ")",
		".git#ref=`touch " + marker + "`",
		".git#ref=main|touch " + marker,
		".git#ref=main&&touch " + marker,
		".git#ref=--output=" + marker,
		".git#branch=--output=" + marker,
		".git#tag=-c",
		".git#ref=main --output=" + marker,
		".git#ref=HEAD:README",
	}
	for _, s := range inputs {
		t.Run(s, func(t *testing.T) {
			t.Parallel()
			in, err := Parse(s)
			if err == nil {
				var b *Baseline
				b, err = Open(t.Context(), in, WithDir(f.r.dir))
				if err == nil {
					b.Close()
					t.Fatalf("Open(%q) succeeded", s)
				}
			}
			t.Logf("%s → %v", s, err)
		})
	}
	t.Cleanup(func() {
		for _, p := range []string{marker, filepath.Join(f.r.dir, "pwned"), filepath.Join(f.r.dir, ".git", "pwned")} {
			if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s exists (or cannot be checked: %v): a command ran", p, err)
			}
		}
	})
}

// TestWorkTreeUntouched pins that a baseline reads the commit, not the
// dirty work tree nor the index, and changes neither: git status, the
// index file and HEAD are the same after opening, reading and walking
// history.
func TestWorkTreeUntouched(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.r
	r.write(map[string]string{"api/contracts/a.yaml": "dirty\n", "untracked.yaml": "u\n"})
	r.write(map[string]string{"api/contracts/b.yaml": "staged\n"})
	r.git("add", "api/contracts/b.yaml")
	statusBefore := r.git("status", "--porcelain")
	indexBefore, err := os.ReadFile(filepath.Join(r.dir, ".git", "index"))
	if err != nil {
		t.Fatal(err)
	}
	headBefore := r.git("symbolic-ref", "HEAD")

	for _, input := range []string{".git", ".git#branch=feature", ".git#tag=v1.0.0,subdir=api"} {
		b, err := Open(t.Context(), mustParse(t, input), WithDir(r.dir))
		if err != nil {
			t.Fatal(err)
		}
		if err := fs.WalkDir(b.FS(), ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			_, err = fs.ReadFile(b.FS(), p)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Commits(t.Context(), []string{"."}); err != nil {
			t.Fatal(err)
		}
		if input == ".git" {
			for p, want := range map[string]string{"api/contracts/a.yaml": "a4\n", "api/contracts/b.yaml": "b1\n"} {
				got, err := b.ReadFile(p)
				if err != nil || string(got) != want {
					t.Errorf("ReadFile(%s) = %q, %v; want the committed %q", p, got, err, want)
				}
			}
			if _, err := b.ReadFile("untracked.yaml"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("untracked file read from the work tree: err = %v", err)
			}
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}

	if got := r.git("status", "--porcelain"); got != statusBefore {
		t.Errorf("git status changed:\n%s\nwant\n%s", got, statusBefore)
	}
	indexAfter, err := os.ReadFile(filepath.Join(r.dir, ".git", "index"))
	if err != nil {
		t.Fatal(err)
	}
	if string(indexAfter) != string(indexBefore) {
		t.Error("the index file changed")
	}
	if got := r.git("symbolic-ref", "HEAD"); got != headBefore {
		t.Errorf("HEAD = %s, want %s", got, headBefore)
	}
}

// TestGitEnvIgnored pins that GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE and
// GIT_CONFIG_* in the process environment do not redirect the baseline to
// another repository. It sets environment variables, so it cannot run in
// parallel.
func TestGitEnvIgnored(t *testing.T) {
	f := newFixture(t)
	other := newTestRepo(t)
	otherC := other.commit("other", map[string]string{"README": "other\n"})
	t.Setenv("GIT_DIR", filepath.Join(other.dir, ".git"))
	t.Setenv("GIT_WORK_TREE", other.dir)
	t.Setenv("GIT_INDEX_FILE", filepath.Join(other.dir, ".git", "index"))
	t.Setenv("GIT_OBJECT_DIRECTORY", filepath.Join(other.dir, ".git", "objects"))
	t.Setenv("GIT_CONFIG_COUNT", "1")
	t.Setenv("GIT_CONFIG_KEY_0", "core.fsmonitor")
	t.Setenv("GIT_CONFIG_VALUE_0", "touch "+filepath.Join(f.r.dir, "pwned"))

	b, err := Open(t.Context(), mustParse(t, ".git#branch=main"), WithDir(f.r.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Commit() != f.c4 || b.Commit() == otherC {
		t.Errorf("Commit() = %s, want %s of the named repository", b.Commit(), f.c4)
	}
	got, err := b.ReadFile("README")
	if err != nil || string(got) != "r1\n" {
		t.Errorf("ReadFile(README) = %q, %v; want r1", got, err)
	}
	if _, err := os.Stat(filepath.Join(f.r.dir, "pwned")); err == nil {
		t.Error("a command from GIT_CONFIG_* ran")
	}
}

// TestReadFileErrors pins the errors of ReadFile: absent files wrap
// fs.ErrNotExist, invalid and escaping paths fs.ErrInvalid, and folders,
// symbolic links and files over the size limit are refused.
func TestReadFileErrors(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.write(map[string]string{"ws/big.bin": strings.Repeat("x", 2000), "ws/small": "s"})
	if err := os.Symlink("small", filepath.Join(r.dir, "ws", "link")); err != nil {
		t.Fatal(err)
	}
	r.commit("files", nil)
	tests := []struct {
		name   string
		wantIs error
		want   string
	}{
		{"absent", fs.ErrNotExist, ""},
		{"small/x", nil, ""}, // git: does not exist; os: not a directory
		{"../README", fs.ErrInvalid, ""},
		{"/etc/passwd", fs.ErrInvalid, ""},
		{"./small", fs.ErrInvalid, ""},
		{".", nil, "is a directory"},
		{"big.bin", errTooLarge, "over the limit of 1000"},
		{"link", nil, "symbolic link"},
	}
	for _, input := range []string{".git#subdir=ws", "ws"} {
		b, err := Open(t.Context(), mustParse(t, input), WithDir(r.dir), WithMaxFileSize(1000))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		for _, tt := range tests {
			t.Run(input+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				if input == "ws" && tt.name == "link" {
					t.Skip("a directory baseline follows links inside it")
				}
				_, err := b.ReadFile(tt.name)
				if err == nil {
					t.Fatalf("ReadFile(%q) succeeded", tt.name)
				}
				if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
					t.Errorf("error = %v, want errors.Is %v", err, tt.wantIs)
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error = %v, want it to contain %q", err, tt.want)
				}
				// The reader stays in step after a refused read.
				if got, err := b.ReadFile("small"); err != nil || string(got) != "s" {
					t.Errorf("ReadFile(small) after %s = %q, %v", tt.name, got, err)
				}
			})
		}
	}
}

// TestDirBaseline pins a directory baseline: it reads the folder as it is,
// refuses links that leave it, and has no commit.
func TestDirBaseline(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "contracts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "contracts", "a.yaml"), []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "escape")); err != nil {
		t.Fatal(err)
	}
	b, err := Open(t.Context(), mustParse(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Commit() != "" || b.Label() != dir {
		t.Errorf("Commit, Label = %q, %q; want \"\", %q", b.Commit(), b.Label(), dir)
	}
	got, err := b.ReadFile("contracts/a.yaml")
	if err != nil || string(got) != "a\n" {
		t.Errorf("ReadFile = %q, %v", got, err)
	}
	if _, err := b.ReadFile("escape"); err == nil {
		t.Error("a link leaving the directory was followed")
	}
}

// TestConcurrentReads pins that one baseline serves reads from many
// goroutines (run with -race).
func TestConcurrentReads(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	b, err := Open(t.Context(), mustParse(t, ".git#tag=v1.1.0"), WithDir(f.r.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 50 {
				p := []string{"api/contracts/a.yaml", "api/contracts/b.yaml"}[i%2]
				want := []string{"a2\n", "b1\n"}[i%2]
				got, err := b.ReadFile(p)
				if err != nil || string(got) != want {
					t.Errorf("ReadFile(%s) = %q, %v", p, got, err)
					return
				}
				if _, err := fs.Stat(b.FS(), p); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestClose pins that Close is idempotent and that reads after it fail
// instead of hanging.
func TestClose(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	b, err := Open(t.Context(), mustParse(t, ".git"), WithDir(f.r.dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.ReadFile("README"); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := b.ReadFile("api/contracts/b.yaml"); !errors.Is(err, errClosed) {
		t.Errorf("ReadFile after Close: err = %v, want errClosed", err)
	}
}

// TestOpenRepositoryForms pins the ways a repository can be named: a bare
// repository (with options or alone, at its HEAD), a linked work tree (its
// folder, or its .git file, which points to the git directory), and a
// relative path resolved against WithDir.
func TestOpenRepositoryForms(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	parent := t.TempDir()
	bare := filepath.Join(parent, "mirror.git")
	f.r.git("clone", "-q", "--bare", f.r.dir, bare)
	wt := filepath.Join(parent, "wt")
	f.r.git("worktree", "add", "-q", wt, "feature")
	tests := []struct {
		input, base, want string
	}{
		{bare + "#branch=main", "", f.c4},
		{bare, "", f.c4},
		{"mirror.git#tag=v1.0.0", parent, f.c1},
		{"mirror.git", parent, f.c4},
		{wt + "#ref=HEAD", "", f.c3},
		{filepath.Join(wt, ".git") + "#ref=HEAD", "", f.c3},
		{"wt/.git", parent, f.c3},
		{"../wt#branch=main", filepath.Join(parent, "mirror.git"), f.c4},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			t.Parallel()
			opts := []Option{}
			if tt.base != "" {
				opts = append(opts, WithDir(tt.base))
			}
			b, err := Open(t.Context(), mustParse(t, tt.input), opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if b.Commit() != tt.want {
				t.Errorf("Commit() = %s, want %s", b.Commit(), tt.want)
			}
		})
	}
}

// TestOpenMergeBase pins merge_base=true: with main moved on after the
// branch was cut, the baseline is the commit the branch left main at, not
// main's tip; it works when main exists only as origin/main; and two
// unrelated histories are a clear error.
func TestOpenMergeBase(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	cut := r.commit("v1", map[string]string{"a": "1\n"})
	r.git("checkout", "-q", "-b", "pr")
	r.commit("pr change", map[string]string{"b": "pr\n"})
	r.git("checkout", "-q", "main")
	tip := r.commit("main moved on", map[string]string{"a": "2\n"})
	r.git("checkout", "-q", "pr")

	b, err := Open(t.Context(), mustParse(t, ".git#branch=main,merge_base=true"), WithDir(r.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Commit() != cut {
		t.Errorf("merge base = %.7s, want %.7s (main's tip is %.7s)", b.Commit(), cut, tip)
	}
	if got, _ := b.ReadFile("a"); string(got) != "1\n" {
		t.Errorf("a = %q at the merge base, want 1", got)
	}
	if !strings.HasPrefix(b.Label(), "merge-base(main, HEAD)@") {
		t.Errorf("label %q", b.Label())
	}

	clone := t.TempDir()
	r.git("clone", "-q", "--no-local", "--branch", "pr", r.dir, clone)
	cr := &testRepo{t: t, dir: clone}
	if _, err := cr.tryGit("rev-parse", "--verify", "--quiet", "refs/heads/main"); err == nil {
		t.Fatal("the clone has a local main; the test wants origin/main only")
	}
	ob, err := Open(t.Context(), mustParse(t, ".git#branch=main,merge_base=true"), WithDir(clone))
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	if ob.Commit() != cut {
		t.Errorf("merge base with origin/main = %.7s, want %.7s", ob.Commit(), cut)
	}

	r.git("checkout", "-q", "--orphan", "alone")
	r.commit("unrelated", map[string]string{"c": "c\n"})
	_, err = Open(t.Context(), mustParse(t, ".git#branch=main,merge_base=true"), WithDir(r.dir))
	if !errors.Is(err, ErrNoRevision) || !strings.Contains(err.Error(), "no common ancestor") {
		t.Errorf("unrelated histories: %v", err)
	}
}
