// Package baseline reads the contracts a workspace is compared with: a
// commit of a git repository (a branch, a tag or any revision, with the
// workspace optionally in a folder of the repository), or a plain
// directory. It is what "keiyaku breaking --against INPUT" reads.
//
// A git baseline is read from the repository's objects by the git binary,
// run without a shell, with an argument list. The user's work tree, index
// and references are never read nor changed: a dirty work tree does not
// leak into the baseline, and reading a baseline never checks anything out.
// Files are served by one long-lived "git cat-file --batch" process per
// baseline.
//
// Besides the files at the baseline commit, a git baseline gives the
// history of files: every distinct version in the commits reachable from
// it (see [Baseline.History] and [Baseline.HistoryOf]).
package baseline

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"

	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// DefaultMaxFileSize is the size limit of one file unless [WithMaxFileSize]
// says otherwise.
const DefaultMaxFileSize = 32 << 20

// ErrNoRevision is wrapped by the error [Open] returns when the branch, tag
// or revision of a git input names no commit.
var ErrNoRevision = errors.New("no such revision")

// Option configures [Open].
type Option func(*config)

type config struct {
	git     string
	dir     string
	log     *slog.Logger
	maxFile int64
}

// WithGit sets the git binary to run, a path or a name looked up in PATH,
// overriding the default "git".
func WithGit(bin string) Option { return func(c *config) { c.git = bin } }

// WithDir sets the folder that a relative input path is resolved against,
// overriding the default: the current directory of the process.
func WithDir(dir string) Option { return func(c *config) { c.dir = dir } }

// WithLogger sets the logger that git commands (at debug level) and
// truncated histories (at warn level) are reported to, overriding the
// default, which discards everything.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithMaxFileSize sets the size, in bytes, of the largest file the baseline
// reads, overriding the default [DefaultMaxFileSize]. Reading a larger file
// is an error, so a stray binary cannot exhaust memory.
func WithMaxFileSize(n int64) Option { return func(c *config) { c.maxFile = n } }

// Baseline is an open baseline: the files of a workspace at one commit, or
// in one directory. Its methods are safe for concurrent use. The caller
// closes it.
type Baseline struct {
	in      Input
	label   string
	commit  string
	log     *slog.Logger
	maxFile int64

	// A directory baseline.
	root *os.Root

	// A git baseline.
	repo     *repo
	contents *catFile // --batch
	headers  *catFile // --batch-check
	hashLen  int      // bytes in an object id: 20 (SHA-1) or 32 (SHA-256)
	rootTree string   // the tree of the workspace folder at the commit
	when     time.Time
	treesMu  sync.Mutex
	trees    map[string][]treeEntry

	shared bool // the git processes belong to the Baseline At was called on

	closeOnce sync.Once
	closeErr  error
}

// Open opens the baseline in describes. For a git input it resolves the
// branch, tag or revision to a commit and checks that the workspace folder
// (subdir) exists there; a branch, tag or revision that names no commit is
// an error wrapping [ErrNoRevision], such as
//
//	baseline .git#branch=nope: no such branch "nope" in /src/app
//
// For a directory input it opens the directory as an [os.Root], so no read
// leaves it. Every error names the input. ctx bounds the work Open does;
// the git process that serves reads afterwards lives until Close.
func Open(ctx context.Context, in Input, opts ...Option) (*Baseline, error) {
	b, err := open(ctx, in, opts)
	if err != nil {
		return nil, fmt.Errorf("baseline %s: %w", in, err)
	}
	return b, nil
}

