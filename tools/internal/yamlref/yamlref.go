// Package yamlref parses the YAML files of a contract and resolves the
// JSON references ($ref) between them, reporting each problem as a
// *[diag.Error] at the position of the offending node.
//
// Files are read only through the function given to [NewResolver],
// normally [RootReader] over an [os.Root] at the workspace root. A $ref to
// a URL, to an absolute path or to a path that leaves the workspace is
// refused before anything is read; an alias bomb is refused before it is
// expanded.
package yamlref

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/keiyaku/keiyaku/tools/internal/diag"
)

// MaxExpandedNodes bounds the size of a YAML document once its aliases are
// expanded. A contract is far below it; an alias bomb is far above.
const MaxExpandedNodes = 1_000_000

// MaxFileSize bounds the size of one file read by [RootReader]: 16 MiB, far
// above any contract.
const MaxFileSize = 16 << 20

// maxHops bounds the nesting of $refs followed while walking JSON pointers
// through referenced nodes, so that a loop of such references ends, and the
// aliases followed to reach one node.
const maxHops = 64

// ErrRefused marks a read outside the workspace: a URL, an absolute path, a
// path or a symbolic link that leaves the workspace root.
var ErrRefused = errors.New("refused")

// ErrEncoding marks a file that is not UTF-8.
var ErrEncoding = errors.New("not UTF-8")

// utf16 reports whether data looks UTF-16 encoded: a UTF-16 byte order
// mark, or a NUL byte among the first characters (text in UTF-8 has none;
// ASCII in UTF-16 has one every other byte).
func utf16(data []byte) bool {
	if len(data) >= 2 && (data[0] == 0xFE && data[1] == 0xFF || data[0] == 0xFF && data[1] == 0xFE) {
		return true
	}
	return slices.Contains(data[:min(len(data), 64)], 0)
}

// Parse parses data, the content of file, into a node tree and refuses alias
// bombs. It returns the top node of the document, or nil and no error when
// the document is empty. Errors are *[diag.Error].
func Parse(file string, data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line, msg := yamlLine(err)
		return nil, &diag.Error{File: file, Line: line, Column: 1, Msg: "invalid YAML: " + msg}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	if n, at := expandedSize(doc.Content[0], map[*yaml.Node]int{}); n > MaxExpandedNodes {
		return nil, &diag.Error{File: file, Line: at.Line, Column: at.Column,
			Msg:  fmt.Sprintf("YAML aliases expand to more than %d nodes", MaxExpandedNodes),
			Hint: "remove the nested anchors and aliases (this looks like an alias bomb)"}
	}
	if first, second := duplicateKey(doc.Content[0]); second != nil {
		return nil, &diag.Error{File: file, Line: second.Line, Column: second.Column,
			Msg:  fmt.Sprintf("duplicate key %q (first at line %d)", second.Value, first.Line),
			Hint: "merge the two entries; YAML keeps only one of them"}
	}
	return doc.Content[0], nil
}

// duplicateKey finds the first mapping below n that repeats a key and
// returns both keys. YAML parsers disagree on which copy wins, so a
// contract must not have one.
func duplicateKey(n *yaml.Node) (first, second *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		seen := make(map[string]*yaml.Node, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				continue
			}
			if f, ok := seen[k.Value]; ok {
				return f, k
			}
			seen[k.Value] = k
		}
	}
	for _, c := range n.Content {
		if f, s := duplicateKey(c); s != nil {
			return f, s
		}
	}
	return nil, nil
}

// expandedSize counts the nodes of n with every alias expanded, memoised per
// node so that counting itself stays linear. It returns the alias where the
// count first crossed the bound.
func expandedSize(n *yaml.Node, memo map[*yaml.Node]int) (int, *yaml.Node) {
	if v, ok := memo[n]; ok {
		return v, nil
	}
	memo[n] = 1 // breaks alias cycles
	size := 1
	var culprit *yaml.Node
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		s, c := expandedSize(n.Alias, memo)
		size, culprit = s, c
	}
	for _, c := range n.Content {
		s, cc := expandedSize(c, memo)
		size += s
		if size > MaxExpandedNodes && culprit == nil {
			culprit = cc
			if culprit == nil {
				culprit = c
			}
		}
		if size > MaxExpandedNodes {
			break
		}
	}
	memo[n] = size
	return size, culprit
}

