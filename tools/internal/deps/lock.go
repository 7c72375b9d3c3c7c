package deps

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/keiyaku/keiyaku/tools/internal/export"
)

// LockFile is the name of the lock file, beside keiyaku.yaml. It is
// committed; only [Update] writes it.
const LockFile = "keiyaku.lock"

// LockVersion is the only lock file version this build reads and writes.
const LockVersion = "v1"

// Lock is a decoded keiyaku.lock: the pinned version of every dependency.
type Lock struct {
	// Version is [LockVersion].
	Version string `yaml:"version"`
	// Deps are the pinned dependencies, sorted by name.
	Deps []Locked `yaml:"deps"`
}

// Locked is one pinned dependency.
type Locked struct {
	// Name, Source, Ref, Module and Subdir are those of keiyaku.yaml when
	// the lock was written.
	Name   string `yaml:"name"`
	Source string `yaml:"source"`
	Ref    string `yaml:"ref,omitempty"`
	Module string `yaml:"module"`
	Subdir string `yaml:"subdir,omitempty"`
	// Tag is the tag the commit came from, when Ref is a tag. A tag is a
	// release: it must not move, so a tag that later names another commit
	// is an error.
	Tag string `yaml:"tag,omitempty"`
	// Branch is the branch the commit came from, when Ref is a branch.
	Branch string `yaml:"branch,omitempty"`
	// Commit is the full commit id Ref resolved to; empty for a directory
	// source.
	Commit string `yaml:"commit,omitempty"`
	// Digest sums Files (see [export.Digest]).
	Digest string `yaml:"digest"`
	// Files are the module's files (see [export.ModuleFiles]), each with
	// its SHA-256, sorted by path.
	Files []export.File `yaml:"files"`
}

// Dep returns the locked entry of the dependency name, or nil.
func (l *Lock) Dep(name string) *Locked {
	if l == nil {
		return nil
	}
	for i := range l.Deps {
		if l.Deps[i].Name == name {
			return &l.Deps[i]
		}
	}
	return nil
}

// ErrNoLock is wrapped by the error [ReadLock] returns when the workspace
// has no keiyaku.lock.
var ErrNoLock = errors.New("no keiyaku.lock")

// ReadLock reads keiyaku.lock from the workspace root. Decoding is strict:
// an unknown key or another version is an error.
func ReadLock(root string) (*Lock, error) {
	file := filepath.Join(root, LockFile)
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s; run \"keiyaku deps update\" to resolve the deps of keiyaku.yaml", ErrNoLock, root)
	}
	if err != nil {
		return nil, fmt.Errorf("read lock: %w", err)
	}
	return ParseLock(data)
}

// ParseLock decodes the content of a keiyaku.lock.
func ParseLock(data []byte) (*Lock, error) {
	var l Lock
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("%s: %w; run \"keiyaku deps update\" to write it again", LockFile, err)
	}
	if l.Version != LockVersion {
		return nil, fmt.Errorf("%s: version %q; this keiyaku reads %s", LockFile, l.Version, LockVersion)
	}
	for _, d := range l.Deps {
		if d.Name == "" || d.Digest == "" || d.Digest != export.Digest(d.Files) {
			return nil, fmt.Errorf("%s: dep %q: the digest does not sum its files (edited by hand?); run \"keiyaku deps update\"", LockFile, d.Name)
		}
	}
	return &l, nil
}

// Marshal encodes the lock deterministically: entries sorted by name,
// files by path, keys in a fixed order, with a header comment.
func (l *Lock) Marshal() ([]byte, error) {
	c := Lock{Version: LockVersion, Deps: slices.Clone(l.Deps)}
	slices.SortFunc(c.Deps, func(a, b Locked) int { return strings.Compare(a.Name, b.Name) })
	for i := range c.Deps {
		c.Deps[i].Files = slices.Clone(c.Deps[i].Files)
		slices.SortFunc(c.Deps[i].Files, func(a, b export.File) int { return strings.Compare(a.Path, b.Path) })
	}
	var b bytes.Buffer
	b.WriteString("# keiyaku.lock: the pinned contract dependencies of keiyaku.yaml.\n# Written by \"keiyaku deps update\"; do not edit. Commit it.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("encode lock: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode lock: %w", err)
	}
	return b.Bytes(), nil
}
