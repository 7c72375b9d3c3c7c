package openapi

import (
	"net/url"

	"go.yaml.in/yaml/v3"

	"github.com/keiyaku/keiyaku/tools/internal/diag"
	"github.com/keiyaku/keiyaku/tools/internal/yamlref"
)

// parseYAML parses a contract: YAML that parses, no alias bomb, no
// duplicate key, not empty.
func parseYAML(file string, data []byte) (*yaml.Node, error) {
	n, err := yamlref.Parse(file, data)
	if err != nil {
		return nil, err
	}
	if n == nil {
		return nil, &diag.Error{File: file, Line: 1, Column: 1, Msg: "empty document", Hint: "an OpenAPI document starts with \"openapi: 3.0.3\""}
	}
	return n, nil
}

// checkRefs walks the tree of file and of every file its $refs reach,
// before kin-openapi loads them, so that each broken $ref is reported at
// its own line: a missing file or fragment, a URL or a path outside the
// workspace, a cycle of $refs that never reaches a definition. It returns
// the shortcuts of the chains of $refs it met (see chains.go).
func (l *Loader) checkRefs(file string, root *yaml.Node) ([]shortcut, error) {
	r := yamlref.NewResolver(func(name string) ([]byte, error) {
		return l.read(nil, &url.URL{Path: name})
	})
	r.Add(file, root)
	var cuts []shortcut
	todo, done := []string{file}, map[string]bool{file: true}
	for len(todo) > 0 {
		cur := todo[0]
		todo = todo[1:]
		tree, err := r.File(cur)
		if err != nil {
			return nil, err
		}
		var walkErr error
		yamlref.Walk(tree, func(key, ref *yaml.Node) bool {
			t, err := r.Follow(cur, ref)
			if err != nil {
				walkErr = err
				return false
			}
			if direct, err := r.Resolve(cur, ref); err == nil { // memoised by Follow
				if c, ok := shortcutFor(cur, key, ref, direct, t); ok {
					cuts = append(cuts, c)
				}
			}
			if !done[t.File] {
				done[t.File] = true
				todo = append(todo, t.File)
			}
			return true
		})
		if walkErr != nil {
			return nil, walkErr
		}
	}
	return cuts, nil
}
