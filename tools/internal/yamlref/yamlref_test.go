package yamlref_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"go.yaml.in/yaml/v3"

	"github.com/keiyaku/keiyaku/tools/internal/diag"
	"github.com/keiyaku/keiyaku/tools/internal/yamlref"
)

// files is the workspace the resolver tests read: a map stands in for the
// file system, so each test sees exactly what it declares.
var files = map[string]string{
	"a/doc.yaml": `channels:
  local:
    address: a
  remote:
    $ref: '../b/doc.yaml#/channels/events'
  chain:
    $ref: '#/channels/remote'
  loop1:
    $ref: '#/channels/loop2'
  loop2:
    $ref: '#/channels/loop1'
  walk:
    $ref: '#/channels/walk/x'
  odd~/key:
    address: escaped
list:
  - zero
  - one
`,
	"b/doc.yaml": `channels:
  events:
    address: b.events
    messages:
      Created:
        $ref: '#/components/messages/Created'
components:
  messages:
    Created:
      name: created
`,
	"b/empty.yaml": "# nothing\n",
	"b/bad.yaml":   "a: [\n",
}

func read(name string) ([]byte, error) {
	if s, ok := files[name]; ok {
		return []byte(s), nil
	}
	return nil, fs.ErrNotExist
}

// refAt returns a $ref value node holding ref, at line 7, column 9.
func refAt(ref string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: ref, Line: 7, Column: 9}
}

// TestResolve pins how a $ref found in a/doc.yaml resolves: relative
// files, JSON pointers that pass through other $refs (across files),
// escaped tokens, list indexes; and the positioned error of each way a
// $ref can be wrong, remote, absolute and escaping refs refused without a
// read.
func TestResolve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, ref string
		follow    bool
		// want is file#pointer of the target and the value of its
		// "address" or "name" key, or the error text.
		want, value, err string
	}{
		{name: "local", ref: "#/channels/local", want: "a/doc.yaml#/channels/local", value: "a"},
		{name: "other file", ref: "../b/doc.yaml#/channels/events", want: "b/doc.yaml#/channels/events", value: "b.events"},
		{name: "through a ref to another file", ref: "#/channels/remote/messages/Created", follow: true, want: "b/doc.yaml#/components/messages/Created", value: "created"},
		{name: "through two refs", ref: "#/channels/chain/address", want: "b/doc.yaml#/channels/events/address"},
		{name: "chain followed", ref: "#/channels/chain", follow: true, want: "b/doc.yaml#/channels/events", value: "b.events"},
		{name: "chain not followed", ref: "#/channels/chain", want: "a/doc.yaml#/channels/chain"},
		{name: "escaped token", ref: "#/channels/odd~0~1key", want: "a/doc.yaml#/channels/odd~0~1key", value: "escaped"},
		{name: "list index", ref: "#/list/1", want: "a/doc.yaml#/list/1"},
		{name: "whole file", ref: "../b/doc.yaml", want: "b/doc.yaml#"},
		{name: "missing key", ref: "#/channels/nope", err: `a/doc.yaml:7:9: $ref "#/channels/nope": no "nope" in #/channels (it has: chain, local, loop1, loop2, odd~/key, remote, walk)`},
		{name: "missing key behind a ref", ref: "#/channels/remote/nope", err: `a/doc.yaml:7:9: $ref "#/channels/remote/nope": no "nope" in #/channels/events of b/doc.yaml (it has: address, messages)`},
		{name: "index out of range", ref: "#/list/2", err: `a/doc.yaml:7:9: $ref "#/list/2": no "2" in #/list`},
		{name: "not a pointer", ref: "#channels", err: `a/doc.yaml:7:9: $ref "#channels": fragment "channels" must be a JSON pointer starting with "/"`},
		{name: "missing file", ref: "../c/doc.yaml#/x", err: `a/doc.yaml:7:9: $ref "../c/doc.yaml#/x": file c/doc.yaml not found; fix the path; it is relative to the file holding the $ref`},
		{name: "empty file", ref: "../b/empty.yaml#/x", err: `b/empty.yaml:1:1: empty document; a $ref points into this file, so it must hold the definitions`},
		{name: "invalid YAML", ref: "../b/bad.yaml#/a", err: `b/bad.yaml:1:1: invalid YAML: did not find expected node content`},
		{name: "remote", ref: "https://example.com/x.yaml#/a", err: `a/doc.yaml:7:9: $ref "https://example.com/x.yaml#/a" points to a remote document: refused; copy the definitions into a file inside the workspace and $ref it by relative path`},
		{name: "absolute", ref: "/etc/passwd", err: `a/doc.yaml:7:9: $ref "/etc/passwd" is an absolute path: refused; use a path relative to this file, inside the workspace`},
		{name: "outside", ref: "../../x.yaml", err: `a/doc.yaml:7:9: $ref "../../x.yaml" leads outside the workspace: refused; use a path relative to this file, inside the workspace`},
		{name: "empty", ref: "", err: `a/doc.yaml:7:9: $ref must be a non-empty string; write e.g. $ref: "#/components/schemas/Member"`},
		{name: "cycle", ref: "#/channels/loop1", follow: true, err: `a/doc.yaml:7:9: recursive $ref "#/channels/loop1": #/channels/loop1 → #/channels/loop2 → #/channels/loop1 never reaches a definition; point one of them at a real definition`},
		{name: "pointer through a loop", ref: "#/channels/loop1/address", err: `a/doc.yaml:7:9: $ref "#/channels/loop1/address": #/channels/loop1 is a loop of $refs that never reaches a definition`},
		{name: "pointer into itself", ref: "#/channels/walk/x", err: `a/doc.yaml:13:11: recursive $ref: "#/channels/walk/x" leads through more than 64 $refs; point it at a real definition`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := yamlref.NewResolver(read)
			resolve := r.Resolve
			if tt.follow {
				resolve = r.Follow
			}
			got, err := resolve("a/doc.yaml", refAt(tt.ref))
			if tt.err != "" {
				var de *diag.Error
				if err == nil || err.Error() != tt.err || !errors.As(err, &de) {
					t.Fatalf("error %v, want the *diag.Error %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tt.want {
				t.Errorf("target %s, want %s", got, tt.want)
			}
			if tt.value != "" {
				v := ""
				for i := 0; i+1 < len(got.Node.Content); i += 2 {
					if k := got.Node.Content[i].Value; k == "address" || k == "name" {
						v = got.Node.Content[i+1].Value
					}
				}
				if v != tt.value {
					t.Errorf("target holds %q, want %q", v, tt.value)
				}
			}
		})
	}
}

