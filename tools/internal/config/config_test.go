package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/diag"
)

// file is the name Parse is given; errors start with it.
const file = "keiyaku.yaml"

// lines joins its arguments with newlines, for readable YAML in tables.
func lines(l ...string) string { return strings.Join(l, "\n") + "\n" }

func parse(t *testing.T, data string) *config.Config {
	t.Helper()
	cfg, err := config.Parse(file, []byte(data))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, data)
	}
	return cfg
}

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	cfg := parse(t, lines(
		"version: v1",
		"modules:",
		"  - path: contracts/member/v1",
		"    service: member",
		"generate:",
		"  go_module: example.com/ws",
	))
	if cfg.Version != "v1" || cfg.File != file || cfg.Root != "" {
		t.Errorf("Version, File, Root = %q, %q, %q", cfg.Version, cfg.File, cfg.Root)
	}
	if cfg.Generate.Out != "gen" {
		t.Errorf("Generate.Out = %q, want gen", cfg.Generate.Out)
	}
	if len(cfg.Modules) != 1 {
		t.Fatalf("modules: %+v", cfg.Modules)
	}
	m := cfg.Modules[0]
	for _, c := range []struct{ what, got, want string }{
		{"Path", m.Path, "contracts/member/v1"},
		{"Service", m.Service, "member"},
		{"Name", m.Name(), "member/v1"},
		{"GoPackage", m.GoPackage(), "memberv1"},
		{"OutDir", cfg.OutDir(m), "gen/member/v1"},
		{"ImportPath", cfg.ImportPath(m), "example.com/ws/gen/member/v1"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if !m.Generated() {
		t.Error("Generated() = false without generate: false")
	}
	if m.Line != 3 || m.Column != 5 {
		t.Errorf("module at %d:%d, want 3:5", m.Line, m.Column)
	}
	if got, ok := cfg.Module("contracts/member/v1"); !ok || got.Path != m.Path {
		t.Errorf("Module(contracts/member/v1) = %+v, %v", got, ok)
	}
	if _, ok := cfg.Module("contracts/nope/v1"); ok {
		t.Error("Module(contracts/nope/v1) found")
	}
}

// TestParseModules checks the names derived from each module of a valid
// configuration.
func TestParseModules(t *testing.T) {
	t.Parallel()
	cfg := parse(t, lines(
		"version: v1 # comment",
		"modules:",
		"  - path: contracts/shared/v1",
		"    generate: false",
		"  - path: contracts/member/v1",
		"    service: member",
		"    generate: true",
		"  - path: contracts/billing/invoice/v2",
		"    service: billing",
		"    uses:",
		"      - module: contracts/member/v1",
		"      - module: contracts/room-service/v1",
		"  - path: contracts/room-service/v1",
		"    service: room",
		"    package: rooms",
		"    uses: []",
		"  - path: contracts/Legacy_API/v1",
		"    uses:",
		"  - path: api/search/v3",
		"generate:",
		"  out: internal/gen",
		"  go_module: example.com/hotel",
	))
	type want struct {
		path, name, pkg, outDir, importPath string
		generated                           bool
		line, col                           int
	}
	wants := []want{
		{"contracts/shared/v1", "shared/v1", "sharedv1", "internal/gen/shared/v1", "example.com/hotel/internal/gen/shared/v1", false, 3, 5},
		{"contracts/member/v1", "member/v1", "memberv1", "internal/gen/member/v1", "example.com/hotel/internal/gen/member/v1", true, 5, 5},
		{"contracts/billing/invoice/v2", "billing/invoice/v2", "invoicev2", "internal/gen/billing/invoice/v2", "example.com/hotel/internal/gen/billing/invoice/v2", true, 8, 5},
		{"contracts/room-service/v1", "room-service/v1", "rooms", "internal/gen/room-service/v1", "example.com/hotel/internal/gen/room-service/v1", true, 13, 5},
		{"contracts/Legacy_API/v1", "Legacy_API/v1", "legacyapiv1", "internal/gen/Legacy_API/v1", "example.com/hotel/internal/gen/Legacy_API/v1", true, 17, 5},
		{"api/search/v3", "api/search/v3", "searchv3", "internal/gen/api/search/v3", "example.com/hotel/internal/gen/api/search/v3", true, 19, 5},
	}
	if len(cfg.Modules) != len(wants) {
		t.Fatalf("%d modules, want %d", len(cfg.Modules), len(wants))
	}
	for i, w := range wants {
		m := cfg.Modules[i]
		got := want{m.Path, m.Name(), m.GoPackage(), cfg.OutDir(m), cfg.ImportPath(m), m.Generated(), m.Line, m.Column}
		if got != w {
			t.Errorf("module %d:\n got %+v\nwant %+v", i, got, w)
		}
	}
	uses := cfg.Modules[2].Uses
	if len(uses) != 2 ||
		uses[0] != (config.Use{Module: "contracts/member/v1", Line: 11, Column: 9}) ||
		uses[1] != (config.Use{Module: "contracts/room-service/v1", Line: 12, Column: 9}) {
		t.Errorf("uses = %+v", uses)
	}
	if len(cfg.Modules[3].Uses) != 0 || len(cfg.Modules[4].Uses) != 0 {
		t.Errorf("empty uses decoded as %+v and %+v", cfg.Modules[3].Uses, cfg.Modules[4].Uses)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	// mod is a valid module list, for cases about other keys.
	mod := "modules:\n  - path: contracts/x/v1\n"
	for _, c := range []struct {
		name, data, want string
	}{
		{"empty file", "",
			`keiyaku.yaml: empty file; it needs at least "version: v1"`},
		{"comments only", "# nothing yet\n",
			`keiyaku.yaml: empty file; it needs at least "version: v1"`},
		{"invalid YAML", lines("version: v1", "modules: ["),
			"keiyaku.yaml:2:1: invalid YAML: did not find expected node content"},
		{"tab indentation", lines("version: v1", "modules:", "  - path: a", "\tservice: x"),
			"keiyaku.yaml:3:1: invalid YAML: found a tab character that violates indentation"},
		{"top level not a mapping", lines("- version: v1", "- modules: []"),
			"keiyaku.yaml:1:1: the file must be a mapping of keys such as version and modules"},
		{"top level a scalar", "v1\n",
			"keiyaku.yaml:1:1: the file must be a mapping of keys such as version and modules"},
		{"unknown top-level key", lines("version: v1", "modulez:", "  - path: a"),
			`keiyaku.yaml:2:1: unknown key "modulez" in the top level; known keys: breaking, deps, generate, lint, modules, version`},
		{"unknown module key", lines("version: v1", "modules:", "  - path: contracts/x/v1", "    servce: x"),
			`keiyaku.yaml:4:5: unknown key "servce" in modules[0]; known keys: asyncapi, generate, openapi, openapi_codegen, package, path, service, uses`},
		{"openapi outside the module", lines("version: v1", "modules:", "  - path: contracts/x/v1", "    openapi: ../y/v1/openapi.yaml"),
			`keiyaku.yaml:3:5: module "contracts/x/v1": openapi "../y/v1/openapi.yaml" must be a file inside the module folder, relative to it`},
		{"unknown openapi_codegen key", lines("version: v1", "modules:", "  - path: contracts/x/v1", "    openapi_codegen: {skip-prune: true}"),
			`keiyaku.yaml:4:23: unknown key "skip-prune" in modules[0].openapi_codegen; known keys: always_prefix_enum_values, exclude_operation_ids, exclude_schemas, exclude_tags, generate_types_for_anonymous_schemas, include_operation_ids, include_tags, name_normalizer, resolve_type_name_collisions, skip_prune`},
		{"unknown name_normalizer", lines("version: v1", "modules:", "  - path: contracts/x/v1", "    openapi_codegen: {name_normalizer: camel}"),
			`keiyaku.yaml:3:5: module "contracts/x/v1": openapi_codegen.name_normalizer "camel": use one of ToCamelCase, ToCamelCaseWithDigits, ToCamelCaseWithInitialisms`},
		{"unknown lint.examples", lines("version: v1", mod+"lint:", "  examples: fatal"),
			`keiyaku.yaml:5:13: lint.examples "fatal": use error, warning or off`},
		{"unknown uses key", lines("version: v1", "modules:", "  - path: a", "    service: a", "    uses:", "      - modul: b"),
			`keiyaku.yaml:6:9: unknown key "modul" in modules[0].uses[0]; known keys: attempt_timeout, breaker, fallback, fallback_ttl, max_attempts, module, retry_budget, timeout`},
		{"unknown generate key", lines("version: v1", mod+"generate:", "  output: gen"),
			`keiyaku.yaml:5:3: unknown key "output" in generate; known keys: go_module, out`},
		{"duplicate key", lines("version: v1", "version: v1", mod),
			`keiyaku.yaml:2:1: mapping key "version" already defined at line 1`},
		{"list where a mapping is expected", lines("version: v1", mod+"generate:", "  - out: gen"),
			"keiyaku.yaml:5:3: generate must be a mapping"},
		{"module is a list", lines("version: v1", "modules:", "  - [contracts/x/v1]"),
			"keiyaku.yaml:3:5: modules[0] must be a mapping"},
		{"module is empty", lines("version: v1", "modules:", "  -"),
			"keiyaku.yaml:3:4: modules[0] must be a mapping"},
		{"mapping where a list is expected", lines("version: v1", "modules:", "  path: contracts/x/v1"),
			"keiyaku.yaml:3:3: modules must be a list"},
		{"uses is a string", lines("version: v1", "modules:", "  - path: a", "    service: a", "    uses: b"),
			"keiyaku.yaml:5:11: modules[0].uses must be a list"},
		{"uses entry is a string", lines("version: v1", "modules:", "  - path: a", "    service: a", "    uses:", "      - b"),
			"keiyaku.yaml:6:9: modules[0].uses[0] must be a mapping"},
		{"missing version", mod,
			`keiyaku.yaml:1:1: "version" is required; add "version: v1" at the top`},
		{"empty version", lines("version:", mod),
			`keiyaku.yaml:1:9: "version" is required; add "version: v1" at the top`},
		{"wrong version", lines(mod + "version: v2"),
			`keiyaku.yaml:3:10: unsupported version "v2"; this keiyaku reads version v1`},
		{"version not a string", lines("version: 1", mod),
			`keiyaku.yaml:1:10: unsupported version "1"; this keiyaku reads version v1`},
		{"no modules", "version: v1\n",
			`keiyaku.yaml: no modules; list the contract folders under "modules:" (or the modules of other workspaces under "deps:")`},
		{"empty modules", lines("version: v1", "modules: []"),
			`keiyaku.yaml: no modules; list the contract folders under "modules:" (or the modules of other workspaces under "deps:")`},
		{"module without path", lines("version: v1", "modules:", "  - service: x"),
			`keiyaku.yaml:3:5: module without "path"; give the contract folder, e.g. "path: contracts/member/v1"`},
		{"duplicate module", lines("version: v1", "modules:", "  - path: contracts/x/v1", "  - path: contracts/y/v1", "  - path: contracts/x/v1"),
			`keiyaku.yaml:5:5: module "contracts/x/v1" is listed twice`},
		{"unclean path", lines("version: v1", "modules:", "  - path: contracts/x/../y/v1"),
			`keiyaku.yaml:3:5: module path "contracts/x/../y/v1": not clean; write "contracts/y/v1"`},
		{"trailing slash", lines("version: v1", "modules:", "  - path: contracts/x/v1/"),
			`keiyaku.yaml:3:5: module path "contracts/x/v1/": not clean; write "contracts/x/v1"`},
		{"dot-dot path", lines("version: v1", "modules:", "  - path: ../x"),
			`keiyaku.yaml:3:5: module path "../x": must stay inside the workspace`},
		{"absolute path", lines("version: v1", "modules:", "  - path: /srv/contracts/x/v1"),
			`keiyaku.yaml:3:5: module path "/srv/contracts/x/v1": must be relative to the workspace root`},
		{"backslash path", lines("version: v1", "modules:", `  - path: contracts\x\v1`),
			`keiyaku.yaml:3:5: module path "contracts\\x\\v1": use forward slashes`},
		{"bad package name", lines("version: v1", "modules:", "  - path: contracts/x/v1", "    package: X_v1"),
			`keiyaku.yaml:3:5: module "contracts/x/v1": Go package name "X_v1" is not a lower-case identifier; set "package:"`},
		{"derived package name starts with a digit", lines("version: v1", "modules:", "  - path: contracts/1x/v1"),
			`keiyaku.yaml:3:5: module "contracts/1x/v1": Go package name "1xv1" is not a lower-case identifier; set "package:"`},
		{"same output folder", lines("version: v1", "modules:", "  - path: contracts/x/v1", "  - path: x/v1"),
			`keiyaku.yaml:4:5: modules "contracts/x/v1" and "x/v1" would both generate into gen/x/v1`},
		{"generate.out outside", lines("version: v1", mod+"generate:", "  out: ../gen"),
			`keiyaku.yaml:5:8: generate.out "../gen": must stay inside the workspace`},
		{"generate.out absolute", lines("version: v1", mod+"generate:", "  out: /tmp/gen"),
			`keiyaku.yaml:5:8: generate.out "/tmp/gen": must be relative to the workspace root`},
		{"generate.out unclean", lines("version: v1", mod+"generate:", "  out: ./gen"),
			`keiyaku.yaml:5:8: generate.out "./gen": not clean; write "gen"`},
		{"generate.out the root", lines("version: v1", mod+"generate:", "  out: ."),
			`keiyaku.yaml:5:8: generate.out ".": must be a folder of its own, such as gen; generate removes stale files there`},
		{"generate.out the contracts", lines("version: v1", mod+"generate:", "  out: contracts"),
			`keiyaku.yaml:5:8: generate.out "contracts": must be a folder of its own, such as gen; generate removes stale files there`},
		{"module path the root", lines("version: v1", "modules:", "  - path: ."),
			`keiyaku.yaml:3:5: module path "." is the workspace root; give the contract folder, e.g. "contracts/member/v1"`},
		{"module inside the output", lines("version: v1", "modules:", "  - path: gen/x/v1"),
			`keiyaku.yaml:3:5: module path "gen/x/v1" is inside generate.out "gen", where generated files go`},
		{"generate not a bool", lines("version: v1", "modules:", "  - path: contracts/x/v1", "    generate: maybe"),
			`keiyaku.yaml:4:15: modules[0].generate must be true or false, not "maybe"`},
		{"second document", lines("version: v1", mod+"---", "version: v1"),
			`keiyaku.yaml:4:1: a second YAML document (after ---); keiyaku.yaml holds one`},
		{"unknown avro mode", lines("version: v1", mod+"breaking:", "  avro:", "    compatibility: SIDEWAYS"),
			`keiyaku.yaml:6:20: breaking.avro.compatibility "SIDEWAYS": use one of BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE, NONE`},
		{"unknown avro override mode", lines("version: v1", mod+"breaking:", "  avro:", "    overrides:", "      a.B: sometimes"),
			`keiyaku.yaml:7:12: breaking.avro.overrides[a.B] "sometimes": use one of BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE, NONE`},
		{"unknown fail_on", lines("version: v1", mod+"breaking:", "  openapi:", "    fail_on: fatal"),
			`keiyaku.yaml:6:14: breaking.openapi.fail_on "fatal": use error, warning or info`},
		{"ignore without reason", lines("version: v1", mod+"breaking:", "  ignore:", "    - rule: response-property-removed"),
			`keiyaku.yaml:6:7: breaking.ignore[0] (response-property-removed): "reason" is required; say why this finding is accepted`},
		{"lint ignore without rule", lines("version: v1", mod+"lint:", "  ignore:", "    - reason: legacy"),
			`keiyaku.yaml:6:7: lint.ignore[0]: "rule" is required`},
		{"max_sync_depth not a number", lines("version: v1", mod+"lint:", "  max_sync_depth: deep"),
			`keiyaku.yaml:5:19: lint.max_sync_depth must be a whole number, not "deep"`},
		{"max_sync_depth zero or less", lines("version: v1", mod+"lint:", "  max_sync_depth: -1"),
			`keiyaku.yaml:5:19: lint.max_sync_depth -1: must be at least 1`},
		{"bad duration", lines("version: v1", "modules:", "  - path: contracts/a/v1", "    service: a", "    uses:", "      - module: contracts/b/v1", "        timeout: soon", "  - path: contracts/b/v1", "    service: b"),
			`keiyaku.yaml:7:18: modules[0].uses[0].timeout must be a positive duration such as 800ms, 2s or 1m, not "soon"`},
		{"unbounded attempts", lines("version: v1", "modules:", "  - path: contracts/a/v1", "    service: a", "    uses:", "      - module: contracts/b/v1", "        max_attempts: 100", "  - path: contracts/b/v1", "    service: b"),
			`keiyaku.yaml:6:9: uses contracts/b/v1: max_attempts 100: use 1 to 10; unbounded retries multiply load on a failing service`},
		{"unknown fallback", lines("version: v1", "modules:", "  - path: contracts/a/v1", "    service: a", "    uses:", "      - module: contracts/b/v1", "        fallback: cached", "  - path: contracts/b/v1", "    service: b"),
			`keiyaku.yaml:6:9: uses contracts/b/v1: fallback "cached": use "none" or "last-good"`},
		{"attempt longer than call", lines("version: v1", "modules:", "  - path: contracts/a/v1", "    service: a", "    uses:", "      - module: contracts/b/v1", "        timeout: 1s", "        attempt_timeout: 2s", "  - path: contracts/b/v1", "    service: b"),
			`keiyaku.yaml:6:9: uses contracts/b/v1: attempt_timeout 2s is longer than timeout 1s`},
		{"breaker ratio", lines("version: v1", "modules:", "  - path: contracts/a/v1", "    service: a", "    uses:", "      - module: contracts/b/v1", "        breaker:", "          failure_ratio: 2", "  - path: contracts/b/v1", "    service: b"),
			`keiyaku.yaml:6:9: uses contracts/b/v1: breaker.failure_ratio 2: use a share between 0 and 1, e.g. 0.5`},
		{"uses listed twice", lines("version: v1", "modules:", "  - path: contracts/a/v1", "    service: a", "    uses:", "      - module: contracts/b/v1", "      - module: contracts/b/v1", "  - path: contracts/b/v1", "    service: b"),
			`keiyaku.yaml:7:9: uses: module "contracts/b/v1" is listed twice`},
		{"uses without service", lines("version: v1", "modules:", "  - path: contracts/a/v1", "    uses:", "      - module: contracts/b/v1", "  - path: contracts/b/v1", "    service: b"),
			`keiyaku.yaml:5:9: module "contracts/a/v1" has "uses" but no "service"; only a service calls others`},
		{"uses unknown module", lines("version: v1", "modules:", "  - path: contracts/a/v1", "    service: a", "    uses:", "      - module: contracts/nope/v1"),
			`keiyaku.yaml:6:9: uses: no module "contracts/nope/v1"; known modules: contracts/a/v1`},
		{"uses a generate:false module", lines("version: v1", "modules:", "  - path: contracts/shared/v1", "    service: shared", "    generate: false", "  - path: contracts/a/v1", "    service: a", "    uses:", "      - module: contracts/shared/v1"),
			`keiyaku.yaml:9:9: uses: module "contracts/shared/v1" is not generated (generate: false), so it has no client`},
		{"self-use", lines("version: v1", "modules:", "  - path: contracts/a/v1", "    service: a", "    uses:", "      - module: contracts/a/v1"),
			`keiyaku.yaml:6:9: uses: service "a" cannot call itself`},
		{"use of another version of the same service", lines("version: v1", "modules:", "  - path: contracts/a/v1", "    service: a", "  - path: contracts/a/v2", "    service: a", "    uses:", "      - module: contracts/a/v1"),
			`keiyaku.yaml:8:9: uses: service "a" cannot call itself`},
		{"cycle", lines("version: v1", "modules:",
			"  - path: contracts/a/v1", "    service: a", "    uses:", "      - module: contracts/b/v1",
			"  - path: contracts/b/v1", "    service: b", "    uses:", "      - module: contracts/c/v1",
			"  - path: contracts/c/v1", "    service: c", "    uses:", "      - module: contracts/b/v1"),
			`keiyaku.yaml:7:5: synchronous call cycle contracts/b/v1 → contracts/c/v1 → contracts/b/v1; break it with an event`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := config.Parse(file, []byte(c.data))
			if err == nil {
				t.Fatalf("no error; config %+v\n%s", cfg, c.data)
			}
			if err.Error() != c.want {
				t.Errorf("error\n got: %s\nwant: %s", err, c.want)
			}
			var de *diag.Error
			if !errors.As(err, &de) {
				t.Errorf("error is a %T, not a *diag.Error", err)
			}
		})
	}
}

// TestLoad covers what Parse leaves to Load: the root, the go.mod module
// path and the module folders.
func TestLoad(t *testing.T) {
	t.Parallel()
	write := func(t *testing.T, dir, name, content string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const cfgData = "version: v1\nmodules:\n  - path: contracts/x/v1\n"

	t.Run("ok", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		write(t, dir, "go.mod", "module example.com/ws\n\ngo 1.26\n")
		write(t, dir, "keiyaku.yaml", cfgData)
		write(t, dir, "contracts/x/v1/openapi.yaml", "openapi: 3.0.3\n")
		cfg, err := config.Load(filepath.Join(dir, "keiyaku.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Root != dir || cfg.Generate.GoModule != "example.com/ws" {
			t.Errorf("Root, GoModule = %q, %q", cfg.Root, cfg.Generate.GoModule)
		}
		if got := cfg.ImportPath(cfg.Modules[0]); got != "example.com/ws/gen/x/v1" {
			t.Errorf("ImportPath = %q", got)
		}
	})
	t.Run("go_module wins over go.mod", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		write(t, dir, "keiyaku.yaml", cfgData+"generate:\n  go_module: example.com/other\n")
		write(t, dir, "contracts/x/v1/openapi.yaml", "openapi: 3.0.3\n")
		cfg, err := config.Load(filepath.Join(dir, "keiyaku.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Generate.GoModule != "example.com/other" {
			t.Errorf("GoModule = %q", cfg.Generate.GoModule)
		}
	})
	for _, c := range []struct {
		name  string
		files map[string]string
		want  string // after the keiyaku.yaml path
	}{
		{"no keiyaku.yaml", map[string]string{"go.mod": "module example.com/ws\n"},
			": no keiyaku.yaml here; run keiyaku from the workspace root or pass --config"},
		{"no go.mod", map[string]string{"keiyaku.yaml": cfgData, "contracts/x/v1/openapi.yaml": ""},
			": generate.go_module is not set and go.mod gives none: open "},
		{"go.mod without module line", map[string]string{"keiyaku.yaml": cfgData, "go.mod": "go 1.26\n", "contracts/x/v1/openapi.yaml": ""},
			": generate.go_module is not set and go.mod gives none: no module line"},
		{"module folder missing", map[string]string{"keiyaku.yaml": cfgData, "go.mod": "module example.com/ws\n"},
			`:3:5: module "contracts/x/v1": no such folder below `},
		{"module path is a file", map[string]string{"keiyaku.yaml": cfgData, "go.mod": "module example.com/ws\n", "contracts/x/v1": "not a folder"},
			`:3:5: module "contracts/x/v1": no such folder below `},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for name, content := range c.files {
				write(t, dir, name, content)
			}
			cfgFile := filepath.Join(dir, "keiyaku.yaml")
			_, err := config.Load(cfgFile)
			if err == nil {
				t.Fatal("no error")
			}
			if want := cfgFile + c.want; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error\n got: %v\nwant: %s...", err, want)
			}
			var de *diag.Error
			if !errors.As(err, &de) {
				t.Errorf("error is a %T, not a *diag.Error", err)
			}
		})
	}
}

