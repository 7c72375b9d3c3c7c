package initcmd_test

import (
	"bytes"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/command"
	"github.com/keiyaku/keiyaku/tools/internal/exitcode"
)

func keiyaku(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	cmd := command.New("keiyaku")
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(t.Context()); err != nil {
		out.WriteString("error: " + err.Error() + "\n")
		return out.String(), exitcode.Of(err)
	}
	return out.String(), exitcode.OK
}

// tree returns every file below dir with its content.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func write(t *testing.T, dir, name, data string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestInitNewRepository pins what init writes in an empty repository: the
// starter set, whose contracts pass every lint rule; and that a second
// init changes nothing and says why.
func TestInitNewRepository(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, ".gitignore", "bin/\n.keiyaku/")
	out, code := keiyaku(t, "init", "--dir", dir, "--service", "orders", "--module", "example.com/orders")
	if code != exitcode.OK {
		t.Fatalf("init = %d\n%s", code, out)
	}
	got := tree(t, dir)
	var names []string
	for n := range got {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{".github/workflows/keiyaku.yml", ".gitignore", "Makefile", "cmd/orders/main.go",
		"contracts/orders/v1/asyncapi.yaml", "contracts/orders/v1/avro/ItemCreated.avsc", "contracts/orders/v1/openapi.yaml",
		"go.mod", "keiyaku.yaml"}
	if !slices.Equal(names, want) {
		t.Fatalf("files = %v, want %v", names, want)
	}
	if g := got[".gitignore"]; g != "bin/\n.keiyaku/\ndata/\n" {
		t.Errorf(".gitignore = %q: want the missing line appended, nothing repeated", g)
	}
	if !strings.HasPrefix(got["go.mod"], "module example.com/orders\n") {
		t.Errorf("go.mod = %q", got["go.mod"])
	}
	for _, s := range []string{`ordersv1 "example.com/orders/gen/orders/v1"`, "embedded.Start", "ordersv1.RegisterEventHandler", "parts.NewHTTPServer"} {
		if !strings.Contains(got["cmd/orders/main.go"], s) {
			t.Errorf("main.go lacks %q", s)
		}
	}

	// The starter contracts pass every rule, with no warning.
	out, code = keiyaku(t, "--config", filepath.Join(dir, "keiyaku.yaml"), "lint")
	if code != exitcode.OK || !strings.Contains(out, "0 warnings, no errors") {
		t.Fatalf("lint of the starter set = %d\n%s", code, out)
	}

	out, code = keiyaku(t, "init", "--dir", dir, "--service", "orders", "--module", "example.com/orders")
	if code != exitcode.Failure || !strings.Contains(out, "keiyaku.yaml already exists") {
		t.Fatalf("second init = %d, want 1 saying it is initialized\n%s", code, out)
	}
	if again := tree(t, dir); !maps.Equal(again, got) {
		t.Error("second init changed files")
	}
}

// TestInitNeverOverwrites pins that init writes nothing when one of its
// files exists, and that an existing Makefile gets keiyaku.mk beside it.
func TestInitNeverOverwrites(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, "cmd/orders/main.go", "package main\n")
	write(t, dir, "Makefile", "all:\n")
	before := tree(t, dir)
	out, code := keiyaku(t, "init", "--dir", dir, "--service", "orders", "--module", "example.com/orders")
	if code != exitcode.Failure || !strings.Contains(out, "cmd/orders/main.go already exist") {
		t.Fatalf("init over a file = %d\n%s", code, out)
	}
	if after := tree(t, dir); !maps.Equal(before, after) {
		t.Errorf("init wrote files although it failed: %v", after)
	}

	if err := os.Remove(filepath.Join(dir, "cmd/orders/main.go")); err != nil {
		t.Fatal(err)
	}
	out, code = keiyaku(t, "init", "--dir", dir, "--service", "orders", "--module", "example.com/orders")
	if code != exitcode.OK || !strings.Contains(out, "wrote    keiyaku.mk") || !strings.Contains(out, `add "include keiyaku.mk"`) {
		t.Fatalf("init beside a Makefile = %d\n%s", code, out)
	}
	if got := tree(t, dir)["Makefile"]; got != "all:\n" {
		t.Errorf("Makefile changed: %q", got)
	}
}