// yamlLine splits "yaml: line N: msg" into N and msg.
func yamlLine(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr == nil {
		_, rest, _ := strings.Cut(msg, ": ")
		return line, rest
	}
	return 1, msg
}

// RootReader returns a read function for [NewResolver] that reads
// workspace-relative, slash-separated paths through root, refuses files
// larger than [MaxFileSize] and reports a path or link leaving the root as
// [ErrRefused]. The caller keeps ownership of root.
func RootReader(root *os.Root) func(name string) ([]byte, error) {
	return FSReader(root.FS())
}

// FSReader is RootReader over any fs.FS, such as a git baseline or an
// os.Root's FS: the same limits and the same errors.
func FSReader(fsys fs.FS) func(name string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		f, err := fsys.Open(name)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) && !errors.Is(err, fs.ErrNotExist) && strings.Contains(pe.Err.Error(), "escapes") {
				return nil, fmt.Errorf("%w: %s leads outside the workspace", ErrRefused, name)
			}
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
			}
			return nil, err
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.IsDir() {
			return nil, fmt.Errorf("%s is a folder, not a file", name)
		}
		data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
		if err != nil {
			return nil, err
		}
		if len(data) > MaxFileSize {
			return nil, fmt.Errorf("%s is larger than %d bytes", name, MaxFileSize)
		}
		if utf16(data) {
			return nil, fmt.Errorf("%s is encoded in UTF-16; contracts are read as UTF-8: save it as UTF-8 (%w)", name, ErrEncoding)
		}
		return data, nil
	}
}

// Resolver resolves $refs between the YAML files of a workspace. It parses
// each file once and keeps its tree, so the node a $ref resolves to is the
// same pointer every time: callers may use it as an identity. A Resolver is
// safe for use by one goroutine at a time.
type Resolver struct {
	read  func(name string) ([]byte, error)
	files map[string]*yaml.Node
	// resolved and followed remember, per $ref value node, what Resolve
	// and Follow found, so that each $ref is resolved once however many
	// chains pass through it.
	resolved map[*yaml.Node]Target
	followed map[*yaml.Node]Target
}

// NewResolver returns a Resolver that reads files with read, which takes a
// workspace-relative, slash-separated path (see [RootReader]).
func NewResolver(read func(name string) ([]byte, error)) *Resolver {
	return &Resolver{read: read, files: map[string]*yaml.Node{},
		resolved: map[*yaml.Node]Target{}, followed: map[*yaml.Node]Target{}}
}

// Add registers the already parsed tree of a file, so that $refs into it
// resolve to nodes of root.
func (r *Resolver) Add(name string, root *yaml.Node) { r.files[name] = root }

// File returns the parsed tree of a workspace-relative file, reading and
// parsing it on first use. An empty file is an error.
func (r *Resolver) File(name string) (*yaml.Node, error) {
	if n, ok := r.files[name]; ok {
		return n, nil
	}
	data, err := r.read(name)
	if err != nil {
		return nil, err
	}
	n, err := Parse(name, data)
	if err != nil {
		return nil, err
	}
	if n == nil {
		return nil, &diag.Error{File: name, Line: 1, Column: 1, Msg: "empty document", Hint: "a $ref points into this file, so it must hold the definitions"}
	}
	r.files[name] = n
	return n, nil
}

// Target is where a $ref points: a workspace-relative file, a JSON pointer
// in it and the node found there.
type Target struct {
	File    string
	Pointer string
	Node    *yaml.Node
}

// String returns the target as "file#pointer".
func (t Target) String() string { return t.File + "#" + t.Pointer }

// relativeTo writes the target as a $ref from file would: "#/…" in the
// same file, "other.yaml#/…" otherwise.
func (t Target) relativeTo(file string) string {
	if t.File == file {
		return "#" + t.Pointer
	}
	return t.String()
}