func open(ctx context.Context, in Input, opts []Option) (*Baseline, error) {
	cfg := config{git: "git", maxFile: DefaultMaxFileSize}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.git == "" {
		return nil, errors.New("WithGit: empty git binary")
	}
	if cfg.maxFile <= 0 {
		return nil, fmt.Errorf("WithMaxFileSize: %d is not a positive size", cfg.maxFile)
	}
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	if in.Path == "" {
		return nil, fmt.Errorf("%w: no path", ErrSyntax)
	}
	if err := in.check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	if sub, err := cleanSubdir(in.Subdir); err == nil {
		in.Subdir = sub
	}
	p := filepath.FromSlash(in.Path)
	if !filepath.IsAbs(p) {
		base := cfg.dir
		if base == "" {
			wd, err := os.Getwd()
			if err != nil {
				return nil, fmt.Errorf("current directory: %w", err)
			}
			base = wd
		}
		p = filepath.Join(base, p)
	}
	p, err := filepath.Abs(p)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", in.Path, err)
	}
	b := &Baseline{in: in, log: cfg.log, maxFile: cfg.maxFile}
	if !in.Git {
		root, err := os.OpenRoot(p)
		if err != nil {
			return nil, fmt.Errorf("open directory: %w", err)
		}
		b.root = root
		b.label = in.Path
		return b, nil
	}
	bin, err := exec.LookPath(cfg.git)
	if err != nil {
		return nil, fmt.Errorf("find git: %w", err)
	}
	r, err := openRepo(ctx, bin, p, cfg.log)
	if err != nil {
		return nil, err
	}
	commit, err := r.resolve(ctx, in)
	if err != nil {
		return nil, err
	}
	b.repo, b.commit, b.hashLen = r, commit, len(commit)/2
	b.label = labelFor(in, commit)
	b.trees = map[string][]treeEntry{}
	b.contents = &catFile{r: r, mode: "--batch"}
	b.headers = &catFile{r: r, mode: "--batch-check"}
	if err := errors.Join(b.contents.start(ctx), b.headers.start(ctx)); err != nil {
		return nil, errors.Join(err, b.Close())
	}
	if err := b.readCommit(); err != nil {
		return nil, errors.Join(err, b.Close())
	}
	return b, nil
}

// At returns the same workspace folder of the same repository at another
// commit, given by its full id (as [Baseline.Commits] lists them). It
// shares b's git processes, so it costs no process start: it is valid
// until b is closed, and its Close does nothing. A directory baseline has
// no other commits: At returns an error.
func (b *Baseline) At(commit string) (*Baseline, error) {
	if b.repo == nil {
		return nil, fmt.Errorf("baseline %s: a directory has no commits", b.label)
	}
	if !isObjectID(commit) || len(commit) != len(b.commit) {
		return nil, fmt.Errorf("baseline %s: %q is not a full commit id", b.label, commit)
	}
	in := Input{Path: b.in.Path, Git: true, Ref: commit, Subdir: b.in.Subdir}
	at := &Baseline{
		in: in, label: labelFor(in, commit), commit: commit, log: b.log, maxFile: b.maxFile,
		repo: b.repo, contents: b.contents, headers: b.headers, hashLen: b.hashLen,
		trees: map[string][]treeEntry{}, shared: true,
	}
	if err := at.readCommit(); err != nil {
		return nil, fmt.Errorf("baseline %s: %w", in, err)
	}
	return at, nil
}

// readCommit reads the commit's tree and time and finds the workspace
// folder in it.
func (b *Baseline) readCommit() error {
	c, err := b.readCommitObject(b.commit)
	if err != nil {
		return err
	}
	b.when = c.when
	b.rootTree = c.tree
	if b.in.Subdir == "" {
		return nil
	}
	e, err := b.lookupFrom(c.tree, b.in.Subdir, b.treeCached)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !e.isDir()) {
		return fmt.Errorf("no folder %q at %s in %s", b.in.Subdir, b.label, b.repo.display)
	}
	if err != nil {
		return err
	}
	b.rootTree = e.id
	return nil
}

// labelFor names a git baseline for people: the branch, tag or revision
// and the abbreviated commit, e.g. "main@1a2b3c4".
func labelFor(in Input, commit string) string {
	short := commit[:7]
	name := in.Branch + in.Tag + in.Ref
	if in.MergeBase {
		return "merge-base(" + cmp.Or(name, "HEAD") + ", HEAD)@" + short
	}
	switch {
	case name == "":
		name = "HEAD"
	case in.Ref != "" && len(in.Ref) >= 4 && len(in.Ref) <= len(commit) && commit[:len(in.Ref)] == in.Ref:
		return short
	}
	return name + "@" + short
}

// Input returns the input the baseline was opened from.
func (b *Baseline) Input() Input { return b.in }

// Label names the baseline for people: "main@1a2b3c4" for a git baseline
// (the branch, tag or revision and the abbreviated commit id, or the
// abbreviated id alone when the input was a commit id), the path for a
// directory.
func (b *Baseline) Label() string { return b.label }

