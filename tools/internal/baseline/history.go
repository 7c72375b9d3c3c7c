package baseline

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxCommits is the number of commits a history reads unless
// [WithMaxCommits] says otherwise.
const DefaultMaxCommits = 1000

// ErrTruncated is wrapped by the error [Baseline.History] and
// [Baseline.HistoryOf] return, together with the versions they found, when
// the commits that touch the files outnumber the commit limit: the versions
// of the older commits are missing. A caller that accepts a partial history
// reports the error as a warning and goes on with the result.
var ErrTruncated = errors.New("history truncated")

// Revision is one distinct version of a file in the history of a baseline.
type Revision struct {
	// Key is the identity the version belongs to: the path at the baseline
	// commit for [Baseline.History], the key match returned for
	// [Baseline.HistoryOf].
	Key string
	// Path is where the file was at Commit, relative to the workspace root.
	Path string
	// Commit is the full id of the oldest commit found holding this
	// version; empty for a directory baseline.
	Commit string
	// Time is the committer time of Commit; zero for a directory baseline.
	Time time.Time
	// Blob is the git blob id of the content: two revisions have the same
	// Blob exactly when they have the same content. A directory baseline
	// computes it as git would (SHA-1).
	Blob string
	// Content is the file's content.
	Content []byte
}

// HistoryOption configures [Baseline.History] and [Baseline.HistoryOf].
type HistoryOption func(*historyConfig)

type historyConfig struct {
	maxCommits int
	pattern    string
}

// WithMaxCommits sets how many commits, newest first, a history reads,
// overriding the default [DefaultMaxCommits]. Only commits that change the
// workspace folder (or HistoryOf's dir) count.
func WithMaxCommits(n int) HistoryOption { return func(c *historyConfig) { c.maxCommits = n } }

// WithPattern makes [Baseline.HistoryOf] read only the files whose base
// name matches the [path.Match] pattern, such as "*.avsc", overriding the
// default of reading every file.
func WithPattern(pattern string) HistoryOption {
	return func(c *historyConfig) { c.pattern = pattern }
}

func historyOptions(opts []HistoryOption) (historyConfig, error) {
	c := historyConfig{maxCommits: DefaultMaxCommits}
	for _, o := range opts {
		o(&c)
	}
	if c.maxCommits <= 0 {
		return c, fmt.Errorf("WithMaxCommits: %d is not a positive count", c.maxCommits)
	}
	if _, err := path.Match(c.pattern, ""); err != nil {
		return c, fmt.Errorf("WithPattern %q: %w", c.pattern, err)
	}
	return c, nil
}

// History returns every distinct version of each file in paths across the
// commits reachable from the baseline commit. A path is relative to the
// workspace root and names the file at the baseline commit; its history
// follows renames and moves inside the workspace folder, as git's rename
// detection sees them. The result holds the versions of paths[0] first,
// oldest first, then those of paths[1], and so on; versions are distinct
// by content (a commit that restores an earlier content adds nothing), and
// each carries the oldest commit found holding it. A path that does not
// exist at the baseline commit has no versions. A directory baseline has
// one version of each file: its content.
//
// At most [WithMaxCommits] commits are read; when there are more, History
// returns what it found with an error wrapping [ErrTruncated].
func (b *Baseline) History(ctx context.Context, paths []string, opts ...HistoryOption) ([]Revision, error) {
	revs, err := b.history(ctx, paths, opts)
	if err != nil {
		err = fmt.Errorf("history at %s: %w", b.label, err)
	}
	return revs, err
}

// HistoryOf returns every distinct version of the files below dir (relative
// to the workspace root; "." is the whole workspace) across the commits
// reachable from the baseline commit, grouped by a key the caller gives:
// match is called once for each distinct pair of path and content, with
// the path relative to the workspace root, and returns the file's identity
// (an Avro schema's full name, say) or ok false to leave the file out. A
// file renamed or moved keeps its history as long as match gives it the
// same key. Versions are distinct by content within a key and come oldest
// first; files that existed in older commits only are included. A
// directory baseline has one version of each file.
//
// match runs on the calling goroutine. At most [WithMaxCommits] commits
// are read; when there are more, HistoryOf returns what it found with an
// error wrapping [ErrTruncated].
func (b *Baseline) HistoryOf(ctx context.Context, dir string, match func(path string, content []byte) (key string, ok bool), opts ...HistoryOption) (map[string][]Revision, error) {
	revs, err := b.historyOf(ctx, dir, match, opts)
	if err != nil {
		err = fmt.Errorf("history of %s at %s: %w", dir, b.label, err)
	}
	return revs, err
}

