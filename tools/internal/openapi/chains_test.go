package openapi

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

const chainHead = "openapi: 3.0.3\ninfo: {title: chains, version: '1'}\n"

// TestShortcutsKeepTheDocument pins that loading a document with its chains
// of $refs shortened for kin-openapi yields the document kin-openapi loads
// from the files as written (every $ref, every value, the positions), and
// that what cannot be told apart is loaded as written.
func TestShortcutsKeepTheDocument(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name      string
		files     map[string]string
		shortened bool // false: the loader falls back to the files as written
	}{
		{"local schema chain, every quoting", map[string]string{"openapi.yaml": chainHead + `paths:
  /a:
    get:
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/A'}
components:
  schemas:
    A: {$ref: "#/components/schemas/B"}
    B:
      $ref: '#/components/schemas/C'   # a comment
    C: {$ref: "#/components/schemas/D"}
    D:
      $ref: openapi.yaml#/components/schemas/E
    E: {type: object, properties: {e: {$ref: '#/components/schemas/A'}, f: {$ref: '#/components/schemas/C', description: sibling}}}
`}, true},
		{"chain across files and folders", map[string]string{
			"openapi.yaml": chainHead + `paths:
  /a:
    get:
      parameters: [{$ref: 'defs/params.yaml#/P1'}]
      responses:
        '200': {$ref: 'defs/responses.yaml#/R1'}
components:
  schemas:
    S: {$ref: 'defs/schemas.yaml#/S1'}
    T: {$ref: '#/components/schemas/S'}
`,
			"defs/params.yaml":    "P1: {$ref: '#/P2'}\nP2: {$ref: '../more/params.json#/P3'}\nP4: {name: q, in: query, schema: {$ref: 'schemas.yaml#/S2'}}\n",
			"more/params.json":    `{"P3": {"$ref": "../defs/params.yaml#/P4"}}`,
			"defs/params.yaml.md": "not read",
			"defs/responses.yaml": "R1: {$ref: '#/R2'}\nR2: {description: ok, content: {application/json: {schema: {$ref: '../openapi.yaml#/components/schemas/T'}}}}\n",
			"defs/schemas.yaml":   "S1: {$ref: '#/S2'}\nS2: {$ref: '#/S3'}\nS3: {type: string, format: uuid}\n",
		}, true},
		{"OpenAPI 3.1 siblings", map[string]string{"openapi.yaml": `openapi: 3.1.0
info: {title: chains, version: '1'}
paths: {}
components:
  schemas:
    A: {$ref: '#/components/schemas/B', description: an A}
    B: {$ref: '#/components/schemas/C'}
    C: {$ref: '#/components/schemas/D'}
    D: {type: integer}
`}, true},
		{"path item chain", map[string]string{"openapi.yaml": chainHead + `paths:
  /a: {$ref: 'items.yaml#/I1'}
`, "items.yaml": "I1: {$ref: '#/I2'}\nI2: {$ref: '#/I3'}\nI3: {get: {responses: {'204': {description: none}}}}\n"}, false},
		{"path item chain in one file", map[string]string{"openapi.yaml": `openapi: 3.1.0
info: {title: chains, version: '1'}
paths:
  /a: {$ref: '#/components/pathItems/P1'}
components:
  pathItems:
    P1: {$ref: '#/components/pathItems/P2'}
    P2: {$ref: '#/components/pathItems/P3'}
    P3: {get: {responses: {'204': {description: none}}}}
`}, false},
		{"$ref in an example", map[string]string{"openapi.yaml": chainHead + `paths: {}
components:
  schemas:
    A: {$ref: '#/components/schemas/B'}
    B: {$ref: '#/components/schemas/C'}
    C:
      type: object
      example: {$ref: '#/components/schemas/B'}
`}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for name, content := range c.files {
				if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
					t.Fatal(err)
				}
				write(t, dir, name, content)
			}
			short, plain := loadBoth(t, dir, "openapi.yaml")
			if (short != nil) != c.shortened {
				t.Fatalf("shortened load used = %t, want %t", short != nil, c.shortened)
			}
			if short == nil {
				// The loader falls back to the files as written.
				return
			}
			if got, want := marshal(t, short), marshal(t, plain); got != want {
				t.Errorf("shortened load differs:\n%s\nwant\n%s", got, want)
			}
			if got, want := refSites(short), refSites(plain); got != want {
				t.Errorf("$refs and their positions differ:\n%s\nwant\n%s", got, want)
			}
			l, err := NewLoader(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if _, err := l.Load(t.Context(), "openapi.yaml"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestShortcutsKeepErrors pins that a chain ending at the wrong kind of
// object or in a cycle is reported as it was.
func TestShortcutsKeepErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, doc, want string }{
		{"cycle", chainHead + "paths: {}\ncomponents:\n  schemas:\n    A: {$ref: '#/components/schemas/B'}\n    B: {$ref: '#/components/schemas/C'}\n    C: {$ref: '#/components/schemas/B'}\n",
			`openapi.yaml:6:15: recursive $ref "#/components/schemas/B": #/components/schemas/B → #/components/schemas/C → #/components/schemas/B never reaches a definition`},
		{"chain to a bad schema", chainHead + "paths: {}\ncomponents:\n  schemas:\n    A: {$ref: '#/components/schemas/B'}\n    B: {$ref: '#/components/schemas/C'}\n    C: {type: strin}\n",
			`openapi.yaml:8:5: schema "A": unsupported 'type' value "strin"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			write(t, dir, "openapi.yaml", c.doc)
			l, err := NewLoader(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			_, err = l.Load(t.Context(), "openapi.yaml")
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("error = %v\nwant prefix %s", err, c.want)
			}
		})
	}
}

// loadBoth loads file with its chains shortened (nil when the loader would
// fall back) and as written.
func loadBoth(t *testing.T, dir, file string) (short, plain *openapi3.T) {
	t.Helper()
	l, err := NewLoader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.cache = map[string][]byte{}
	data, err := l.readFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cuts, err := l.precheck(file, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(cuts) == 0 {
		t.Fatal("no chain to shorten")
	}
	// Every $ref of the fixtures is written on one line: all apply.
	byFile := map[string][]shortcut{}
	for _, c := range cuts {
		byFile[c.file] = append(byFile[c.file], c)
	}
	for f, fc := range byFile {
		if _, applied := applyShortcuts(l.cache[f], fc); len(applied) != len(fc) {
			t.Errorf("%s: %d of %d shortcuts applied", f, len(applied), len(fc))
		}
	}
	short = l.loadShortened(t.Context(), file, data, cuts)
	if plain, err = l.kinLoad(t.Context(), file, data); err != nil {
		t.Fatal(err)
	}
	return short, plain
}

func marshal(t *testing.T, doc *openapi3.T) string {
	t.Helper()
	b, err := json.MarshalIndent(doc, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// refSites lists every $ref reachable in doc with the position of its key,
// sorted.
func refSites(doc *openapi3.T) string {
	var sites []string
	walkRefs(doc, func(_, ref reflect.Value, o *openapi3.Origin) bool {
		if ref.String() == "" {
			return true
		}
		var loc openapi3.Location
		if o != nil {
			loc, _ = o.Fields.Lookup("$ref")
		}
		sites = append(sites, fmt.Sprintf("%s:%d:%d %s", loc.File, loc.Line, loc.Column, ref.String()))
		return true
	}, func(string) bool { return true })
	slices.Sort(sites)
	return strings.Join(sites, "\n")
}
