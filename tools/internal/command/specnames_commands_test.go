package command

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/exitcode"
)

// TestSpecFileNamesEveryCommand pins that documents named in keiyaku.yaml
// (modules[].openapi / asyncapi, here in sub-folders) are read by every
// command, not only by lint and generate: before, breaking, export and docs
// looked for asyncapi.yaml and for OpenAPI files at the top of the module
// folder, so a break in a renamed document passed the gate unseen.
func TestSpecFileNamesEveryCommand(t *testing.T) {
	t.Parallel()
	ws := workspace(t)
	pets := filepath.Join(ws, "contracts", "pets", "v1")
	move := func(from, to string, fix ...string) {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(ws, from))
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		for i := 0; i+1 < len(fix); i += 2 {
			if !strings.Contains(text, fix[i]) {
				t.Fatalf("%s has no %q", from, fix[i])
			}
			text = strings.ReplaceAll(text, fix[i], fix[i+1])
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(ws, to)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ws, to), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if from != to {
			if err := os.Remove(filepath.Join(ws, from)); err != nil {
				t.Fatal(err)
			}
		}
	}
	move("contracts/pets/v1/openapi.yaml", "contracts/pets/v1/api/swagger.yaml", "../../common/", "../../../common/")
	move("contracts/pets/v1/asyncapi.yaml", "contracts/pets/v1/events/pets.yml", "./avro/", "../avro/")
	move("contracts/shop/v1/asyncapi.yaml", "contracts/shop/v1/asyncapi.yaml", "../../pets/v1/asyncapi.yaml", "../../pets/v1/events/pets.yml")
	cfg := filepath.Join(ws, "keiyaku.yaml")
	move("keiyaku.yaml", "keiyaku.yaml", "    service: pets\n", "    service: pets\n    openapi: api/swagger.yaml\n    asyncapi: events/pets.yml\n")
	git(t, ws, "init", "-q", "-b", "main")
	git(t, ws, "add", ".")
	git(t, ws, "commit", "-q", "-m", "contracts under other names")
	against := "--against=" + filepath.Join(ws, ".git") + "#branch=main"

	for _, args := range [][]string{
		{"lint"},
		{"breaking", against},
		{"docs", "-o", filepath.Join(t.TempDir(), "site"), "--changelog-from=" + filepath.Join(ws, ".git") + "#branch=main"},
	} {
		if out, code := keiyaku(t, append([]string{"--config", cfg}, args...)...); code != exitcode.OK {
			t.Fatalf("keiyaku %s = %d, want 0\n%s", args[0], code, out)
		}
	}
	dist := filepath.Join(t.TempDir(), "dist")
	if out, code := keiyaku(t, "--config", cfg, "export", ws, "-o", dist); code != exitcode.OK {
		t.Fatalf("export = %d\n%s", code, out)
	}
	for _, f := range []string{"contracts/pets/v1/api/swagger.yaml", "contracts/pets/v1/events/pets.yml", "contracts/common/v1/common.yaml"} {
		if _, err := os.Stat(filepath.Join(dist, f)); err != nil {
			t.Errorf("export left out %s (reached from the named documents): %v", f, err)
		}
	}

	// A break in each renamed document is caught by the gate.
	for _, c := range []struct {
		file, old, new, want string
	}{
		{"api/swagger.yaml", "  /pets/{petId}:", "  /animals/{petId}:", "swagger.yaml"},
		{"events/pets.yml", "example.pets.events.v1", "example.pets.events.v2", "pets.yml"},
	} {
		before, err := os.ReadFile(filepath.Join(pets, c.file))
		if err != nil {
			t.Fatal(err)
		}
		move("contracts/pets/v1/"+c.file, "contracts/pets/v1/"+c.file, c.old, c.new)
		out, code := keiyaku(t, "--config", cfg, "breaking", against)
		if code != exitcode.Findings || !strings.Contains(out, c.want) {
			t.Errorf("breaking after changing %s = %d, want 100 naming %s\n%s", c.file, code, c.want, out)
		}
		if err := os.WriteFile(filepath.Join(pets, c.file), before, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