func (b *Baseline) history(ctx context.Context, paths []string, opts []HistoryOption) ([]Revision, error) {
	cfg, err := historyOptions(opts)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, p := range paths {
		if !fs.ValidPath(p) || p == "." {
			return nil, fmt.Errorf("path %q: %w", p, fs.ErrInvalid)
		}
		if !slices.Contains(keys, p) {
			keys = append(keys, p)
		}
	}
	if b.root != nil {
		var out []Revision
		for _, p := range keys {
			data, err := b.ReadFile(p)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, Revision{Key: p, Path: p, Blob: b.blobID(data), Content: data})
		}
		return out, nil
	}

	g, truncErr, err := b.graph(ctx, b.in.Subdir, cfg.maxCommits)
	if err != nil {
		return nil, err
	}
	diffs, err := b.diffs(ctx, g, b.in.Subdir)
	if err != nil {
		return nil, err
	}

	// Walk from the baseline to older commits, carrying the name each file
	// has in each commit: a rename in a commit gives the parent the old
	// name; an addition ends the line.
	names := make(map[string]map[string]string, len(g.order))
	first := map[string]string{}
	for _, k := range keys {
		first[k] = path.Join(b.in.Subdir, k)
	}
	names[g.order[0]] = first
	for _, c := range g.order {
		nm := names[c]
		if nm == nil {
			continue
		}
		for i, p := range g.parents[c] {
			d := diffs[c][i]
			pn := names[p]
			if pn == nil {
				pn = map[string]string{}
				names[p] = pn
			}
			for k, q := range nm {
				if _, ok := pn[k]; ok {
					continue
				}
				switch old, renamed := d.renamedFrom[q]; {
				case renamed:
					pn[k] = old
				case d.added[q]:
				default:
					pn[k] = q
				}
			}
		}
	}

	// Oldest first, read the blob of each name where it may have changed:
	// where the commit has no parent in the walk, or changed the file
	// against every parent (otherwise a parent had the same content).
	byKey := map[string][]Revision{}
	seen := map[string]map[string]bool{}
	for _, c := range slices.Backward(g.order) {
		for k, q := range names[c] {
			changed := true
			for i := range g.parents[c] {
				if !diffs[c][i].touched[q] {
					changed = false
					break
				}
			}
			if !changed {
				continue
			}
			obj, err := b.headers.get(c+":"+q, b.maxFile)
			if errors.Is(err, errMissing) || (err == nil && obj.typ != "blob") {
				continue
			}
			if err != nil {
				return nil, err
			}
			if seen[k] == nil {
				seen[k] = map[string]bool{}
			}
			if seen[k][obj.id] {
				continue
			}
			seen[k][obj.id] = true
			byKey[k] = append(byKey[k], Revision{Key: k, Path: b.workspacePath(q), Commit: c, Blob: obj.id})
		}
	}
	var out []Revision
	for _, k := range keys {
		revs := byKey[k] // oldest first: the walk above went from old to new
		for i := range revs {
			if err := b.fill(&revs[i]); err != nil {
				return nil, err
			}
		}
		out = append(out, revs...)
	}
	return out, truncErr
}

