package baseline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// maxGitOutput bounds what one short-lived git command may print.
const maxGitOutput = 256 << 20

// repo runs git against one repository. It never runs a shell, never writes
// to the repository and never reads its work tree or index: every command
// it runs reads objects and references only.
type repo struct {
	bin     string // the git binary
	gitDir  string // absolute path of the git directory
	display string // the repository as errors name it
	env     []string
	log     *slog.Logger
}

// gitError is a git command that failed.
type gitError struct {
	args   []string
	code   int
	stderr string
	err    error
}

func (e *gitError) Error() string {
	msg := strings.TrimSpace(e.stderr)
	if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
		msg = strings.TrimSpace(msg[i+1:])
	}
	if msg == "" {
		msg = e.err.Error()
	}
	return fmt.Sprintf("git %s: %s", strings.Join(e.args, " "), msg)
}

func (e *gitError) Unwrap() error { return e.err }

// childEnv returns the environment git runs with: the process environment
// without any GIT_* variable (GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE,
// GIT_CONFIG_PARAMETERS, GIT_OBJECT_DIRECTORY … would redirect or reconfigure
// it), plus settings that keep it from prompting, reading the system
// configuration, taking optional locks, applying replace refs, reading
// pathspec magic or fetching missing objects over the network.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(strings.ToUpper(kv), "GIT_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_OPTIONAL_LOCKS=0",
		"GIT_NO_REPLACE_OBJECTS=1",
		"GIT_LITERAL_PATHSPECS=1",
		"GIT_NO_LAZY_FETCH=1",
		"LC_ALL=C",
	)
	return append(env, extra...)
}

// openRepo finds the git directory of the repository at p (absolute): a
// work tree, its .git folder or file, or a bare repository. It does not look
// in the folders above p, so a plain folder inside some other repository is
// not a repository.
func openRepo(ctx context.Context, bin, p string, log *slog.Logger) (*repo, error) {
	display := p
	if filepath.Base(p) == ".git" {
		display = filepath.Dir(p)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no repository at %s: %w", display, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("open repository %s: %w", display, err)
	}
	st, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", display, err)
	}
	r := &repo{bin: bin, display: display, log: log}
	var env []string
	dir := real
	if st.IsDir() {
		env = childEnv("GIT_CEILING_DIRECTORIES=" + filepath.Dir(real))
	} else {
		// A .git file (a linked work tree or a submodule) points to the
		// git directory; git follows it when it is given as GIT_DIR.
		env = childEnv("GIT_DIR=" + real)
		dir = filepath.Dir(real)
	}
	out, err := r.runEnv(ctx, env, dir, nil, "rev-parse", "--absolute-git-dir")
	if err != nil {
		if ge, ok := errors.AsType[*gitError](err); ok && strings.Contains(ge.stderr, "not a git repository") {
			return nil, fmt.Errorf("%s is not a git repository", display)
		}
		return nil, fmt.Errorf("open repository %s: %w", display, err)
	}
	r.gitDir = strings.TrimSpace(string(out))
	if r.gitDir == "" || !filepath.IsAbs(r.gitDir) {
		return nil, fmt.Errorf("open repository %s: git gave no git directory", display)
	}
	r.env = childEnv("GIT_DIR=" + r.gitDir)
	return r, nil
}

// run runs git with args against the repository, with stdin as its
// standard input, and returns its standard output.
func (r *repo) run(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	return r.runEnv(ctx, r.env, r.gitDir, stdin, args...)
}

func (r *repo) runEnv(ctx context.Context, env []string, dir string, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, r.bin, args...)
	cmd.Env = env
	cmd.Dir = dir
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	stdout := &limitedBuffer{max: maxGitOutput}
	stderr := &limitedBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	r.log.LogAttrs(ctx, slog.LevelDebug, "git", slog.Any("args", args), slog.Duration("took", time.Since(start)), slog.Int("bytes", stdout.buf.Len()))
	if stdout.over {
		return nil, fmt.Errorf("git %s: output larger than %d bytes", strings.Join(args, " "), maxGitOutput)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("git %s: %w", strings.Join(args, " "), ctx.Err())
		}
		ge := &gitError{args: args, code: -1, stderr: stderr.buf.String(), err: err}
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			ge.code = ee.ExitCode()
		}
		return nil, ge
	}
	return stdout.buf.Bytes(), nil
}