// Commit returns the full id of the baseline commit, or "" for a directory
// baseline.
func (b *Baseline) Commit() string { return b.commit }

// ReadFile returns the content of the file at name, a slash-separated path
// relative to the workspace root (the subdir of the repository) as
// [fs.ValidPath] defines it. A file that does not exist is an error
// wrapping [fs.ErrNotExist]; a file over the size limit (see
// [WithMaxFileSize]) is an error. A git baseline does not follow symbolic
// links; a directory baseline follows those that stay inside it.
func (b *Baseline) ReadFile(name string) ([]byte, error) {
	return fs.ReadFile(b.FS(), name)
}

// FS returns the workspace at the baseline as a file system, for loaders
// that read through an [fs.FS]. It implements [fs.ReadFileFS],
// [fs.ReadDirFS] and [fs.StatFS], with the size limit of
// [Baseline.ReadFile]. For a git baseline, files are read-only (mode 0444
// or 0555), every modification time is the commit time, submodules are
// left out and symbolic links are listed but cannot be opened. The FS is
// valid until the baseline is closed.
func (b *Baseline) FS() fs.FS {
	if b.root != nil {
		return dirFS{fsys: b.root.FS(), max: b.maxFile}
	}
	return gitFS{b: b}
}

// Close stops the git process of a git baseline, or closes the directory
// of a directory baseline. Reads after Close fail. Close is idempotent.
func (b *Baseline) Close() error {
	b.closeOnce.Do(func() {
		if b.root != nil {
			b.closeErr = b.root.Close()
			return
		}
		if b.shared {
			return
		}
		var errs []error
		for _, c := range []*catFile{b.contents, b.headers} {
			if c != nil {
				errs = append(errs, c.close())
			}
		}
		b.closeErr = errors.Join(errs...)
	})
	return b.closeErr
}

// dirFS is the file system of a directory baseline: an os.Root with a size
// limit on ReadFile.
type dirFS struct {
	fsys fs.FS
	max  int64
}

func (d dirFS) Open(name string) (fs.File, error) { return d.fsys.Open(name) }

func (d dirFS) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(d.fsys, name) }

func (d dirFS) Stat(name string) (fs.FileInfo, error) { return fs.Stat(d.fsys, name) }

func (d dirFS) ReadFile(name string) ([]byte, error) {
	f, err := d.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errIsDir}
	}
	if st.Size() > d.max {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("%d bytes, over the limit of %d: %w", st.Size(), d.max, errTooLarge)}
	}
	data, err := io.ReadAll(io.LimitReader(f, d.max+1))
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	if int64(len(data)) > d.max {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("over the limit of %d bytes: %w", d.max, errTooLarge)}
	}
	return data, nil
}

// commitObject is the part of a commit the baseline reads.
type commitObject struct {
	tree string
	when time.Time
}

func (b *Baseline) readCommitObject(id string) (commitObject, error) {
	obj, err := b.contents.get(id, b.maxFile)
	if err != nil {
		return commitObject{}, fmt.Errorf("read commit %s: %w", id, err)
	}
	if obj.typ != "commit" {
		return commitObject{}, fmt.Errorf("read commit %s: it is a %s", id, obj.typ)
	}
	var c commitObject
	header, _, _ := bytes.Cut(obj.data, []byte("\n\n"))
	for line := range bytes.SplitSeq(header, []byte("\n")) {
		switch {
		case bytes.HasPrefix(line, []byte("tree ")):
			c.tree = string(line[len("tree "):])
		case bytes.HasPrefix(line, []byte("committer ")):
			// committer Name <email> 1700000000 +0100
			f := bytes.Fields(line)
			if len(f) >= 2 {
				if sec, err := strconv.ParseInt(string(f[len(f)-2]), 10, 64); err == nil {
					c.when = time.Unix(sec, 0).UTC()
				}
			}
		}
	}
	if !isObjectID(c.tree) {
		return commitObject{}, fmt.Errorf("read commit %s: no tree", id)
	}
	return c, nil
}

// cleanName checks an fs.FS name and splits off nothing: "." is the root.
func cleanName(op, name string) error {
	if !fs.ValidPath(name) {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	return nil
}