// Split checks the $ref value node ref, found in file from, and returns the
// workspace-relative file it names and its fragment, without reading
// anything. A URL, an absolute path or a path leaving the workspace is an
// error at ref.
func Split(from string, ref *yaml.Node) (file, fragment string, err error) {
	at := func(msg, hint string) error {
		return &diag.Error{File: from, Line: ref.Line, Column: ref.Column, Msg: msg, Hint: hint}
	}
	if ref.Kind != yaml.ScalarNode || ref.Value == "" {
		return "", "", at("$ref must be a non-empty string", `write e.g. $ref: "#/components/schemas/Member"`)
	}
	u, err := url.Parse(ref.Value)
	if err != nil {
		return "", "", at(fmt.Sprintf("$ref %q is not a valid URI reference: %v", ref.Value, err), "")
	}
	if u.Scheme != "" || u.Host != "" {
		return "", "", at(fmt.Sprintf("$ref %q points to a remote document: refused", ref.Value), "copy the definitions into a file inside the workspace and $ref it by relative path")
	}
	file = from
	if u.Path != "" {
		if path.IsAbs(u.Path) {
			return "", "", at(fmt.Sprintf("$ref %q is an absolute path: refused", ref.Value), "use a path relative to this file, inside the workspace")
		}
		file = path.Join(path.Dir(from), u.Path)
		if file == ".." || strings.HasPrefix(file, "../") {
			return "", "", at(fmt.Sprintf("$ref %q leads outside the workspace: refused", ref.Value), "use a path relative to this file, inside the workspace")
		}
	}
	return file, u.Fragment, nil
}

// Resolve finds the node that the $ref value node ref, found in file from,
// points to. Walking the pointer follows any $ref met on the way, so
// "#/channels/a/messages/b" works when channel a is itself a $ref. The
// node found may itself be a $ref; [Resolver.Follow] follows those too.
func (r *Resolver) Resolve(from string, ref *yaml.Node) (Target, error) {
	return r.resolve(from, ref, 0)
}

// resolve is Resolve at a depth of nested resolutions, which a loop of
// $refs met while walking pointers would otherwise make endless.
func (r *Resolver) resolve(from string, ref *yaml.Node, depth int) (Target, error) {
	if t, ok := r.resolved[ref]; ok {
		return t, nil
	}
	t, err := r.resolveOnce(from, ref, depth)
	if err == nil {
		r.resolved[ref] = t
	}
	return t, err
}

// resolveOnce is resolve without the memo.
func (r *Resolver) resolveOnce(from string, ref *yaml.Node, depth int) (Target, error) {
	at := func(msg, hint string) error {
		return &diag.Error{File: from, Line: ref.Line, Column: ref.Column, Msg: msg, Hint: hint}
	}
	file, frag, err := Split(from, ref)
	if err != nil {
		return Target{}, err
	}
	if depth > maxHops {
		return Target{}, at(fmt.Sprintf("recursive $ref: %q leads through more than %d $refs", ref.Value, maxHops), "point it at a real definition")
	}
	root, err := r.File(file)
	if err != nil {
		var de *diag.Error
		switch {
		case errors.As(err, &de):
			return Target{}, err
		case errors.Is(err, fs.ErrNotExist):
			return Target{}, at(fmt.Sprintf("$ref %q: file %s not found", ref.Value, file), "fix the path; it is relative to the file holding the $ref")
		}
		return Target{}, at(fmt.Sprintf("$ref %q: %v", ref.Value, err), "")
	}
	t, err := r.pointer(file, root, frag, depth, true)
	if err != nil {
		var de *diag.Error
		if errors.As(err, &de) {
			return Target{}, err
		}
		return Target{}, at(fmt.Sprintf("$ref %q: %v", ref.Value, err), "")
	}
	return t, nil
}

// pointer follows a JSON pointer (RFC 6901) from root, a node of file. With
// follow set it follows the $refs met on the way, resolving them at depth+1.
// The target's pointer is where the node is in the target's file.
func (r *Resolver) pointer(file string, root *yaml.Node, ptr string, depth int, follow bool) (Target, error) {
	if ptr == "" {
		return Target{File: file, Node: root}, nil
	}
	if !strings.HasPrefix(ptr, "/") {
		return Target{}, fmt.Errorf("fragment %q must be a JSON pointer starting with \"/\"", ptr)
	}
	n, cur := root, file
	walked := ""
	for tok := range strings.SplitSeq(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		n = deref(n)
		hops := 0
		for ref := OnlyRef(n); follow && ref != nil; ref = OnlyRef(n) {
			if hops++; hops > maxHops {
				return Target{}, fmt.Errorf("#%s is a loop of $refs that never reaches a definition", walked)
			}
			t, err := r.resolve(cur, ref, depth+1)
			if err != nil {
				return Target{}, err
			}
			n, cur, walked = deref(t.Node), t.File, t.Pointer
		}
		next, keys := child(n, tok)
		if next == nil {
			where := "#" + walked
			if walked == "" {
				where = "the top level"
			}
			if cur != file {
				where += " of " + cur
			}
			msg := fmt.Sprintf("no %q in %s", tok, where)
			if len(keys) > 0 && len(keys) <= 20 {
				slices.Sort(keys)
				msg += " (it has: " + strings.Join(keys, ", ") + ")"
			}
			return Target{}, errors.New(msg)
		}
		walked += "/" + strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
		n = next
	}
	return Target{File: cur, Pointer: walked, Node: n}, nil
}

