// Package deps pulls the contract modules of other workspaces (the deps of
// keiyaku.yaml) at pinned versions: [Update] resolves each dependency's ref
// to a commit, records the commit and a SHA-256 digest of the module's
// files in keiyaku.lock and puts a read-only copy of them below
// .keiyaku/deps/<name>/, laid out as in the provider's workspace; [Sync]
// makes that copy match the lock before generation, refusing any
// difference; [Diff] reports what moving a dependency to another ref would
// break.
//
// A git source (a URL, or a path to a repository, bare or not) is fetched
// into a bare cache repository .keiyaku/deps/<name>.git with the git
// binary, run with an argument list, never through a shell; every read of
// it goes through package baseline. A source without a ref is a plain
// directory, such as the output of "keiyaku export". Only [Update] writes
// keiyaku.lock.
package deps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/keiyaku/keiyaku/tools/internal/baseline"
	"github.com/keiyaku/keiyaku/tools/internal/breaking"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/export"
	"github.com/keiyaku/keiyaku/tools/internal/report"
)

// Option configures [Update], [Sync] and [Diff].
type Option func(*options)

type options struct {
	git string
	log *slog.Logger
}

// WithGit sets the git binary to run, a path or a name looked up in PATH,
// overriding the default "git".
func WithGit(bin string) Option { return func(o *options) { o.git = bin } }

// WithLogger sets the logger git commands are reported to (at debug
// level), overriding the default, which discards everything.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