// TestInitExistingRepository pins the adoption of a repository with
// contracts in folders of its own: keiyaku.yaml lists their folders (file
// names kept, named in comments) and nothing else changes.
func TestInitExistingRepository(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, "README.md", "# legacy\n")
	write(t, dir, "api/petstore.yaml", "openapi: 3.0.3\ninfo: {title: p, version: '1'}\npaths: {}\n")
	write(t, dir, "api/events/asyncapi.yaml", "asyncapi: 3.0.0\n")
	write(t, dir, "api/events/avro/PetAdded.avsc", `{"type":"record","name":"PetAdded","fields":[]}`)
	write(t, dir, "docs/notes.yaml", "title: not a contract\ninfo:\n  openapi: a nested key\n")
	write(t, dir, "node_modules/x/openapi.yaml", "openapi: 3.0.3\n")
	before := tree(t, dir)

	out, code := keiyaku(t, "init", "--dir", dir)
	if code != exitcode.OK {
		t.Fatalf("init = %d\n%s", code, out)
	}
	after := tree(t, dir)
	cfg := after["keiyaku.yaml"]
	delete(after, "keiyaku.yaml")
	if !maps.Equal(before, after) {
		t.Error("init changed files other than keiyaku.yaml")
	}
	for _, s := range []string{
		"  - path: api\n    # petstore.yaml (OpenAPI)\n    openapi: petstore.yaml\n",
		"  - path: api/events\n    # asyncapi.yaml (AsyncAPI)\n    # avro/PetAdded.avsc (Avro)\n",
	} {
		if !strings.Contains(cfg, s) {
			t.Errorf("keiyaku.yaml lacks %q:\n%s", s, cfg)
		}
	}
	for _, s := range []string{"node_modules", "docs"} {
		if strings.Contains(cfg, s) {
			t.Errorf("keiyaku.yaml lists %s:\n%s", s, cfg)
		}
	}

	out, code = keiyaku(t, "init", "--dir", dir, "--service", "x")
	if code != exitcode.Failure || !strings.Contains(out, "already exists") {
		t.Fatalf("second init = %d\n%s", code, out)
	}
}

// TestInitBadInput pins the errors that say how to fix the call.
func TestInitBadInput(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "no contracts found"},
		{[]string{"--service", "Orders!", "--module", "example.com/o"}, `service name "Orders!": use a lower-case word`},
		{[]string{"--service", "orders"}, "go module path: give one, e.g. example.com/orders"},
	} {
		dir := t.TempDir()
		out, code := keiyaku(t, append([]string{"init", "--dir", dir}, c.args...)...)
		if code != exitcode.Failure || !strings.Contains(out, c.want) {
			t.Errorf("init %v = %d, want 1 with %q\n%s", c.args, code, c.want, out)
		}
		if files := tree(t, dir); len(files) != 0 {
			t.Errorf("init %v wrote %v", c.args, files)
		}
	}
	// A contract at the repository root (as the AsyncAPI Kafka tutorial's
	// single file often sits) cannot be a module: init says where to move
	// it and writes nothing.
	dir := t.TempDir()
	doc := "asyncapi: 3.0.0\ninfo: {title: T, version: 1.0.0}\n"
	if err := os.WriteFile(filepath.Join(dir, "user-signup.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := keiyaku(t, "init", "--dir", dir)
	want := "user-signup.yaml is at the root of " + dir + ", and a keiyaku module is a folder of its own: move it into one, e.g. mkdir -p contracts/<service>/v1 && git mv user-signup.yaml contracts/<service>/v1/"
	if code != exitcode.Failure || !strings.Contains(out, want) {
		t.Errorf("init with a contract at the root = %d, want 1 with %q\n%s", code, want, out)
	}
	if files := tree(t, dir); len(files) != 1 {
		t.Errorf("init with a contract at the root left %v, want only the contract", files)
	}
}