func (b *Baseline) historyOf(ctx context.Context, dir string, match func(string, []byte) (string, bool), opts []HistoryOption) (map[string][]Revision, error) {
	cfg, err := historyOptions(opts)
	if err != nil {
		return nil, err
	}
	if match == nil {
		return nil, errors.New("nil match function")
	}
	if !fs.ValidPath(dir) {
		return nil, fmt.Errorf("folder %q: %w", dir, fs.ErrInvalid)
	}
	out := map[string][]Revision{}
	seenBlob := map[string]map[string]bool{}
	add := func(r Revision) {
		if seenBlob[r.Key] == nil {
			seenBlob[r.Key] = map[string]bool{}
		}
		if !seenBlob[r.Key][r.Blob] {
			seenBlob[r.Key][r.Blob] = true
			out[r.Key] = append(out[r.Key], r)
		}
	}
	wanted := func(p string) bool {
		ok, _ := path.Match(cfg.pattern, path.Base(p))
		return cfg.pattern == "" || ok
	}

	if b.root != nil {
		fsys := b.FS()
		err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == dir && errors.Is(err, fs.ErrNotExist) {
					return fs.SkipAll
				}
				return err
			}
			if !d.Type().IsRegular() || !wanted(p) {
				return nil
			}
			data, err := b.ReadFile(p)
			if err != nil {
				return err
			}
			if key, ok := match(p, data); ok {
				add(Revision{Key: key, Path: p, Blob: b.blobID(data), Content: data})
			}
			return nil
		})
		return out, err
	}

	full := path.Join(b.in.Subdir, dir)
	if full == "." {
		full = ""
	}
	g, truncErr, err := b.graph(ctx, full, cfg.maxCommits)
	if err != nil {
		return nil, err
	}
	trees := map[string][]treeEntry{}
	readTree := func(id string) ([]treeEntry, error) {
		if e, ok := trees[id]; ok {
			return e, nil
		}
		e, err := b.readTree(id)
		if err == nil {
			trees[id] = e
		}
		return e, err
	}
	seenTree := map[string]bool{} // prefix + "\x00" + tree id
	seenFile := map[string]bool{} // path + "\x00" + blob id
	var walk func(c commitObject, commit, prefix, tree string) error
	walk = func(c commitObject, commit, prefix, tree string) error {
		if seenTree[prefix+"\x00"+tree] {
			return nil
		}
		seenTree[prefix+"\x00"+tree] = true
		entries, err := b.readTree(tree)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			p := path.Join(prefix, e.name)
			if e.isDir() {
				if err := walk(c, commit, p, e.id); err != nil {
					return err
				}
				continue
			}
			if !e.isFile() || !wanted(p) || seenFile[p+"\x00"+e.id] {
				continue
			}
			seenFile[p+"\x00"+e.id] = true
			obj, err := b.contents.get(e.id, b.maxFile)
			if err != nil {
				return fmt.Errorf("read %s at %s: %w", p, commit, err)
			}
			if key, ok := match(p, obj.data); ok {
				add(Revision{Key: key, Path: p, Commit: commit, Time: c.when, Blob: e.id, Content: obj.data})
			}
		}
		return nil
	}
	for _, commit := range slices.Backward(g.order) {
		c, err := b.readCommitObject(commit)
		if err != nil {
			return nil, err
		}
		e, err := b.lookupFrom(c.tree, orDefault(full, "."), readTree)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && !e.isDir()) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := walk(c, commit, path.Clean(dir), e.id); err != nil {
			return nil, err
		}
	}
	return out, truncErr
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// workspacePath turns a repository path into a workspace path.
func (b *Baseline) workspacePath(p string) string {
	if b.in.Subdir == "" {
		return p
	}
	return strings.TrimPrefix(p, b.in.Subdir+"/")
}

// fill reads a revision's content and commit time.
func (b *Baseline) fill(r *Revision) error {
	obj, err := b.contents.get(r.Blob, b.maxFile)
	if err != nil {
		return fmt.Errorf("read %s at %s: %w", r.Path, r.Commit, err)
	}
	r.Content = obj.data
	c, err := b.readCommitObject(r.Commit)
	if err != nil {
		return err
	}
	r.Time = c.when
	return nil
}

// blobID is the git blob id (SHA-1) of data, as a directory baseline
// reports it.
func (b *Baseline) blobID(data []byte) string {
	h := sha1.New()
	h.Write([]byte("blob " + strconv.Itoa(len(data)) + "\x00"))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// graph is the part of the commit graph that changes one folder: commits
// newest first (children before parents), each with its parents in the
// walk (history simplified to the folder, as git rev-list's parent
// rewriting gives it).
type graph struct {
	order   []string
	parents map[string][]string
	index   map[string]int
}

// graph lists the commits reachable from the baseline commit that change
// the folder dir of the repository ("" for all), at most max of them. The
// baseline commit is always first. truncErr wraps ErrTruncated when there
// were more.
func (b *Baseline) graph(ctx context.Context, dir string, max int) (g *graph, truncErr error, err error) {
	args := []string{"rev-list", "--parents", "--topo-order", "--full-history", "--simplify-merges",
		"--max-count=" + strconv.Itoa(max+1), "--end-of-options", b.commit}
	if dir != "" {
		args = append(args, "--", dir)
	}
	out, err := b.repo.run(ctx, nil, args...)
	if err != nil {
		return nil, nil, err
	}
	g = &graph{parents: map[string][]string{}, index: map[string]int{}}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		for _, id := range f {
			if !isObjectID(id) {
				return nil, nil, fmt.Errorf("git rev-list: unexpected line %q", line)
			}
		}
		if _, dup := g.index[f[0]]; dup {
			continue
		}
		g.index[f[0]] = len(g.order)
		g.order = append(g.order, f[0])
		g.parents[f[0]] = f[1:]
	}
	if len(g.order) > max {
		cut := g.order[max:]
		g.order = g.order[:max]
		for _, c := range cut {
			delete(g.index, c)
		}
		truncErr = fmt.Errorf("%w: read the %d newest commits that change %s; versions only in older commits are left out (raise the limit with WithMaxCommits)", ErrTruncated, max, orDefault(dir, "the repository"))
		b.log.LogAttrs(ctx, slog.LevelWarn, "baseline history truncated", slog.String("baseline", b.label), slog.String("dir", dir), slog.Int("max_commits", max))
	}
	// Keep only parents inside the walk.
	for c, ps := range g.parents {
		g.parents[c] = slices.DeleteFunc(slices.Clone(ps), func(p string) bool { _, ok := g.index[p]; return !ok })
	}
	// The walk starts at the baseline commit, even when that commit does
	// not change the folder itself.
	if len(g.order) == 0 || g.order[0] != b.commit {
		if _, ok := g.index[b.commit]; !ok {
			var ps []string
			if len(g.order) > 0 {
				ps = []string{g.order[0]}
			}
			g.order = append([]string{b.commit}, g.order...)
			g.parents[b.commit] = ps
			for i, c := range g.order {
				g.index[c] = i
			}
		}
	}
	return g, truncErr, nil
}

