package command

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/exitcode"
)

// TestSpecFileNames pins that a module's documents are found by any name:
// the defaults openapi.yaml/.yml/.json and asyncapi.yaml/.yml/.json, or
// the file modules[].openapi / asyncapi names; and that a named file that
// is missing is an error. Before, a module whose spec was openapi.json was
// linted but silently not generated (exit 0, no code).
func TestSpecFileNames(t *testing.T) {
	t.Parallel()
	const moduleKeys = "    service: pets\n"
	// The workspace's contracts $ref each other by relative path: a move
	// keeps those that the moved file is referenced by (shop's AsyncAPI
	// document, which nothing references) or fixes the moved file's own.
	for _, c := range []struct {
		name    string
		move    map[string]string // in contracts/: from → to
		fix     [2]string         // in the moved OpenAPI document: old → new text
		keys    string            // extra keys of the pets module
		wantErr string            // "" = generate writes gen/pets/v1/openapi.gen.go and gen/shop/v1/events.gen.go
	}{
		{"openapi.json by default", map[string]string{"pets/v1/openapi.yaml": "pets/v1/openapi.json"}, [2]string{}, "", ""},
		{"openapi.yml and asyncapi.yml by default", map[string]string{"pets/v1/openapi.yaml": "pets/v1/openapi.yml", "shop/v1/asyncapi.yaml": "shop/v1/asyncapi.yml"}, [2]string{}, "", ""},
		{"a named document in a sub-folder", map[string]string{"pets/v1/openapi.yaml": "pets/v1/api/swagger.yaml"},
			[2]string{"../../common/", "../../../common/"}, "    openapi: api/swagger.yaml\n", ""},
		{"a named document that is missing", nil, [2]string{}, "    openapi: api/swagger.json\n",
			`module "contracts/pets/v1": openapi "api/swagger.json": no such file contracts/pets/v1/api/swagger.json`},
		{"a named document outside the module", nil, [2]string{}, "    asyncapi: ../../shop/v1/asyncapi.yaml\n",
			`must be a file inside the module folder`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ws := workspace(t)
			mod := filepath.Join(ws, "contracts")
			for from, to := range c.move {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(mod, to)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(filepath.Join(mod, from), filepath.Join(mod, to)); err != nil {
					t.Fatal(err)
				}
				if c.fix[0] != "" {
					data, err := os.ReadFile(filepath.Join(mod, to))
					if err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(mod, to), []byte(strings.ReplaceAll(string(data), c.fix[0], c.fix[1])), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			cfgFile := filepath.Join(ws, "keiyaku.yaml")
			conf, err := os.ReadFile(cfgFile)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(conf), moduleKeys) {
				t.Fatalf("keiyaku.yaml of the test workspace changed:\n%s", conf)
			}
			conf = []byte(strings.Replace(string(conf), moduleKeys, moduleKeys+c.keys, 1))
			if err := os.WriteFile(cfgFile, conf, 0o644); err != nil {
				t.Fatal(err)
			}
			outputs := []string{"gen/pets/v1/openapi.gen.go", "gen/shop/v1/events.gen.go"}
			for _, f := range outputs {
				if err := os.Remove(filepath.Join(ws, f)); err != nil {
					t.Fatal(err)
				}
			}
			out, code := keiyaku(t, "--config", cfgFile, "generate")
			if c.wantErr != "" {
				if code != exitcode.Failure || !strings.Contains(out, c.wantErr) {
					t.Fatalf("generate = %d, want 1 with %q\n%s", code, c.wantErr, out)
				}
				return
			}
			if code != exitcode.OK {
				t.Fatalf("generate = %d\n%s", code, out)
			}
			for _, f := range outputs {
				if _, err := os.Stat(filepath.Join(ws, f)); err != nil {
					t.Errorf("generate exit 0 but %s is missing: %v\n%s", f, err, out)
				}
			}
			if out, code := keiyaku(t, "--config", cfgFile, "lint"); code == exitcode.Failure {
				t.Errorf("lint = %d\n%s", code, out)
			}
		})
	}
}