// TestResolveIdentity pins that a definition reached through different
// $refs is one node, which loaders use to share decoded definitions.
func TestResolveIdentity(t *testing.T) {
	t.Parallel()
	r := yamlref.NewResolver(read)
	a, err := r.Follow("a/doc.yaml", refAt("#/channels/remote/messages/Created"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Follow("a/doc.yaml", refAt("../b/doc.yaml#/components/messages/Created"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Node != b.Node {
		t.Error("one definition resolved to two nodes")
	}
}

// TestParse pins the parse errors: positioned invalid YAML, an empty
// document (nil, no error) and an alias bomb refused before expansion.
func TestParse(t *testing.T) {
	t.Parallel()
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		bomb += n + ": &" + n + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = n
	}
	tests := []struct {
		name, data, err string
		empty           bool
	}{
		{name: "ok", data: "a: 1\n"},
		{name: "empty", data: "# just a comment\n", empty: true},
		{name: "invalid", data: "a: 1\n b: 2\n", err: "x.yaml:2:1: invalid YAML: mapping values are not allowed in this context"},
		{name: "alias bomb", data: bomb, err: "x.yaml:6:44: YAML aliases expand to more than 1000000 nodes; remove the nested anchors and aliases (this looks like an alias bomb)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, err := yamlref.Parse("x.yaml", []byte(tt.data))
			switch {
			case tt.err != "":
				if err == nil || err.Error() != tt.err {
					t.Errorf("error %v, want %s", err, tt.err)
				}
			case err != nil:
				t.Errorf("error %v", err)
			case tt.empty != (n == nil):
				t.Errorf("node %v, want empty %v", n, tt.empty)
			}
		})
	}
}

// TestRootReader pins the reads through an os.Root: a symbolic link out of
// the workspace is ErrRefused, a missing file is fs.ErrNotExist, and a
// folder or an oversized file is an error rather than a read.
func TestRootReader(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.yaml"), []byte("a: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ok.yaml"), []byte("a: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "folder"), 0o755); err != nil {
		t.Fatal(err)
	}
	big, err := os.Create(filepath.Join(dir, "big.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := big.Truncate(yamlref.MaxFileSize + 1); err != nil { // sparse: costs no disk
		t.Fatal(err)
	}
	big.Close()
	symlinks := os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(dir, "link.yaml")) == nil
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	read := yamlref.RootReader(root)

	if data, err := read("ok.yaml"); err != nil || string(data) != "a: 1\n" {
		t.Errorf("ok.yaml: %q, %v", data, err)
	}
	if _, err := read("nope.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("nope.yaml: %v, want fs.ErrNotExist", err)
	}
	if _, err := read("folder"); err == nil || !strings.Contains(err.Error(), "is a folder") {
		t.Errorf("folder: %v, want an error", err)
	}
	if _, err := read("big.yaml"); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big.yaml: %v, want an error", err)
	}
	if symlinks {
		if _, err := read("link.yaml"); !errors.Is(err, yamlref.ErrRefused) {
			t.Errorf("link.yaml: %v, want ErrRefused", err)
		}
	}
}