// child returns the member tok of a mapping or sequence, and the keys of a
// mapping for the error message when it has none.
func child(n *yaml.Node, tok string) (*yaml.Node, []string) {
	var keys []string
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == tok {
				return n.Content[i+1], nil
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			keys = append(keys, n.Content[i].Value)
		}
	case yaml.SequenceNode:
		var idx int
		if _, err := fmt.Sscan(tok, &idx); err == nil && idx >= 0 && idx < len(n.Content) {
			return n.Content[idx], nil
		}
	}
	return nil, keys
}

// deref returns the node an alias stands for.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < maxHops; i++ {
		n = n.Alias
	}
	return n
}

// Pointer follows a JSON pointer (RFC 6901) from root inside one tree,
// without following $refs. It returns an error naming the first step that
// does not exist.
func Pointer(root *yaml.Node, ptr string) (*yaml.Node, error) {
	var r *Resolver
	t, err := r.pointer("", root, ptr, 0, false)
	if err != nil {
		return nil, err
	}
	return t.Node, nil
}

// Follow resolves the $ref value node ref, found in file from, and then
// every $ref that the target holds and nothing else, up to a definition. A
// cycle of such $refs is an error at ref: it never reaches a definition.
func (r *Resolver) Follow(from string, ref *yaml.Node) (Target, error) {
	if t, ok := r.followed[ref]; ok {
		return t, nil
	}
	t, err := r.Resolve(from, ref)
	if err != nil {
		return Target{}, err
	}
	// The chain of $refs met, and where each target sits in it: a target
	// met twice is a cycle. Each link is resolved once; a link some
	// earlier Follow went through ends the walk with its answer.
	refs := []*yaml.Node{ref}
	path := []Target{t}
	seen := map[string]int{t.String(): 0}
	for {
		next := OnlyRef(t.Node)
		if next == nil {
			break
		}
		if ft, ok := r.followed[next]; ok {
			t = ft
			break
		}
		nt, err := r.Resolve(t.File, next)
		if err != nil {
			return Target{}, err
		}
		if i, ok := seen[nt.String()]; ok {
			names := make([]string, 0, len(path)-i+1)
			for _, s := range append(path[i:], nt) {
				names = append(names, s.relativeTo(from))
			}
			return Target{}, &diag.Error{File: from, Line: ref.Line, Column: ref.Column,
				Msg:  fmt.Sprintf("recursive $ref %q: %s never reaches a definition", ref.Value, strings.Join(names, " → ")),
				Hint: "point one of them at a real definition"}
		}
		seen[nt.String()] = len(path)
		path = append(path, nt)
		refs = append(refs, next)
		t = nt
	}
	for _, n := range refs {
		r.followed[n] = t
	}
	return t, nil
}

// OnlyRef returns the $ref value node of a mapping that holds nothing
// else, or nil.
func OnlyRef(n *yaml.Node) *yaml.Node {
	n = deref(n)
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "$ref" {
		return n.Content[1]
	}
	return nil
}

// RefOf returns the key and value nodes of the "$ref" member of a mapping,
// or nils when it has none.
func RefOf(n *yaml.Node) (key, value *yaml.Node) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "$ref" {
			return n.Content[i], n.Content[i+1]
		}
	}
	return nil, nil
}

// Walk calls fn with the key and the value node of every "$ref" below n,
// in document order, until fn returns false. It does not descend into the
// mapping holding a $ref, nor into aliases.
func Walk(n *yaml.Node, fn func(key, ref *yaml.Node) bool) bool {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "$ref" {
				if !fn(n.Content[i], n.Content[i+1]) {
					return false
				}
				continue
			}
			if !Walk(n.Content[i+1], fn) {
				return false
			}
		}
		return true
	}
	for _, c := range n.Content {
		if !Walk(c, fn) {
			return false
		}
	}
	return true
}

// Read reads a workspace-relative file with the resolver's read function,
// without parsing it.
func (r *Resolver) Read(name string) ([]byte, error) { return r.read(name) }
