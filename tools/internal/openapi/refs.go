package openapi

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/keiyaku/keiyaku/tools/internal/diag"
)

// maxExpandedNodes bounds the size of a YAML document once its aliases are
// expanded. A contract is far below it; an alias bomb is far above.
const maxExpandedNodes = 1_000_000

// refChecker walks the YAML of a contract and of every file it references,
// before kin-openapi loads it, so that each broken $ref is reported at its
// own line: a missing file or fragment, a URL or a path outside the
// workspace, a cycle of $refs that never reaches a schema.
type refChecker struct {
	l     *Loader
	files map[string]*yaml.Node // parsed files by workspace-relative path
}

// parseYAML parses data into a node tree and refuses alias bombs.
func parseYAML(file string, data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line, msg := yamlLine(err)
		return nil, &diag.Error{File: file, Line: line, Column: 1, Msg: "invalid YAML: " + msg}
	}
	if len(doc.Content) == 0 {
		return nil, &diag.Error{File: file, Line: 1, Column: 1, Msg: "empty document", Hint: "an OpenAPI document starts with \"openapi: 3.0.3\""}
	}
	if n, at := expandedSize(doc.Content[0], map[*yaml.Node]int{}); n > maxExpandedNodes {
		return nil, &diag.Error{File: file, Line: at.Line, Column: at.Column,
			Msg:  fmt.Sprintf("YAML aliases expand to more than %d nodes", maxExpandedNodes),
			Hint: "remove the nested anchors and aliases (this looks like an alias bomb)"}
	}
	if dup := duplicateKey(doc.Content[0]); dup != nil {
		return nil, &diag.Error{File: file, Line: dup.second.Line, Column: dup.second.Column,
			Msg:  fmt.Sprintf("duplicate key %q (first at line %d)", dup.second.Value, dup.first.Line),
			Hint: "merge the two entries; YAML keeps only one of them"}
	}
	return doc.Content[0], nil
}

type dupKey struct{ first, second *yaml.Node }

// duplicateKey finds the first mapping below n that repeats a key. YAML
// parsers disagree on which copy wins, so a contract must not have one.
func duplicateKey(n *yaml.Node) *dupKey {
	if n.Kind == yaml.MappingNode {
		seen := make(map[string]*yaml.Node, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.ScalarNode {
				if first, ok := seen[k.Value]; ok {
					return &dupKey{first: first, second: k}
				}
				seen[k.Value] = k
			}
		}
	}
	for _, c := range n.Content {
		if d := duplicateKey(c); d != nil {
			return d
		}
	}
	return nil
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
		if size > maxExpandedNodes && culprit == nil {
			culprit = cc
			if culprit == nil {
				culprit = c
			}
		}
		if size > maxExpandedNodes {
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

// file returns the parsed tree of a workspace-relative file.
func (c *refChecker) file(name string) (*yaml.Node, error) {
	if n, ok := c.files[name]; ok {
		return n, nil
	}
	data, err := c.l.read(nil, &url.URL{Path: name})
	if err != nil {
		return nil, err
	}
	n, err := parseYAML(name, data)
	if err != nil {
		return nil, err
	}
	c.files[name] = n
	return n, nil
}

// check walks the file's tree and every file its $refs reach.
func (c *refChecker) check(name string, root *yaml.Node) error {
	c.files[name] = root
	todo := []string{name}
	done := map[string]bool{name: true}
	for len(todo) > 0 {
		cur := todo[0]
		todo = todo[1:]
		var walkErr error
		walk(c.files[cur], func(ref *yaml.Node) bool {
			target, err := c.resolve(cur, ref)
			if err != nil {
				walkErr = err
				return false
			}
			if !done[target.file] {
				done[target.file] = true
				todo = append(todo, target.file)
			}
			if err := c.chain(cur, ref, target); err != nil {
				walkErr = err
				return false
			}
			return true
		})
		if walkErr != nil {
			return walkErr
		}
	}
	return nil
}

// walk calls fn with the value node of every "$ref" key below n, in
// document order, until fn returns false.
func walk(n *yaml.Node, fn func(ref *yaml.Node) bool) bool {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "$ref" {
				if !fn(n.Content[i+1]) {
					return false
				}
				continue
			}
			if !walk(n.Content[i+1], fn) {
				return false
			}
		}
		return true
	}
	for _, c := range n.Content {
		if !walk(c, fn) {
			return false
		}
	}
	return true
}

// target is where a $ref points: a file and a node in it.
type target struct {
	file string
	ptr  string
	node *yaml.Node
}

func (t target) String() string { return t.file + "#" + t.ptr }

