package baseline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strconv"
	"strings"
)

// DefaultMaxCommits is the number of commits [Baseline.Commits] lists
// unless [WithMaxCommits] says otherwise.
const DefaultMaxCommits = 1000

// ErrTruncated is wrapped by the error [Baseline.Commits] returns, together
// with the commits it found, when the commits that touch the folders
// outnumber the commit limit: the older commits are missing. A caller that
// accepts a partial history reports the error as a warning and goes on with
// the result.
var ErrTruncated = errors.New("history truncated")

// HistoryOption configures [Baseline.Commits].
type HistoryOption func(*historyConfig)

type historyConfig struct {
	maxCommits int
}

// WithMaxCommits sets how many commits, newest first, [Baseline.Commits]
// lists, overriding the default [DefaultMaxCommits]. Only commits that
// change the folders asked about count.
func WithMaxCommits(n int) HistoryOption { return func(c *historyConfig) { c.maxCommits = n } }

// Commits returns the commits reachable from the baseline commit that
// change a file below one of dirs (relative to the workspace root; "." is
// the whole workspace), oldest first in topological order — an order
// commit times cannot give when several commits share a second. The
// baseline commit is always last, whether or not it changes the folders.
// History is simplified to the folders as git rev-list --full-history
// --simplify-merges gives it.
//
// At most [WithMaxCommits] commits are listed; when there are more, the
// newest ones come with an error wrapping [ErrTruncated]. A directory
// baseline has no commits: nil, nil. A dir that leaves the workspace is an
// error wrapping [fs.ErrInvalid].
func (b *Baseline) Commits(ctx context.Context, dirs []string, opts ...HistoryOption) ([]string, error) {
	if b.repo == nil {
		return nil, nil
	}
	cfg := historyConfig{maxCommits: DefaultMaxCommits}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.maxCommits <= 0 {
		return nil, fmt.Errorf("WithMaxCommits: %d is not a positive count", cfg.maxCommits)
	}
	var paths []string
	for _, dir := range dirs {
		if dir != "." && !fs.ValidPath(dir) {
			return nil, fmt.Errorf("history at %s: folder %q: %w", b.label, dir, fs.ErrInvalid)
		}
		full := path.Join(b.in.Subdir, path.Clean(dir))
		if full == "." {
			paths = nil // the whole repository
			break
		}
		paths = append(paths, full)
	}
	if len(dirs) == 0 {
		paths = nil
	}
	order, truncErr, err := b.graph(ctx, paths, cfg.maxCommits)
	if err != nil {
		return nil, fmt.Errorf("history at %s: %w", b.label, err)
	}
	slices.Reverse(order)
	return order, truncErr
}

// graph lists the commits reachable from the baseline commit that change
// the given repository folders (all of it when paths is empty), newest
// first, at most max of them. The baseline commit is always first.
// truncErr wraps ErrTruncated when there were more.
func (b *Baseline) graph(ctx context.Context, paths []string, max int) (order []string, truncErr error, err error) {
	args := []string{"rev-list", "--topo-order", "--full-history", "--simplify-merges",
		"--max-count=" + strconv.Itoa(max+1), "--end-of-options", b.commit}
	if len(paths) > 0 {
		args = append(append(args, "--"), paths...)
	}
	out, err := b.repo.run(ctx, nil, args...)
	if err != nil {
		return nil, nil, err
	}
	seen := map[string]bool{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		id := strings.TrimSpace(line)
		if id == "" {
			continue
		}
		if !isObjectID(id) {
			return nil, nil, fmt.Errorf("git rev-list: unexpected line %q", line)
		}
		if !seen[id] {
			seen[id] = true
			order = append(order, id)
		}
	}
	if len(order) > max {
		order = order[:max]
		what := "the repository"
		if len(paths) > 0 {
			what = strings.Join(paths, ", ")
		}
		truncErr = fmt.Errorf("%w: read the %d newest commits that change %s; older versions are left out", ErrTruncated, max, what)
		b.log.LogAttrs(ctx, slog.LevelWarn, "baseline history truncated", slog.String("baseline", b.label), slog.Int("max_commits", max))
	}
	if len(order) == 0 || order[0] != b.commit {
		order = slices.DeleteFunc(order, func(c string) bool { return c == b.commit })
		order = append([]string{b.commit}, order...)
		if len(order) > max {
			order = order[:max]
		}
	}
	return order, truncErr, nil
}