// revParse resolves rev to a commit id; ok is false when there is no such
// commit.
func (r *repo) revParse(ctx context.Context, rev string) (commit string, ok bool, err error) {
	if strings.HasPrefix(rev, "-") {
		return "", false, fmt.Errorf("revision %q starts with \"-\"", rev)
	}
	out, err := r.run(ctx, nil, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if err != nil {
		if ge, isGit := errors.AsType[*gitError](err); isGit && ge.code == 1 {
			return "", false, nil
		}
		return "", false, err
	}
	id := strings.TrimSpace(string(out))
	if !isObjectID(id) {
		return "", false, fmt.Errorf("git rev-parse %s: unexpected output %q", rev, id)
	}
	return id, true, nil
}

// resolve finds the commit an input selects: the commit its branch, tag or
// revision names, or with MergeBase the merge base of that commit and
// HEAD.
func (r *repo) resolve(ctx context.Context, in Input) (string, error) {
	commit, err := r.resolveRev(ctx, in)
	if err != nil || !in.MergeBase {
		return commit, err
	}
	head, ok, err := r.revParse(ctx, "HEAD")
	if err != nil {
		return "", err
	}
	if !ok {
		return "", noRevision(fmt.Sprintf("merge_base=true: HEAD of %s names no commit", r.display))
	}
	out, err := r.run(ctx, nil, "merge-base", "--end-of-options", commit, head)
	if err != nil {
		if ge, isGit := errors.AsType[*gitError](err); isGit && ge.code == 1 {
			return "", noRevision(fmt.Sprintf("merge_base=true: %.7s and HEAD (%.7s) of %s have no common ancestor (a shallow clone? fetch with fetch-depth: 0)", commit, head, r.display))
		}
		return "", err
	}
	base := strings.TrimSpace(string(out))
	if !isObjectID(base) {
		return "", fmt.Errorf("git merge-base: unexpected output %q", base)
	}
	return base, nil
}

// resolveRev finds the commit an input's branch, tag or revision names. A
// branch is looked up as a local branch, then as origin's branch (a CI
// checkout often has only that).
func (r *repo) resolveRev(ctx context.Context, in Input) (string, error) {
	var kind, name string
	var candidates []string
	switch {
	case in.Branch != "":
		kind, name = "branch", in.Branch
		candidates = []string{"refs/heads/" + in.Branch, "refs/remotes/origin/" + in.Branch}
	case in.Tag != "":
		kind, name = "tag", in.Tag
		candidates = []string{"refs/tags/" + in.Tag}
	case in.Ref != "":
		kind, name = "revision", in.Ref
		candidates = []string{in.Ref}
	default:
		kind, name = "HEAD", "HEAD"
		candidates = []string{"HEAD"}
	}
	for _, c := range candidates {
		id, ok, err := r.revParse(ctx, c)
		if err != nil {
			return "", err
		}
		if ok {
			return id, nil
		}
	}
	if kind == "HEAD" {
		return "", noRevision(fmt.Sprintf("HEAD of %s names no commit (an empty repository?)", r.display))
	}
	if kind == "revision" {
		// Ask again without --quiet: git says when a short id is ambiguous.
		_, err := r.run(ctx, nil, "rev-parse", "--verify", "--end-of-options", in.Ref+"^{commit}")
		if ge, ok := errors.AsType[*gitError](err); ok && strings.Contains(ge.stderr, "ambiguous") {
			return "", noRevision(fmt.Sprintf("revision %q is ambiguous in %s; give more of the commit id", name, r.display))
		}
	}
	return "", noRevision(fmt.Sprintf("no such %s %q in %s", kind, name, r.display))
}

// noRevisionError is a revision that names no commit. Its message is the
// whole story; it matches ErrNoRevision with errors.Is.
type noRevisionError string

func noRevision(msg string) error { return noRevisionError(msg) }

func (e noRevisionError) Error() string        { return string(e) }
func (e noRevisionError) Is(target error) bool { return target == ErrNoRevision }

// isObjectID reports whether s is a full SHA-1 or SHA-256 object id in
// lowercase hex.
func isObjectID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// limitedBuffer keeps at most max bytes and remembers that more came.
type limitedBuffer struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.buf.Len()+len(p) > b.max {
		b.over = true
		return 0, errors.New("output too large")
	}
	return b.buf.Write(p)
}