// resolve finds the node a $ref in file from points to.
func (c *refChecker) resolve(from string, ref *yaml.Node) (target, error) {
	at := func(msg, hint string) error {
		return &diag.Error{File: from, Line: ref.Line, Column: ref.Column, Msg: msg, Hint: hint}
	}
	if ref.Kind != yaml.ScalarNode || ref.Value == "" {
		return target{}, at("$ref must be a non-empty string", `write e.g. $ref: "#/components/schemas/Member"`)
	}
	u, err := url.Parse(ref.Value)
	if err != nil {
		return target{}, at(fmt.Sprintf("$ref %q is not a valid URI reference: %v", ref.Value, err), "")
	}
	if u.Scheme != "" || u.Host != "" {
		return target{}, at(fmt.Sprintf("$ref %q points to a remote document: refused", ref.Value), "copy the definitions into a file inside the workspace and $ref it by relative path")
	}
	file := from
	if u.Path != "" {
		if path.IsAbs(u.Path) {
			return target{}, at(fmt.Sprintf("$ref %q is an absolute path: refused", ref.Value), "use a path relative to this file, inside the workspace")
		}
		file = path.Join(path.Dir(from), u.Path)
		if file == ".." || strings.HasPrefix(file, "../") {
			return target{}, at(fmt.Sprintf("$ref %q leads outside the workspace: refused", ref.Value), "use a path relative to this file, inside the workspace")
		}
	}
	root, err := c.file(file)
	if err != nil {
		var de *diag.Error
		switch {
		case errors.As(err, &de):
			return target{}, err
		case errors.Is(err, fs.ErrNotExist):
			return target{}, at(fmt.Sprintf("$ref %q: file %s not found", ref.Value, file), "fix the path; it is relative to the file holding the $ref")
		case errors.Is(err, errRefused):
			return target{}, at(fmt.Sprintf("$ref %q: %v", ref.Value, err), "")
		}
		return target{}, at(fmt.Sprintf("$ref %q: %v", ref.Value, err), "")
	}
	node, err := pointer(root, u.Fragment)
	if err != nil {
		return target{}, at(fmt.Sprintf("$ref %q: %v", ref.Value, err), "")
	}
	return target{file: file, ptr: u.Fragment, node: node}, nil
}

// pointer follows a JSON pointer (RFC 6901) from root.
func pointer(root *yaml.Node, ptr string) (*yaml.Node, error) {
	if ptr == "" {
		return root, nil
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, fmt.Errorf("fragment %q must be a JSON pointer starting with \"/\"", ptr)
	}
	n := root
	walked := ""
	for tok := range strings.SplitSeq(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		var next *yaml.Node
		var keys []string
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				keys = append(keys, n.Content[i].Value)
				if n.Content[i].Value == tok {
					next = n.Content[i+1]
				}
			}
		case yaml.SequenceNode:
			var idx int
			if _, err := fmt.Sscan(tok, &idx); err == nil && idx >= 0 && idx < len(n.Content) {
				next = n.Content[idx]
			}
		}
		if next == nil {
			where := "#" + walked
			if walked == "" {
				where = "the top level"
			}
			msg := fmt.Sprintf("no %q in %s", tok, where)
			if len(keys) > 0 && len(keys) <= 20 {
				slices.Sort(keys)
				msg += " (it has: " + strings.Join(keys, ", ") + ")"
			}
			return nil, errors.New(msg)
		}
		walked += "/" + tok
		n = next
	}
	return n, nil
}

// chain follows a $ref whose target is itself only a $ref, and reports a
// cycle: such a chain never reaches a definition.
func (c *refChecker) chain(from string, ref *yaml.Node, t target) error {
	seen := []target{t}
	for {
		next := onlyRef(t.node)
		if next == nil {
			return nil
		}
		nt, err := c.resolve(t.file, next)
		if err != nil {
			return err
		}
		if i := slices.IndexFunc(seen, func(s target) bool { return s.String() == nt.String() }); i >= 0 {
			names := make([]string, 0, len(seen)-i+1)
			for _, s := range append(seen[i:], nt) {
				names = append(names, s.relativeTo(from))
			}
			return &diag.Error{File: from, Line: ref.Line, Column: ref.Column,
				Msg:  fmt.Sprintf("recursive $ref %q: %s never reaches a definition", ref.Value, strings.Join(names, " → ")),
				Hint: "point one of them at a real schema"}
		}
		seen = append(seen, nt)
		t = nt
	}
}

// relativeTo writes the target as a $ref from file would: "#/…" in the
// same file, "other.yaml#/…" otherwise.
func (t target) relativeTo(file string) string {
	if t.file == file {
		return "#" + t.ptr
	}
	return t.String()
}

// onlyRef returns the $ref value node of a mapping that holds nothing else.
func onlyRef(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "$ref" {
		return n.Content[1]
	}
	return nil
}