func newOptions(opts []Option) (options, error) {
	o := options{git: "git"}
	for _, opt := range opts {
		opt(&o)
	}
	if o.git == "" {
		return o, errors.New("WithGit: empty git binary")
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

func (o options) baseline() []baseline.Option {
	return []baseline.Option{baseline.WithGit(o.git), baseline.WithLogger(o.log)}
}

// MismatchError reports that a dependency is not what keiyaku.lock pins: a
// file of the copy below .keiyaku/deps changed, a tag moved to another
// commit, or the content at the locked commit does not have the locked
// digest. It is never repaired silently.
type MismatchError struct {
	// Dep names the dependency.
	Dep string
	// What names what differs, e.g. `tag "v1.0.0"` or a file.
	What string
	// Locked is what keiyaku.lock has; Found is what was found.
	Locked, Found string
	// Hint says what to do.
	Hint string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("dep %q: %s: keiyaku.lock has %s, found %s; %s", e.Dep, e.What, e.Locked, e.Found, e.Hint)
}

// Change is what [Update] did to one dependency.
type Change struct {
	// Old is the entry keiyaku.lock had, nil for a new dependency.
	Old *Locked
	// New is the entry it has now.
	New Locked
}

// Update resolves every dependency of cfg, puts a copy of its module below
// .keiyaku/deps/<name>/ and writes keiyaku.lock; it is the only function
// that writes the lock, which it writes only when every dependency
// resolved. A git source is fetched first (all branches and tags). A ref is
// looked up as a tag, then a branch, then a commit id. A tag that the lock
// already pins to another commit is a [MismatchError]: released tags must
// not move. Dependencies no longer in keiyaku.yaml leave the lock.
func Update(ctx context.Context, cfg *config.Config, opts ...Option) ([]Change, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	old, err := ReadLock(cfg.Root)
	if err != nil && !errors.Is(err, ErrNoLock) {
		return nil, err
	}
	lock := Lock{Version: LockVersion}
	var changes []Change
	for _, d := range cfg.Deps {
		e, err := update(ctx, cfg.Root, d, old.Dep(d.Name), o)
		if err != nil {
			return nil, err
		}
		lock.Deps = append(lock.Deps, e)
		changes = append(changes, Change{Old: old.Dep(d.Name), New: e})
	}
	data, err := lock.Marshal()
	if err != nil {
		return nil, err
	}
	if err := export.WriteFile(filepath.Join(cfg.Root, LockFile), data, 0o644); err != nil {
		return nil, err
	}
	return changes, nil
}

func update(ctx context.Context, root string, d config.Dep, prev *Locked, o options) (Locked, error) {
	if d.Git() {
		if err := fetch(ctx, root, d, o); err != nil {
			return Locked{}, err
		}
	}
	b, kind, err := open(ctx, root, d, d.Ref, o)
	if err != nil {
		return Locked{}, err
	}
	defer b.Close()
	e := Locked{Name: d.Name, Source: d.Source, Ref: d.Ref, Module: d.Module, Subdir: d.Subdir, Commit: b.Commit()}
	switch kind {
	case "tag":
		e.Tag = d.Ref
	case "branch":
		e.Branch = d.Ref
	}
	if e.Files, err = moduleFiles(ctx, b, d); err != nil {
		return Locked{}, err
	}
	e.Digest = export.Digest(e.Files)
	if prev != nil && sameSpec(*prev, d) && e.Commit != "" {
		switch {
		case prev.Tag != "" && prev.Tag == e.Tag && prev.Commit != e.Commit:
			return Locked{}, &MismatchError{Dep: d.Name, What: fmt.Sprintf("tag %q moved", e.Tag), Locked: "commit " + prev.Commit, Found: "commit " + e.Commit,
				Hint: "a released tag must not move: ask the provider why, and pin ref to a new tag or a commit id once you trust it"}
		case prev.Commit == e.Commit && prev.Digest != e.Digest:
			return Locked{}, &MismatchError{Dep: d.Name, What: "content digest of commit " + e.Commit, Locked: prev.Digest, Found: e.Digest,
				Hint: "the same commit gave other files; check .keiyaku/deps and the source"}
		}
	}
	if err := materialise(root, d, b.FS(), e); err != nil {
		return Locked{}, err
	}
	return e, nil
}

// Sync makes the copy of every dependency below .keiyaku/deps match
// keiyaku.lock, for generation: a missing copy is made from the cache (a
// git source missing from the cache is fetched), an existing one is
// checked file by file. Any difference — a changed, added or removed file,
// a tag that now names another commit than the locked one, content at the
// locked commit with another digest — is a [MismatchError]; a dependency of
// keiyaku.yaml that the lock does not pin as written is an error asking for
// "keiyaku deps update". Sync never writes keiyaku.lock. Without deps it
// does nothing.
func Sync(ctx context.Context, cfg *config.Config, opts ...Option) error {
	if len(cfg.Deps) == 0 {
		return nil
	}
	o, err := newOptions(opts)
	if err != nil {
		return err
	}
	lock, err := ReadLock(cfg.Root)
	if err != nil {
		return err
	}
	for _, d := range cfg.Deps {
		e := lock.Dep(d.Name)
		switch {
		case e == nil:
			return fmt.Errorf("dep %q is in keiyaku.yaml but not in keiyaku.lock; run \"keiyaku deps update\"", d.Name)
		case !sameSpec(*e, d):
			return fmt.Errorf("dep %q: keiyaku.yaml changed since keiyaku.lock was written (source, ref, module or subdir); run \"keiyaku deps update\"", d.Name)
		}
		if err := syncDep(ctx, cfg.Root, d, *e, o); err != nil {
			return err
		}
	}
	return nil
}

func syncDep(ctx context.Context, root string, d config.Dep, e Locked, o options) error {
	if d.Git() {
		cache := filepath.Join(root, cacheDir(d))
		if _, err := os.Stat(cache); err != nil {
			if err := fetch(ctx, root, d, o); err != nil {
				return err
			}
		}
		if e.Tag != "" {
			b, _, err := openAs(ctx, cache, d.Subdir, "tag", e.Tag, o)
			if err != nil {
				return err
			}
			commit := b.Commit()
			b.Close()
			if commit != e.Commit {
				return &MismatchError{Dep: d.Name, What: fmt.Sprintf("tag %q moved", e.Tag), Locked: "commit " + e.Commit, Found: "commit " + commit,
					Hint: "a released tag must not move: ask the provider why, and pin ref to a new tag or a commit id once you trust it, then run \"keiyaku deps update\""}
			}
		}
	}
	dir := filepath.Join(root, filepath.FromSlash(d.Dir()))
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := materialiseLocked(ctx, root, d, e, o); err != nil {
			return err
		}
	}
	return verifyCopy(d, e, dir)
}

// materialiseLocked makes the copy of d from the locked commit (or the
// directory source), after checking its digest against the lock.
func materialiseLocked(ctx context.Context, root string, d config.Dep, e Locked, o options) error {
	ref := e.Commit
	b, _, err := open(ctx, root, d, ref, o)
	if d.Git() && errors.Is(err, baseline.ErrNoRevision) {
		// The lock was updated elsewhere; the cache may not have the commit yet.
		if err := fetch(ctx, root, d, o); err != nil {
			return err
		}
		b, _, err = open(ctx, root, d, ref, o)
	}
	if err != nil {
		return err
	}
	defer b.Close()
	files, err := moduleFiles(ctx, b, d)
	if err != nil {
		return err
	}
	if got := export.Digest(files); got != e.Digest {
		what := "content digest of the source directory"
		if d.Git() {
			what = "content digest of commit " + e.Commit
		}
		return &MismatchError{Dep: d.Name, What: what, Locked: e.Digest, Found: got,
			Hint: "the source is not what was locked; run \"keiyaku deps update\" only if you trust the change"}
	}
	return materialise(root, d, b.FS(), e)
}

// verifyCopy compares the copy of d in dir with the locked files.
func verifyCopy(d config.Dep, e Locked, dir string) error {
	want := map[string]string{}
	for _, f := range e.Files {
		want[f.Path] = f.SHA256
	}
	seen := 0
	root := filepath.ToSlash(filepath.Join(config.DepsDir, d.Name))
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		sum, ok := want[rel]
		if !ok {
			return &MismatchError{Dep: d.Name, What: "file " + path.Join(root, rel), Locked: "no such file", Found: "one",
				Hint: "the copy below " + config.DepsDir + " was changed: remove " + root + " and generate again"}
		}
		if !de.Type().IsRegular() {
			return &MismatchError{Dep: d.Name, What: "file " + path.Join(root, rel), Locked: "a regular file", Found: de.Type().String(),
				Hint: "the copy below " + config.DepsDir + " was changed: remove " + root + " and generate again"}
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if got := export.Sum(data); got != sum {
			return &MismatchError{Dep: d.Name, What: "file " + path.Join(root, rel), Locked: "sha256 " + sum, Found: "sha256 " + got,
				Hint: "the copy below " + config.DepsDir + " was changed: remove " + root + " and generate again"}
		}
		seen++
		return nil
	})
	if err != nil {
		if _, ok := errors.AsType[*MismatchError](err); ok {
			return err
		}
		return fmt.Errorf("dep %q: check %s: %w", d.Name, root, err)
	}
	if seen != len(want) {
		return &MismatchError{Dep: d.Name, What: "files of " + root, Locked: fmt.Sprintf("%d files", len(want)), Found: fmt.Sprintf("%d", seen),
			Hint: "the copy below " + config.DepsDir + " was changed: remove " + root + " and generate again"}
	}
	return nil
}

