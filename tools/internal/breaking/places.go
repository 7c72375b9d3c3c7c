package breaking

import (
	"maps"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// SourceReader reads a contract file a change's position names: from the
// baseline when base is true, else from the revision. The names are the
// ones the loader gave the files.
type SourceReader func(base bool, file string) ([]byte, error)

// pos is a position in one side's file.
type pos struct {
	base      bool
	file      string
	line, col int
}

// pointers maps positions in contract files to the JSON pointers of the
// nodes there, reading each file once and only for the positions asked.
type pointers struct {
	read SourceReader
	want map[pos]bool
	got  map[pos]string
}

// index finds the JSON pointer of every wanted position.
func (p *pointers) index() {
	p.got = map[pos]string{}
	if p.read == nil {
		return
	}
	type fileKey struct {
		base bool
		file string
	}
	files := map[fileKey]bool{}
	for w := range p.want {
		files[fileKey{w.base, w.file}] = true
	}
	// The files (the baseline's and the revision's, 3.9 MB each for the
	// Stripe pair) are parsed at once; the walks record under mu.
	var wg sync.WaitGroup
	var mu sync.Mutex
	for fk := range files {
		wg.Go(func() {
			data, err := p.read(fk.base, fk.file)
			if err != nil {
				return // no place for this file's changes: they keep their line
			}
			var doc yaml.Node
			if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
				return
			}
			got := map[pos]string{}
			p.walk(got, fk.base, fk.file, doc.Content[0], "#")
			mu.Lock()
			maps.Copy(p.got, got)
			mu.Unlock()
		})
	}
	wg.Wait()
}

func (p *pointers) record(got map[pos]string, base bool, file string, n *yaml.Node, ptr string) {
	k := pos{base, file, n.Line, n.Column}
	if p.want[k] {
		if _, ok := got[k]; !ok {
			got[k] = ptr
		}
	}
}

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func (p *pointers) walk(got map[pos]string, base bool, file string, n *yaml.Node, ptr string) {
	p.record(got, base, file, n, ptr)
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			child := ptr + "/" + pointerEscaper.Replace(k.Value)
			p.record(got, base, file, k, child)
			p.walk(got, base, file, v, child)
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			child := ptr + "/" + strconv.Itoa(i)
			if v.Kind == yaml.ScalarNode && strings.HasSuffix(ptr, "/required") {
				// An entry of "required" is about the property it names.
				child = strings.TrimSuffix(ptr, "/required") + "/properties/" + pointerEscaper.Replace(v.Value)
			}
			p.walk(got, base, file, v, child)
		}
	}
}

// place trims a JSON pointer to the component and property a change is
// at: up to the last "properties/<name>", else up to the schema that holds
// it (anyOf, oneOf, allOf, items, enum and keyword tails dropped).
func place(ptr string) string {
	parts := strings.Split(ptr, "/")
	for i := len(parts) - 2; i >= 1; i-- {
		if parts[i] == "properties" && (i == 0 || parts[i-1] != "properties") {
			return strings.Join(parts[:i+2], "/")
		}
	}
	for i := 1; i < len(parts); i++ {
		switch parts[i] {
		case "anyOf", "oneOf", "allOf", "enum", "type", "items", "nullable", "format", "maxLength", "minLength", "maximum", "minimum", "pattern", "required", "default":
			if i >= 3 {
				return strings.Join(parts[:i], "/")
			}
		}
	}
	return ptr
}