// TestParseDeps pins how a dependency becomes a module: generated like a
// local one into gen/<provider module without contracts/>, read from its
// copy below .keiyaku/deps/<name>/, and that a workspace of deps only (a
// consumer) needs no modules of its own.
func TestParseDeps(t *testing.T) {
	t.Parallel()
	cfg := parse(t, lines(
		"version: v1",
		"deps:",
		"  - name: member",
		"    source: ../provider.git",
		"    ref: v1.0.0",
		"    module: contracts/member/v1",
		"generate:",
		"  go_module: example.com/consumer",
	))
	if len(cfg.Deps) != 1 || cfg.Deps[0].Line != 3 || cfg.Deps[0].Column != 5 || !cfg.Deps[0].Git() {
		t.Fatalf("Deps = %+v", cfg.Deps)
	}
	mods := cfg.DepModules()
	if len(mods) != 1 {
		t.Fatalf("DepModules = %+v", mods)
	}
	m := mods[0]
	for _, c := range []struct{ what, got, want string }{
		{"Path", m.Path, ".keiyaku/deps/member/contracts/member/v1"},
		{"Dep", m.Dep, "member"},
		{"Name", m.Name(), "member/v1"},
		{"GoPackage", m.GoPackage(), "memberv1"},
		{"OutDir", cfg.OutDir(m), "gen/member/v1"},
		{"ImportPath", cfg.ImportPath(m), "example.com/consumer/gen/member/v1"},
		{"Dir", cfg.Deps[0].Dir(), ".keiyaku/deps/member"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if !m.Generated() {
		t.Error("a dep module is not generated")
	}
}

// TestParseDepsErrors pins that every bad deps entry is refused with the
// position of the offending key and a hint, before anything runs git.
func TestParseDepsErrors(t *testing.T) {
	t.Parallel()
	dep := func(kv ...string) string {
		return lines(append([]string{"version: v1", "deps:", "  - name: member"}, kv...)...)
	}
	ok := []string{"    source: ../p.git", "    ref: v1.0.0", "    module: contracts/member/v1"}
	for _, c := range []struct {
		name, data, want string
	}{
		{"unknown key", dep(append(ok, "    tag: v1")...),
			`keiyaku.yaml:7:5: unknown key "tag" in deps[0]; known keys: module, name, ref, source, subdir`},
		{"no name", lines("version: v1", "deps:", "  - source: ../p.git", "    ref: v1", "    module: contracts/m/v1"),
			`keiyaku.yaml:3:5: deps[0]: "name" is required, e.g. "name: member"`},
		{"bad name", lines("version: v1", "deps:", "  - name: ../x", "    source: ../p.git", "    module: contracts/m/v1"),
			`keiyaku.yaml:3:11: deps[0]: name "../x": use lower-case letters, digits and "-", starting with a letter`},
		{"no source", dep("    module: contracts/member/v1"),
			`keiyaku.yaml:3:5: deps member: "source" is required: a git URL, a path to a git repository or a directory`},
		{"source is an option", dep("    source: --upload-pack=evil", "    ref: v1", "    module: contracts/member/v1"),
			`keiyaku.yaml:4:13: deps member: source "--upload-pack=evil": must not start with "-" nor hold control characters`},
		{"transport helper", dep("    source: ext::sh -c evil", "    ref: v1", "    module: contracts/member/v1"),
			`keiyaku.yaml:4:13: deps member: source "ext::sh -c evil": git transport helpers ("::") are not allowed; give a URL or a path`},
		{"ref is an option", dep("    source: ../p.git", "    ref: --all", "    module: contracts/member/v1"),
			`keiyaku.yaml:5:10: deps member: ref "--all" is not a tag, branch or commit id`},
		{"no module", dep("    source: ../p.git", "    ref: v1"),
			`keiyaku.yaml:3:5: deps member: "module" is required: the module's path in the provider's workspace, e.g. "contracts/member/v1"`},
		{"module leaves the workspace", dep("    source: ../p.git", "    ref: v1", "    module: ../secrets"),
			`keiyaku.yaml:6:13: deps member: module "../secrets": must stay inside the workspace`},
		{"subdir without ref", dep("    source: ../exported", "    module: contracts/member/v1", "    subdir: api"),
			`keiyaku.yaml:6:13: deps member: subdir needs a git source with a ref; for a directory source, point source at the folder`},
		{"listed twice", lines("version: v1", "deps:",
			"  - name: member", "    source: ../p.git", "    module: contracts/member/v1",
			"  - name: member", "    source: ../q.git", "    module: contracts/member/v2"),
			`keiyaku.yaml:6:11: deps: "member" is listed twice`},
		{"same output as a local module", lines("version: v1", "modules:", "  - path: contracts/member/v1",
			"deps:", "  - name: member", "    source: ../p.git", "    module: contracts/member/v1"),
			`keiyaku.yaml:5:5: deps member: module "contracts/member/v1" would generate into gen/member/v1, as "contracts/member/v1" does`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := config.Parse(file, []byte(c.data))
			if err == nil {
				t.Fatalf("no error; config %+v\n%s", cfg, c.data)
			}
			if err.Error() != c.want {
				t.Errorf("error\n got: %s\nwant: %s", err, c.want)
			}
			if _, ok := errors.AsType[*diag.Error](err); !ok {
				t.Errorf("error is a %T, not a *diag.Error", err)
			}
		})
	}
}