// materialise writes the locked files of d, read from fsys, as the
// read-only copy .keiyaku/deps/<name>/, replacing the previous copy in one
// rename.
func materialise(root string, d config.Dep, fsys fs.FS, e Locked) error {
	parent := filepath.Join(root, filepath.FromSlash(config.DepsDir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("dep %q: %w", d.Name, err)
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-"+d.Name+"-")
	if err != nil {
		return fmt.Errorf("dep %q: %w", d.Name, err)
	}
	defer os.RemoveAll(tmp)
	for _, f := range e.Files {
		data, err := fs.ReadFile(fsys, f.Path)
		if err != nil {
			return fmt.Errorf("dep %q: %w", d.Name, err)
		}
		if got := export.Sum(data); got != f.SHA256 {
			return &MismatchError{Dep: d.Name, What: "file " + f.Path, Locked: "sha256 " + f.SHA256, Found: "sha256 " + got, Hint: "the source changed while it was read; try again"}
		}
		if err := export.WriteFile(filepath.Join(tmp, filepath.FromSlash(f.Path)), data, 0o444); err != nil {
			return fmt.Errorf("dep %q: %w", d.Name, err)
		}
	}
	dst := filepath.Join(root, filepath.FromSlash(d.Dir()))
	if err := os.RemoveAll(dst); err != nil {
		return fmt.Errorf("dep %q: remove the old copy: %w", d.Name, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("dep %q: %w", d.Name, err)
	}
	return nil
}

// moduleFiles lists and sums the files of d's module at b.
func moduleFiles(ctx context.Context, b *baseline.Baseline, d config.Dep) ([]export.File, error) {
	paths, err := export.ModuleFiles(ctx, b.FS(), config.Module{Path: d.Module})
	if err != nil {
		return nil, fmt.Errorf("dep %q at %s: %w", d.Name, b.Label(), err)
	}
	files := make([]export.File, 0, len(paths))
	for _, p := range paths {
		data, err := fs.ReadFile(b.FS(), p)
		if err != nil {
			return nil, fmt.Errorf("dep %q at %s: %w", d.Name, b.Label(), err)
		}
		files = append(files, export.File{Path: p, SHA256: export.Sum(data)})
	}
	return files, nil
}

func sameSpec(e Locked, d config.Dep) bool {
	return e.Source == d.Source && e.Ref == d.Ref && e.Module == d.Module && e.Subdir == d.Subdir
}

// cacheDir is the bare cache repository of a git dependency, relative to
// the workspace root.
func cacheDir(d config.Dep) string { return path.Join(config.DepsDir, d.Name+".git") }

// open opens d at ref: for a git source, in its cache, as a tag, a branch
// or a commit id (the first that names a commit), returning which it was;
// for a directory source, the directory.
func open(ctx context.Context, root string, d config.Dep, ref string, o options) (*baseline.Baseline, string, error) {
	if !d.Git() {
		in := baseline.Input{Path: sourcePath(root, d.Source)}
		b, err := baseline.Open(ctx, in, o.baseline()...)
		if err != nil {
			return nil, "", fmt.Errorf("dep %q: %w", d.Name, err)
		}
		return b, "directory", nil
	}
	cache := filepath.Join(root, cacheDir(d))
	for _, kind := range []string{"tag", "branch", "ref"} {
		b, k, err := openAs(ctx, cache, d.Subdir, kind, ref, o)
		if err == nil {
			return b, k, nil
		}
		if !errors.Is(err, baseline.ErrNoRevision) && !errors.Is(err, baseline.ErrSyntax) {
			return nil, "", err
		}
	}
	return nil, "", fmt.Errorf("dep %q: %w: %q is no tag, branch or commit of %s", d.Name, baseline.ErrNoRevision, ref, d.Source)
}

func openAs(ctx context.Context, cache, subdir, kind, ref string, o options) (*baseline.Baseline, string, error) {
	in := baseline.Input{Path: cache, Git: true, Subdir: subdir}
	switch kind {
	case "tag":
		in.Tag = ref
	case "branch":
		in.Branch = ref
	default:
		in.Ref = ref
	}
	b, err := baseline.Open(ctx, in, o.baseline()...)
	return b, kind, err
}

// sourcePath resolves a local source against the workspace root; URLs
// are returned as they are.
func sourcePath(root, src string) string {
	if isURL(src) || filepath.IsAbs(src) {
		return src
	}
	return filepath.Join(root, filepath.FromSlash(src))
}

// isURL reports whether src is a git URL ("https://…", "ssh://…") or
// scp-like ("git@host:org/repo.git") rather than a local path.
func isURL(src string) bool {
	if strings.Contains(src, "://") {
		return true
	}
	i := strings.IndexByte(src, ':')
	return i > 1 && !strings.Contains(src[:i], "/")
}

// fetch brings every branch and tag of d's source into its bare cache
// repository, creating it on first use. Moved tags are taken over: the
// lock, not the cache, decides what is trusted.
func fetch(ctx context.Context, root string, d config.Dep, o options) error {
	cache := filepath.Join(root, cacheDir(d))
	if _, err := os.Stat(cache); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(cache), 0o755); err != nil {
			return fmt.Errorf("dep %q: %w", d.Name, err)
		}
		if err := runGit(ctx, o, "", "init", "--bare", "--quiet", "--", cache); err != nil {
			return fmt.Errorf("dep %q: create cache: %w", d.Name, err)
		}
	}
	err := runGit(ctx, o, cache,
		"-c", "protocol.ext.allow=never",
		"fetch", "--quiet", "--force", "--prune", "--no-tags", "--",
		sourcePath(root, d.Source), "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
	if err != nil {
		return fmt.Errorf("dep %q: fetch %s: %w", d.Name, d.Source, err)
	}
	return nil
}

// runGit runs git with args (an argument list, no shell) against the
// repository gitDir (none when empty), with the GIT_* variables of the
// environment removed and prompts disabled.
func runGit(ctx context.Context, o options, gitDir string, args ...string) error {
	if gitDir != "" {
		args = append([]string{"--git-dir", gitDir}, args...)
	}
	cmd := exec.CommandContext(ctx, o.git, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(strings.ToUpper(kv), "GIT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	o.log.LogAttrs(ctx, slog.LevelDebug, "git", slog.Any("args", args), slog.Duration("took", time.Since(start)))
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 4096 {
			msg = msg[len(msg)-4096:]
		}
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("git %s: %s", strings.Join(args, " "), msg)
	}
	return nil
}

// DiffResult is what [Diff] found.
type DiffResult struct {
	// From labels the locked version, To the new one ("v1.1.0@1a2b3c4").
	From, To string
	// Findings are the breaking changes of the module, by the breaking
	// policy of keiyaku.yaml.
	Findings []report.Finding
}

// Diff compares the locked version of the dependency name with its
// version at ref to (a tag, branch or commit id of its source, fetched
// first) and reports what the upgrade would break for this workspace: the
// checks of "keiyaku breaking" (OpenAPI, AsyncAPI, Avro against the
// history up to the locked commit) on the module's contracts. It needs a
// git dependency pinned in keiyaku.lock; it changes neither the lock nor
// the copy.
func Diff(ctx context.Context, cfg *config.Config, name, to string, opts ...Option) (*DiffResult, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(cfg.Deps, func(d config.Dep) bool { return d.Name == name })
	if i < 0 {
		known := make([]string, len(cfg.Deps))
		for j, d := range cfg.Deps {
			known[j] = d.Name
		}
		return nil, fmt.Errorf("no dep %q in keiyaku.yaml; known deps: %s", name, strings.Join(known, ", "))
	}
	d := cfg.Deps[i]
	if !d.Git() {
		return nil, fmt.Errorf("dep %q is a directory source; diff needs a git source with refs", name)
	}
	lock, err := ReadLock(cfg.Root)
	if err != nil {
		return nil, err
	}
	e := lock.Dep(name)
	if e == nil || !sameSpec(*e, d) {
		return nil, fmt.Errorf("dep %q is not locked as keiyaku.yaml declares it; run \"keiyaku deps update\" first", name)
	}
	if err := fetch(ctx, cfg.Root, d, o); err != nil {
		return nil, err
	}
	base, _, err := open(ctx, cfg.Root, d, e.Commit, o)
	if err != nil {
		return nil, err
	}
	defer base.Close()
	next, _, err := open(ctx, cfg.Root, d, to, o)
	if err != nil {
		return nil, err
	}
	defer next.Close()
	probe := &config.Config{
		Version:  config.Version,
		Modules:  []config.Module{{Path: d.Module}},
		Breaking: cfg.Breaking,
		Root:     cfg.Root,
		File:     cfg.File,
	}
	findings, err := breaking.Workspace(ctx, probe, next.FS(), base)
	if err != nil {
		return nil, fmt.Errorf("dep %q: %w", name, err)
	}
	from := base.Label()
	if e.Tag != "" || e.Branch != "" {
		from = e.Tag + e.Branch + "@" + e.Commit[:7]
	}
	return &DiffResult{From: from, To: next.Label(), Findings: findings}, nil
}
