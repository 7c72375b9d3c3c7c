package openapi

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/keiyaku/keiyaku/tools/internal/diag"
	"github.com/keiyaku/keiyaku/tools/internal/yamlref"
)

// writeChain writes a workspace whose openapi.yaml holds a chain of n
// schemas, each a $ref to the next, the last a definition. With split,
// every other link sits in other.yaml, so that the chain crosses files at
// every step.
func writeChain(t testing.TB, n int, split bool) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]*strings.Builder{"openapi.yaml": {}, "other.yaml": {}}
	files["openapi.yaml"].WriteString("openapi: 3.0.3\ninfo: {title: chain, version: '1'}\npaths:\n  /x:\n    get:\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {$ref: '#/components/schemas/S0'}\ncomponents:\n  schemas:\n")
	files["other.yaml"].WriteString("components:\n  schemas:\n")
	in := func(i int) string {
		if split && i%2 == 1 {
			return "other.yaml"
		}
		return "openapi.yaml"
	}
	for i := range n {
		target := ""
		if in(i+1) != in(i) {
			target = in(i + 1)
		}
		fmt.Fprintf(files[in(i)], "    S%d: {$ref: '%s#/components/schemas/S%d'}\n", i, target, i+1)
	}
	fmt.Fprintf(files[in(n)], "    S%d: {type: string}\n", n)
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// loadChain loads the chain's document the way lint and generate do (Load)
// or the way breaking and export do (Resolve).
func loadChain(t testing.TB, dir string, resolve bool) {
	l, err := NewLoader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	load := l.Load
	if resolve {
		load = l.Resolve
	}
	if _, err := load(t.Context(), "openapi.yaml"); err != nil {
		t.Fatal(err)
	}
}

// TestRefChainLoads pins that a chain of $refs across two files loads:
// Keiyaku's own $ref check resolves each $ref once and each file is read
// once per load (400 links took 3.9 s), and kin-openapi reads the chain
// shortened (see chains.go). BenchmarkRefChain measures the whole.
func TestRefChainLoads(t *testing.T) {
	t.Parallel()
	loadChain(t, writeChain(t, 400, true), false)
}

// BenchmarkRefChain measures loading a chain of 2,000 $refs (goal ≤ 1 s;
// kin-openapi alone took 4.5 s, quadratic in the chain's length).
func BenchmarkRefChain(b *testing.B) {
	for _, c := range []struct {
		n              int
		split, resolve bool
	}{{200, false, false}, {2000, false, false}, {200, true, false}, {2000, true, false}, {2000, true, true}} {
		name := fmt.Sprintf("%d/split=%t", c.n, c.split)
		if c.resolve {
			name += "/resolve"
		}
		b.Run(name, func(b *testing.B) {
			dir := writeChain(b, c.n, c.split)
			for b.Loop() {
				loadChain(b, dir, c.resolve)
			}
		})
	}
}

// TestLoadRefusals pins the errors of reads the loader refuses: each names
// the file and, for a $ref, the $ref's own line.
func TestLoadRefusals(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "x.yaml"), []byte("x: {type: string}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const head = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\n"
	refDoc := head + "paths:\n  /a:\n    get:\n      responses:\n        '200': {$ref: 'link.yaml#/x'}\n"
	for _, c := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"top-level file above the size cap", func(t *testing.T, dir string) {
			// Before, the module's own document was read whole, whatever
			// its size (a 200 MB file: 9.7 s, 1.35 GB).
			big := append([]byte(head+"paths: {}\n#"), make([]byte, yamlref.MaxFileSize)...)
			write(t, dir, "openapi.yaml", string(big))
		}, "openapi.yaml: cannot read: openapi.yaml is larger than 16777216 bytes"},
		{"UTF-16 document", func(t *testing.T, dir string) {
			var b []byte
			for _, r := range head + "paths: {}\n" {
				b = append(b, byte(r), 0)
			}
			write(t, dir, "openapi.yaml", string(b))
		}, "openapi.yaml: cannot read: openapi.yaml is encoded in UTF-16; contracts are read as UTF-8: save it as UTF-8"},
		{"$ref through a symlink out of the workspace", func(t *testing.T, dir string) {
			write(t, dir, "openapi.yaml", refDoc)
			if err := os.Symlink(filepath.Join(outside, "x.yaml"), filepath.Join(dir, "link.yaml")); err != nil {
				t.Fatal(err)
			}
		}, `openapi.yaml:7:23: $ref "link.yaml#/x": refused: link.yaml leads outside the workspace`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			c.setup(t, dir)
			l, err := NewLoader(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			_, err = l.Load(t.Context(), "openapi.yaml")
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("error = %v\nwant prefix %s", err, c.want)
			}
			var de *diag.Error
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not positioned", err)
			}
		})
	}
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestJSONDocumentStartKeepsPositions pins that the document start marker
// put before a pretty-printed JSON document (withDocumentStart, for
// speed) changes no position kin-openapi records: the root's, an
// operation's, a component schema's and a property's are those of the
// same document loaded by kin-openapi as it is.
func TestJSONDocumentStartKeepsPositions(t *testing.T) {
	t.Parallel()
	const doc = `{
  "openapi": "3.0.3",
  "info": {"title": "t", "version": "1"},
  "paths": {
    "/pets": {
      "get": {
        "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}}
      }
    }
  },
  "components": {"schemas": {"Pet": {"type": "object", "properties": {"name": {"type": "string"}}}}}
}
`
	if !bytes.HasPrefix(withDocumentStart([]byte(doc)), []byte(documentStart)) {
		t.Fatal("no document start marker before a pretty-printed JSON document")
	}
	got, err := NewLoaderFS(fstest.MapFS{"openapi.json": {Data: []byte(doc)}}).Resolve(t.Context(), "openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	kl := openapi3.NewLoader()
	kl.IncludeOrigin = true
	want, err := kl.LoadFromDataWithPath([]byte(doc), &url.URL{Path: "openapi.json"})
	if err != nil {
		t.Fatal(err)
	}
	origins := func(d *openapi3.T) map[string]*openapi3.Origin {
		pet := d.Components.Schemas["Pet"].Value
		return map[string]*openapi3.Origin{
			"root":          d.Origin,
			"GET /pets":     d.Paths.Value("/pets").Get.Origin,
			"schema Pet":    pet.Origin,
			"property name": pet.Properties["name"].Value.Origin,
		}
	}
	g, w := origins(got), origins(want)
	for name, o := range w {
		if o == nil || o.Key == nil {
			t.Fatalf("%s: kin-openapi recorded no origin", name)
		}
		if !reflect.DeepEqual(g[name], o) {
			t.Errorf("%s: origin %+v, want %+v", name, g[name].Key, o.Key)
		}
	}
}
