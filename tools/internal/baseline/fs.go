package baseline

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	errIsDir   = errors.New("is a directory")
	errSymlink = errors.New("symbolic link; a git baseline does not follow links")
)

// Git tree entry modes.
const (
	modeTree    = 0o040000
	modeBlob    = 0o100644
	modeExec    = 0o100755
	modeSymlink = 0o120000
	modeGitlink = 0o160000
)

// treeEntry is one entry of a git tree object.
type treeEntry struct {
	name string
	mode uint32
	id   string
}

func (e treeEntry) isDir() bool  { return e.mode == modeTree }
func (e treeEntry) isFile() bool { return e.mode == modeBlob || e.mode == modeExec }

// fileMode maps a git mode to an fs.FileMode.
func (e treeEntry) fileMode() fs.FileMode {
	switch e.mode {
	case modeTree:
		return fs.ModeDir | 0o555
	case modeExec:
		return 0o555
	case modeSymlink:
		return fs.ModeSymlink | 0o777
	}
	return 0o444
}

// parseTree decodes a tree object: entries of "<octal mode> <name>\0" and
// the raw object id of hashLen bytes.
func parseTree(data []byte, hashLen int) ([]treeEntry, error) {
	var entries []treeEntry
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		if sp <= 0 {
			return nil, errors.New("corrupt tree: no mode")
		}
		mode, err := strconv.ParseUint(string(data[:sp]), 8, 32)
		if err != nil {
			return nil, fmt.Errorf("corrupt tree: mode %q", data[:sp])
		}
		data = data[sp+1:]
		nul := bytes.IndexByte(data, 0)
		if nul <= 0 || len(data) < nul+1+hashLen {
			return nil, errors.New("corrupt tree: truncated entry")
		}
		name := string(data[:nul])
		if name == "." || name == ".." || strings.Contains(name, "/") {
			return nil, fmt.Errorf("corrupt tree: entry name %q", name)
		}
		entries = append(entries, treeEntry{name: name, mode: uint32(mode), id: hex.EncodeToString(data[nul+1 : nul+1+hashLen])})
		data = data[nul+1+hashLen:]
	}
	return entries, nil
}

// readTree reads and decodes the tree with the given id.
func (b *Baseline) readTree(id string) ([]treeEntry, error) {
	obj, err := b.contents.get(id, maxTreeSize)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", id, err)
	}
	if obj.typ != "tree" {
		return nil, fmt.Errorf("read tree %s: it is a %s", id, obj.typ)
	}
	entries, err := parseTree(obj.data, b.hashLen)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", id, err)
	}
	return entries, nil
}

// maxTreeSize bounds one tree object: some 100 000 entries.
const maxTreeSize = 16 << 20

// treeCached is readTree through the baseline's cache, which holds the
// trees the file system has read.
func (b *Baseline) treeCached(id string) ([]treeEntry, error) {
	b.treesMu.Lock()
	entries, ok := b.trees[id]
	b.treesMu.Unlock()
	if ok {
		return entries, nil
	}
	entries, err := b.readTree(id)
	if err != nil {
		return nil, err
	}
	b.treesMu.Lock()
	b.trees[id] = entries
	b.treesMu.Unlock()
	return entries, nil
}

// lookupFrom finds the entry at the slash-separated path name below the
// tree root; "." is the root itself. A missing entry, or a path through a
// file, is fs.ErrNotExist.
func (b *Baseline) lookupFrom(root, name string, trees func(string) ([]treeEntry, error)) (treeEntry, error) {
	e := treeEntry{name: ".", mode: modeTree, id: root}
	if name == "." {
		return e, nil
	}
	for elem := range strings.SplitSeq(name, "/") {
		if !e.isDir() {
			return treeEntry{}, fs.ErrNotExist
		}
		entries, err := trees(e.id)
		if err != nil {
			return treeEntry{}, err
		}
		i := slices.IndexFunc(entries, func(x treeEntry) bool { return x.name == elem })
		if i < 0 || entries[i].mode == modeGitlink {
			return treeEntry{}, fs.ErrNotExist
		}
		e = entries[i]
	}
	return e, nil
}

// gitFS is the file system of a git baseline.
type gitFS struct{ b *Baseline }

func (g gitFS) lookup(op, name string) (treeEntry, error) {
	if err := cleanName(op, name); err != nil {
		return treeEntry{}, err
	}
	e, err := g.b.lookupFrom(g.b.rootTree, name, g.b.treeCached)
	if err != nil {
		return treeEntry{}, &fs.PathError{Op: op, Path: name, Err: err}
	}
	e.name = path.Base(name)
	return e, nil
}

