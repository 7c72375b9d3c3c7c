// Package openapi loads and validates OpenAPI contracts with kin-openapi and
// turns its failures into positioned errors (file:line:col, what is wrong,
// how to fix it).
//
// Contracts may span several files joined by relative $ref. Every file read
// goes through an [os.Root] at the workspace root: a $ref to a URL, to an
// absolute path or to a path that leaves the workspace is refused.
package openapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v3"

	"github.com/keiyaku/keiyaku/tools/internal/diag"
	"github.com/keiyaku/keiyaku/tools/internal/yamlref"
)

// Loader loads OpenAPI documents below one workspace root. A Loader is safe
// for use by one goroutine at a time.
type Loader struct {
	fsys  fs.FS
	root  *os.Root // nil for NewLoaderFS
	dir   string   // absolute workspace path; empty for NewLoaderFS
	reads []string
	// cache holds the files read by the current load: kin-openapi asks
	// for a file again at every $ref into it.
	cache map[string][]byte
}

// NewLoader returns a Loader confined to the folder dir through an
// [os.Root]: symlinks out of it are refused too. The caller closes it.
func NewLoader(dir string) (*Loader, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolve workspace root: %w", err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("open workspace root: %w", err)
	}
	return &Loader{fsys: root.FS(), root: root, dir: abs}, nil
}

// NewLoaderFS returns a Loader reading the workspace from fsys, e.g. a
// baseline read from a git commit. Paths are fs.FS paths: relative, slash
// separated, never leaving fsys.
func NewLoaderFS(fsys fs.FS) *Loader { return &Loader{fsys: fsys} }

// Reads returns the workspace-relative paths of the files read since the
// last call, each once, sorted, and forgets them. Everything a generated
// file depends on is in this list.
func (l *Loader) Reads() []string {
	reads := l.reads
	l.reads = nil
	slices.Sort(reads)
	return slices.Compact(reads)
}

// readFile reads a workspace-relative file through the root, with
// [yamlref.FSReader]'s limits (size cap, UTF-8), and records it; during a
// load each file is read once.
func (l *Loader) readFile(p string) ([]byte, error) {
	l.reads = append(l.reads, p)
	if data, ok := l.cache[p]; ok {
		return data, nil
	}
	if !fs.ValidPath(p) {
		return nil, &fs.PathError{Op: "read", Path: p, Err: fs.ErrInvalid}
	}
	data, err := yamlref.FSReader(l.fsys)(p)
	if err != nil {
		return nil, err
	}
	if l.cache != nil {
		l.cache[p] = data
	}
	return data, nil
}

// Close releases the workspace root, if the Loader opened one.
func (l *Loader) Close() error {
	if l.root == nil {
		return nil
	}
	return l.root.Close()
}

// errRefused marks a read outside the workspace.
var errRefused = errors.New("refused")

// Load reads the document at file (relative to the root, forward slashes),
// resolves its $refs and validates it. A failure is a *[diag.Error] naming
// the file, line and column to fix. Examples are left out of validation
// (one bad example would hide the others): [InvalidExamples] lists them.
func (l *Loader) Load(ctx context.Context, file string) (*openapi3.T, error) {
	doc, err := l.resolve(ctx, file, true)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(ctx, openapi3.DisableExamplesValidation()); err != nil {
		return nil, l.validationError(ctx, file, doc, err)
	}
	return doc, nil
}

// Resolve is Load without validation: the document parses and every $ref
// resolves, with positions recorded. Comparing two versions of a contract
// needs no more (the same as oasdiff), and a baseline that was valid under
// older rules still compares.
//
// Resolve reports the errors of the YAML and the $refs it finds itself
// (duplicate keys, cycles) only when kin-openapi fails, to place the error:
// a baseline kin-openapi reads still compares. It checks them first all the
// same, to shorten the chains of $refs (see chains.go).
func (l *Loader) Resolve(ctx context.Context, file string) (*openapi3.T, error) {
	return l.resolve(ctx, file, false)
}

