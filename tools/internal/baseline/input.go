package baseline

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Input is a parsed baseline reference: a directory, or a commit of a git
// repository with an optional workspace folder inside it. The zero Input is
// not valid; make one with [Parse].
type Input struct {
	// Path is the directory, or the git repository (a work tree, its .git
	// folder or a bare repository), as given: relative paths are resolved
	// against the folder set with [WithDir].
	Path string
	// Git reports whether Path is read as a git repository. A path with
	// "#options" or ending in ".git" is a git input; any other path is a
	// directory.
	Git bool
	// Branch, Tag and Ref select the commit of a git input; at most one is
	// set. None set means the repository's HEAD.
	Branch, Tag, Ref string
	// Subdir is the workspace folder inside the repository, slash-separated
	// and clean; empty means the repository root.
	Subdir string
	// MergeBase makes the baseline the best common ancestor of the
	// selected commit and the repository's HEAD (git merge-base), what a
	// pull request is judged against: changes merged into the branch
	// after the pull request was cut are not taken for the pull request
	// undoing them.
	MergeBase bool

	raw string
}

// ErrSyntax is wrapped by every error [Parse] returns.
var ErrSyntax = errors.New("invalid baseline input")

// Parse reads a baseline input in buf's syntax:
//
//	.git#branch=main                  a branch of the repository in the current folder
//	.git#tag=v1.2.0                   a tag
//	.git#ref=1a2b3c4                  a commit id, abbreviated or not, or any revision
//	.git#branch=main,subdir=api       the workspace lives in folder api of the repository
//	.git#branch=main,merge_base=true  where HEAD left main (git merge-base main HEAD)
//	../other#tag=v1                   another repository (its work tree or .git folder)
//	path/to/repo.git                  a bare repository at its HEAD
//	path/to/dir                       a plain directory
//
// Everything after the first "#" is a comma-separated list of key=value
// options: branch, tag, ref (at most one of these three), subdir and
// merge_base (true or false). Parse
// does not touch the file system; it returns an error wrapping [ErrSyntax]
// for an empty input, an unknown or repeated key, an empty value, more than
// one of branch, tag and ref, a branch or tag that is not a valid git
// reference name, a ref starting with "-" and a subdir that is absolute or
// leaves the repository with "..".
func Parse(input string) (Input, error) {
	in := Input{raw: input}
	fail := func(format string, args ...any) (Input, error) {
		return Input{}, fmt.Errorf("%w %q: %s", ErrSyntax, input, fmt.Sprintf(format, args...))
	}
	if strings.TrimSpace(input) == "" {
		return fail("empty; give a directory or a git reference such as .git#branch=main")
	}
	if strings.ContainsFunc(input, isControl) {
		return fail("control characters are not allowed")
	}
	loc, opts, hasOpts := strings.Cut(input, "#")
	in.Path = loc
	if !hasOpts {
		in.Git = isGitPath(loc)
		return in, nil
	}
	in.Git = true
	if loc == "" {
		return fail("no repository before \"#\"; write .git#%s for the repository in the current folder", opts)
	}
	if opts == "" {
		return fail("nothing after \"#\"; want branch=, tag=, ref= or subdir=")
	}
	seen := map[string]bool{}
	for opt := range strings.SplitSeq(opts, ",") {
		key, value, ok := strings.Cut(opt, "=")
		switch {
		case opt == "":
			return fail("empty option between commas")
		case !ok:
			return fail("option %q is not key=value", opt)
		case seen[key]:
			return fail("key %q given twice", key)
		case value == "" && isKnownKey(key):
			return fail("empty value for %s", key)
		}
		seen[key] = true
		switch key {
		case "branch":
			in.Branch = value
		case "tag":
			in.Tag = value
		case "ref":
			in.Ref = value
		case "subdir":
			in.Subdir = value
		case "merge_base":
			switch value {
			case "true":
				in.MergeBase = true
			case "false":
			default:
				return fail("merge_base=%q: want true or false", value)
			}
		default:
			return fail("unknown key %q; want branch, tag, ref, subdir or merge_base", key)
		}
	}
	if err := in.check(); err != nil {
		return fail("%v", err)
	}
	in.Subdir, _ = cleanSubdir(in.Subdir)
	return in, nil
}