// TestPointer pins that Pointer stays in one tree: a $ref on the way is
// not followed.
func TestPointer(t *testing.T) {
	t.Parallel()
	root, err := yamlref.Parse("a/doc.yaml", []byte(files["a/doc.yaml"]))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := yamlref.Pointer(root, "/channels/local/address"); err != nil || n.Value != "a" {
		t.Errorf("local address: %v, %v", n, err)
	}
	if _, err := yamlref.Pointer(root, "/channels/remote/messages"); err == nil || err.Error() != `no "messages" in #/channels/remote (it has: $ref)` {
		t.Errorf("through a $ref: %v", err)
	}
}

// BenchmarkFollowChain measures following every $ref of a 2,000-link chain
// (each schema a $ref to the next): memoized, each link is resolved once;
// before, every Follow re-walked the rest of the chain and scanned a list
// for cycles.
func BenchmarkFollowChain(b *testing.B) {
	var doc strings.Builder
	doc.WriteString("s:\n")
	const n = 2000
	for i := range n {
		fmt.Fprintf(&doc, "  s%d: {$ref: '#/s/s%d'}\n", i, i+1)
	}
	fmt.Fprintf(&doc, "  s%d: {type: string}\n", n)
	data := []byte(doc.String())
	for b.Loop() {
		root, err := yamlref.Parse("a.yaml", data)
		if err != nil {
			b.Fatal(err)
		}
		r := yamlref.NewResolver(func(string) ([]byte, error) { return nil, fs.ErrNotExist })
		r.Add("a.yaml", root)
		yamlref.Walk(root, func(_, ref *yaml.Node) bool {
			if _, err := r.Follow("a.yaml", ref); err != nil {
				b.Fatal(err)
			}
			return true
		})
	}
}

// TestUTF16 pins the error of a UTF-16 file: it names the encoding
// (before: "control characters are not allowed").
func TestUTF16(t *testing.T) {
	t.Parallel()
	for name, data := range map[string][]byte{
		"little endian, no BOM": {'a', 0, ':', 0, ' ', 0, '1', 0},
		"big endian BOM":        {0xFE, 0xFF, 0, 'a', 0, ':', 0, ' ', 0, '1'},
	} {
		read := yamlref.FSReader(fstest.MapFS{"a.yaml": {Data: data}})
		if _, err := read("a.yaml"); !errors.Is(err, yamlref.ErrEncoding) || !strings.Contains(err.Error(), "a.yaml is encoded in UTF-16") {
			t.Errorf("%s: error = %v, want ErrEncoding naming the file", name, err)
		}
	}
}