// resolve loads file; strict refuses what precheck finds before
// kin-openapi runs, else only when kin-openapi fails too.
func (l *Loader) resolve(ctx context.Context, file string, strict bool) (*openapi3.T, error) {
	l.cache = map[string][]byte{}
	defer func() { l.cache = nil }()
	data, err := l.readFile(file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &diag.Error{File: file, Msg: "file not found", Hint: "create it or fix the module path in keiyaku.yaml"}
		}
		return nil, &diag.Error{File: file, Msg: fmt.Sprintf("cannot read: %v", err)}
	}
	reads := len(l.reads)
	cuts, perr := l.precheck(file, data)
	var checked []string
	switch {
	case strict && perr != nil:
		return nil, perr
	case !strict:
		// The files read are those kin-openapi reads, as before: the
		// check also follows $refs that kin-openapi takes as data (in an
		// example, say).
		checked = slices.Clone(l.reads[reads:])
		l.reads = l.reads[:reads]
		if perr != nil {
			cuts = nil
		}
	}
	if doc := l.loadShortened(ctx, file, data, cuts); doc != nil {
		// A shortened chain skips files kin-openapi would have read on
		// the way: they count as read all the same.
		l.reads = append(l.reads, checked...)
		return doc, nil
	}
	doc, err := l.kinLoad(ctx, file, data)
	if err != nil {
		if perr != nil {
			return nil, perr
		}
		return nil, l.loadError(file, err)
	}
	return doc, nil
}

// kinLoad has kin-openapi load the document file, whose content is data,
// reading the files its $refs reach through l.read.
func (l *Loader) kinLoad(ctx context.Context, file string, data []byte) (*openapi3.T, error) {
	kl := openapi3.NewLoader()
	kl.Context = ctx
	kl.IsExternalRefsAllowed = true
	kl.IncludeOrigin = true
	kl.ReadFromURIFunc = l.read
	return kl.LoadFromDataWithPath(withDocumentStart(data), &url.URL{Path: file})
}

// loadShortened has kin-openapi load the document with the chains of $refs
// shortened (see chains.go) and gives the $refs their written values back.
// It returns nil when there is nothing to shorten, or when the shortened
// load fails or cannot be told apart from the written one: the caller then
// loads the document as written (and reports its errors as written).
func (l *Loader) loadShortened(ctx context.Context, file string, data []byte, cuts []shortcut) *openapi3.T {
	if len(cuts) == 0 {
		return nil
	}
	byFile := map[string][]shortcut{}
	for _, c := range cuts {
		byFile[c.file] = append(byFile[c.file], c)
	}
	sites := map[siteKey]shortcut{}
	written := map[string]bool{}
	originals := map[string][]byte{}
	defer func() {
		for f, b := range originals {
			l.cache[f] = b
		}
	}()
	root := data
	for f, fc := range byFile {
		orig, ok := l.cache[f]
		if !ok {
			continue
		}
		patched, applied := applyShortcuts(orig, fc)
		if len(applied) == 0 {
			continue
		}
		originals[f] = orig
		l.cache[f] = patched
		if f == file {
			root = patched
		}
		for _, c := range applied {
			sites[siteKey{f, c.key.Line, c.key.Column}] = c
			written[c.to] = true
		}
	}
	if len(sites) == 0 {
		return nil
	}
	doc, err := l.kinLoad(ctx, file, root)
	if err != nil || !restoreRefs(doc, sites, written) {
		return nil
	}
	return doc
}

// documentStart is the YAML document start marker withDocumentStart puts
// before a JSON document.
const documentStart = "--- "

// withDocumentStart returns data, a document that kin-openapi parses with
// go.yaml.in/yaml/v4, with "--- " before it when its first line is a lone
// "{", as in pretty-printed JSON. The marker changes nothing in the
// document, nor a line number, nor a position kin-openapi records (only
// the "{" on line 1 moves, and its position is not kept: the root's
// origin is its first key's). It makes the parse several times faster:
// yaml v4 takes a "{" at the start of the stream for a possible mapping
// key and queues the tokens of the whole document before it can tell (1 s
// of the 1.4 s a 3.9 MB Stripe spec took to load); after "--- " it cannot
// be one.
func withDocumentStart(data []byte) []byte {
	if !bytes.HasPrefix(data, []byte("{\n")) && !bytes.HasPrefix(data, []byte("{\r\n")) {
		return data
	}
	return append([]byte(documentStart), data...)
}