// String returns the input as it was given to [Parse], or a canonical form
// for an Input built by hand.
func (in Input) String() string {
	if in.raw != "" {
		return in.raw
	}
	if !in.Git {
		return in.Path
	}
	var opts []string
	for _, kv := range [][2]string{{"branch", in.Branch}, {"tag", in.Tag}, {"ref", in.Ref}, {"subdir", in.Subdir}} {
		if kv[1] != "" {
			opts = append(opts, kv[0]+"="+kv[1])
		}
	}
	if in.MergeBase {
		opts = append(opts, "merge_base=true")
	}
	if len(opts) == 0 {
		return in.Path
	}
	return in.Path + "#" + strings.Join(opts, ",")
}

// check validates the values of a git Input's options, whether they came
// from Parse or were set by hand.
func (in Input) check() error {
	if !in.Git {
		if in.Branch != "" || in.Tag != "" || in.Ref != "" || in.Subdir != "" || in.MergeBase {
			return errors.New("branch, tag, ref, subdir and merge_base need a git input")
		}
		return nil
	}
	if in.Branch != "" {
		if err := checkRefName(in.Branch); err != nil {
			return fmt.Errorf("branch %q: %w", in.Branch, err)
		}
	}
	if in.Tag != "" {
		if err := checkRefName(in.Tag); err != nil {
			return fmt.Errorf("tag %q: %w", in.Tag, err)
		}
	}
	if strings.HasPrefix(in.Ref, "-") {
		return fmt.Errorf("ref %q starts with \"-\"", in.Ref)
	}
	if strings.ContainsFunc(in.Branch+in.Tag+in.Ref+in.Subdir, isControl) {
		return errors.New("control characters are not allowed")
	}
	if in.Subdir != "" {
		if _, err := cleanSubdir(in.Subdir); err != nil {
			return fmt.Errorf("subdir %q: %w", in.Subdir, err)
		}
	}
	if countSet(in.Branch, in.Tag, in.Ref) > 1 {
		return errors.New("branch, tag and ref exclude each other; give one")
	}
	return nil
}

func isKnownKey(key string) bool {
	switch key {
	case "branch", "tag", "ref", "subdir", "merge_base":
		return true
	}
	return false
}

func countSet(values ...string) int {
	n := 0
	for _, v := range values {
		if v != "" {
			n++
		}
	}
	return n
}

// isGitPath reports whether a path without options names a repository:
// ".git", "x/.git" or a bare "repo.git".
func isGitPath(p string) bool {
	p = strings.TrimRight(p, "/")
	return strings.HasSuffix(p, ".git")
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// cleanSubdir validates and cleans a subdir value: relative, inside the
// repository, slash-separated. "." means the root and cleans to "".
func cleanSubdir(s string) (string, error) {
	if strings.HasPrefix(s, "/") {
		return "", errors.New("must be relative to the repository root")
	}
	c := path.Clean(s)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", errors.New("leaves the repository with \"..\"")
	}
	for elem := range strings.SplitSeq(c, "/") {
		if elem == ".." {
			return "", errors.New("leaves the repository with \"..\"")
		}
	}
	if c == "." {
		return "", nil
	}
	return c, nil
}

// checkRefName applies git's rules for reference names (git
// check-ref-format), plus a refusal of a leading "-" so that no name can be
// read as a command-line option.
func checkRefName(name string) error {
	switch {
	case strings.HasPrefix(name, "-"):
		return errors.New("starts with \"-\"")
	case strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/"):
		return errors.New("starts or ends with \"/\"")
	case strings.HasSuffix(name, "."):
		return errors.New("ends with \".\"")
	case strings.Contains(name, ".."):
		return errors.New("contains \"..\"")
	case strings.Contains(name, "@{") || name == "@":
		return errors.New("contains \"@{\" or is \"@\"")
	case strings.Contains(name, "//"):
		return errors.New("contains \"//\"")
	}
	if i := strings.IndexAny(name, " ~^:?*[\\"); i >= 0 {
		return fmt.Errorf("contains %q, which git does not allow in a name", name[i])
	}
	for elem := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(elem, ".") || strings.HasSuffix(elem, ".lock") {
			return errors.New("a component starts with \".\" or ends with \".lock\"")
		}
	}
	return nil
}