// Open opens the file or directory at name.
func (g gitFS) Open(name string) (fs.File, error) {
	e, err := g.lookup("open", name)
	if err != nil {
		return nil, err
	}
	switch {
	case e.isDir():
		entries, err := g.dirEntries(name, e.id)
		if err != nil {
			return nil, err
		}
		return &gitDir{info: g.info(e, 0), entries: entries}, nil
	case e.mode == modeSymlink:
		return nil, &fs.PathError{Op: "open", Path: name, Err: errSymlink}
	}
	data, err := g.blob("open", name, e)
	if err != nil {
		return nil, err
	}
	return &gitFile{info: g.info(e, int64(len(data))), r: bytes.NewReader(data)}, nil
}

// ReadFile returns the content of the file at name.
func (g gitFS) ReadFile(name string) ([]byte, error) {
	e, err := g.lookup("read", name)
	if err != nil {
		return nil, err
	}
	switch {
	case e.isDir():
		return nil, &fs.PathError{Op: "read", Path: name, Err: errIsDir}
	case e.mode == modeSymlink:
		return nil, &fs.PathError{Op: "read", Path: name, Err: errSymlink}
	}
	return g.blob("read", name, e)
}

// ReadDir lists the directory at name, sorted by name.
func (g gitFS) ReadDir(name string) ([]fs.DirEntry, error) {
	e, err := g.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if !e.isDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return g.dirEntries(name, e.id)
}

// Stat describes the file or directory at name. The size of a file is
// asked of git without reading the content.
func (g gitFS) Stat(name string) (fs.FileInfo, error) {
	e, err := g.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return g.stat("stat", name, e)
}

func (g gitFS) stat(op, name string, e treeEntry) (fs.FileInfo, error) {
	if e.isDir() {
		return g.info(e, 0), nil
	}
	obj, err := g.b.headers.get(e.id, g.b.maxFile)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return g.info(e, obj.size), nil
}

func (g gitFS) info(e treeEntry, size int64) *fileInfo {
	return &fileInfo{name: e.name, mode: e.fileMode(), size: size, mod: g.b.when}
}

func (g gitFS) blob(op, name string, e treeEntry) ([]byte, error) {
	obj, err := g.b.contents.get(e.id, g.b.maxFile)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	if obj.typ != "blob" {
		return nil, &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("object %s is a %s", e.id, obj.typ)}
	}
	return obj.data, nil
}

func (g gitFS) dirEntries(name, id string) ([]fs.DirEntry, error) {
	entries, err := g.b.treeCached(id)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	var out []fs.DirEntry
	for _, e := range entries {
		if e.mode == modeGitlink {
			continue
		}
		out = append(out, dirEntry{g: g, dir: name, e: e})
	}
	// Git sorts a tree by name with a "/" after directory names; io/fs
	// wants plain name order.
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// fileInfo describes a file of a git baseline.
type fileInfo struct {
	name string
	mode fs.FileMode
	size int64
	mod  time.Time
}

func (i *fileInfo) Name() string       { return i.name }
func (i *fileInfo) Size() int64        { return i.size }
func (i *fileInfo) Mode() fs.FileMode  { return i.mode }
func (i *fileInfo) ModTime() time.Time { return i.mod }
func (i *fileInfo) IsDir() bool        { return i.mode.IsDir() }
func (i *fileInfo) Sys() any           { return nil }

// dirEntry is an entry of a directory listing; Info asks git for the size.
type dirEntry struct {
	g   gitFS
	dir string
	e   treeEntry
}

func (d dirEntry) Name() string      { return d.e.name }
func (d dirEntry) IsDir() bool       { return d.e.isDir() }
func (d dirEntry) Type() fs.FileMode { return d.e.fileMode().Type() }
func (d dirEntry) Info() (fs.FileInfo, error) {
	return d.g.stat("stat", path.Join(d.dir, d.e.name), d.e)
}
func (d dirEntry) String() string { return fs.FormatDirEntry(d) }

// gitFile is an open file of a git baseline, its content read.
type gitFile struct {
	info *fileInfo
	r    *bytes.Reader
}

func (f *gitFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *gitFile) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f *gitFile) Seek(offset int64, whence int) (int64, error) {
	return f.r.Seek(offset, whence)
}
func (f *gitFile) ReadAt(p []byte, off int64) (int, error) { return f.r.ReadAt(p, off) }
func (f *gitFile) Close() error                            { return nil }

// gitDir is an open directory of a git baseline.
type gitDir struct {
	info    *fileInfo
	entries []fs.DirEntry
	off     int
}

func (d *gitDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *gitDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errIsDir}
}
func (d *gitDir) Close() error { return nil }

// ReadDir returns the next n entries, or all that remain when n <= 0, as
// [fs.ReadDirFile] specifies.
func (d *gitDir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return slices.Clone(rest), nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.off += n
	return slices.Clone(rest[:n]), nil
}