// read is the loader's only way to the file system: relative paths inside
// the root, nothing else.
func (l *Loader) read(_ *openapi3.Loader, u *url.URL) ([]byte, error) {
	if u.Scheme != "" || u.Host != "" {
		return nil, fmt.Errorf("%w: %s is not a local file; contracts may only $ref files inside the workspace", errRefused, u.String())
	}
	p := u.Path
	if path.IsAbs(p) {
		if l.dir == "" {
			return nil, fmt.Errorf("%w: %s is an absolute path; use a relative $ref to a file inside the workspace", errRefused, p)
		}
		rel, err := filepath.Rel(l.dir, filepath.FromSlash(p))
		if err != nil || strings.HasPrefix(rel, "..") {
			return nil, fmt.Errorf("%w: %s is outside the workspace; use a relative $ref to a file inside it", errRefused, p)
		}
		p = filepath.ToSlash(rel)
	}
	p = path.Clean(p)
	if p == ".." || strings.HasPrefix(p, "../") {
		return nil, fmt.Errorf("%w: %s is outside the workspace; use a relative $ref to a file inside it", errRefused, p)
	}
	data, err := l.readFile(p)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && !errors.Is(err, fs.ErrNotExist) && strings.Contains(pe.Err.Error(), "escapes") {
			return nil, fmt.Errorf("%w: %s leads outside the workspace", errRefused, p)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", p, fs.ErrNotExist)
		}
		if errors.As(err, &pe) {
			// Name the workspace-relative path, never the absolute one.
			return nil, fmt.Errorf("%s: cannot read: %w", p, pe.Err)
		}
		return nil, err
	}
	return data, nil
}

// Documents lists the OpenAPI documents of a module folder (relative to
// root): its *.yaml, *.yml and *.json files whose top level is a mapping
// with an "openapi" key, plus openapi.yaml and any file that does not parse
// (so that loading it reports where it breaks, rather than the module
// silently losing a contract), sorted. Other documents (AsyncAPI, Avro
// schemas, JSON arrays) are skipped. Files are read through an os.Root, so
// a symlink out of the workspace is refused. named are the documents the
// configuration names for the module (modules[].openapi), listed too
// whatever their folder, when they exist.
func Documents(root, dir string, named ...string) ([]string, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("open workspace root: %w", err)
	}
	defer r.Close()
	return DocumentsFS(r.FS(), dir, named...)
}

// DocumentsFS is Documents over any fs.FS, such as a baseline.
func DocumentsFS(fsys fs.FS, dir string, named ...string) ([]string, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("list module %s: %w", dir, err)
	}
	var docs []string
	for _, e := range entries {
		ext := path.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml" && ext != ".json") {
			continue
		}
		file := path.Join(dir, e.Name())
		if e.Name() == "openapi.yaml" {
			docs = append(docs, file)
			continue
		}
		data, err := yamlref.FSReader(fsys)(file)
		if errors.Is(err, yamlref.ErrRefused) {
			// A link out of the workspace is no contract of this module;
			// a $ref through it is refused at the $ref's line.
			continue
		}
		if err != nil {
			return nil, &diag.Error{File: file, Msg: fmt.Sprintf("cannot read: %v", err)}
		}
		var top yaml.Node
		if err := yaml.Unmarshal(data, &top); err != nil {
			docs = append(docs, file)
			continue
		}
		if len(top.Content) == 1 && valueOf(top.Content[0], "openapi") != nil {
			docs = append(docs, file)
		}
	}
	for _, file := range named {
		if file == "" || slices.Contains(docs, file) {
			continue
		}
		if st, err := fs.Stat(fsys, file); err == nil && !st.IsDir() {
			docs = append(docs, file)
		}
	}
	slices.Sort(docs)
	return docs, nil
}

// valueOf returns the value of key in a mapping node, or nil.
func valueOf(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