// diff is what changed in a commit against one parent, inside the folder.
type diff struct {
	renamedFrom map[string]string // new path → old path
	added       map[string]bool
	touched     map[string]bool // paths whose content at the commit differs from the parent's
}

// diffs asks git, in one run of diff-tree, what changed in each commit of
// g against each of its parents: diffs[c][i] is against g.parents[c][i].
func (b *Baseline) diffs(ctx context.Context, g *graph, dir string) (map[string][]diff, error) {
	var stdin bytes.Buffer
	pairs := 0
	for _, c := range g.order {
		for _, p := range g.parents[c] {
			fmt.Fprintf(&stdin, "%s %s\n", c, p)
			pairs++
		}
	}
	out := make(map[string][]diff, len(g.order))
	if pairs == 0 {
		return out, nil
	}
	args := []string{"diff-tree", "--stdin", "-r", "-z", "-M", "--name-status", "--always"}
	if dir != "" {
		args = append(args, "--", dir)
	}
	raw, err := b.repo.run(ctx, stdin.Bytes(), args...)
	if err != nil {
		return nil, err
	}
	tokens := strings.Split(string(raw), "\x00")
	var sections []diff
	var commits []string
	cur := -1
	for i := 0; i < len(tokens); i++ {
		t := tokens[i]
		switch {
		case t == "" && i == len(tokens)-1:
			continue
		case isObjectID(t):
			sections = append(sections, diff{renamedFrom: map[string]string{}, added: map[string]bool{}, touched: map[string]bool{}})
			commits = append(commits, t)
			cur = len(sections) - 1
			continue
		case cur < 0 || t == "":
			return nil, fmt.Errorf("git diff-tree: unexpected output near %q", t)
		}
		d := &sections[cur]
		status := t[0]
		if status == 'R' || status == 'C' {
			if i+2 >= len(tokens) {
				return nil, errors.New("git diff-tree: truncated rename")
			}
			from, to := tokens[i+1], tokens[i+2]
			i += 2
			if status == 'R' {
				d.renamedFrom[to] = from
			}
			d.touched[to] = true
			continue
		}
		if i+1 >= len(tokens) {
			return nil, errors.New("git diff-tree: truncated entry")
		}
		p := tokens[i+1]
		i++
		switch status {
		case 'A':
			d.added[p] = true
			d.touched[p] = true
		case 'M', 'T':
			d.touched[p] = true
		}
	}
	if len(sections) != pairs {
		return nil, fmt.Errorf("git diff-tree: %d answers to %d questions", len(sections), pairs)
	}
	n := 0
	for _, c := range g.order {
		for range g.parents[c] {
			if commits[n] != c {
				return nil, fmt.Errorf("git diff-tree: answer for %s where %s was asked", commits[n], c)
			}
			out[c] = append(out[c], sections[n])
			n++
		}
	}
	return out, nil
}

// Commits returns the commits reachable from the baseline commit that
// change the files below dir (relative to the workspace root), oldest first
// in topological order — an order commit times cannot give when several
// commits share a second. At most [WithMaxCommits] commits are listed; when
// there are more, the newest ones come with an error wrapping
// [ErrTruncated]. A directory baseline has no commits: nil, nil.
func (b *Baseline) Commits(ctx context.Context, dir string, opts ...HistoryOption) ([]string, error) {
	if b.repo == nil {
		return nil, nil
	}
	cfg := historyConfig{maxCommits: DefaultMaxCommits}
	for _, o := range opts {
		o(&cfg)
	}
	full := path.Join(b.in.Subdir, path.Clean(dir))
	if full == "." {
		full = ""
	}
	g, truncErr, err := b.graph(ctx, full, cfg.maxCommits)
	if err != nil {
		return nil, fmt.Errorf("history at %s: %w", b.label, err)
	}
	commits := slices.Clone(g.order)
	slices.Reverse(commits)
	return commits, truncErr
}
