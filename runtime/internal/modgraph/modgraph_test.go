package modgraph

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// forbidden are modules a service must never get from the runtime: the
// tools' dependencies (the breaking-change gate, Pact, the code generator,
// the CLI framework) and, for services that open no database, the drivers.
var forbidden = []string{
	"github.com/oasdiff/oasdiff",
	"github.com/pact-foundation/pact-go/v2",
	"github.com/oapi-codegen/oapi-codegen/v2",
	"github.com/spf13/cobra",
	"github.com/keiyaku/keiyaku", // the root module (tools, services)
}

var drivers = []string{"modernc.org/sqlite", "github.com/jackc/pgx/v5"}

// TestServiceModuleGraph pins the promise of the runtime module split
// (issue 13): a service importing the core runtime packages, telemetry
// among them (the OpenTelemetry API only), has at most 50 modules in `go
// list -m all`, none of them the tools' dependencies or a database driver;
// the drivers arrive with runtime/sqldb, and the OpenTelemetry SDK and its
// exporters (OTLP over gRPC's module graph, Prometheus) with
// runtime/telemetry/export, which brings no tool either.
func TestServiceModuleGraph(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go mod tidy in a scratch module")
	}
	t.Parallel()
	root := runtimeDir(t)
	tests := []struct {
		name      string
		imports   []string
		modules   []string // runtime modules to replace (besides the core)
		max       int      // 0: no bound
		noDrivers bool
	}{
		{
			// The figure: 50 measured (53 while runtime/telemetry
			// was a module of its own holding the SDK, whose go.mod added
			// go.uber.org/goleak and go.opentelemetry.io/otel/metric/x).
			name:      "core with telemetry",
			imports:   []string{"events", "httpserver", "resilience", "telemetry", "problem", "idempotency"},
			max:       50,
			noDrivers: true,
		},
		{
			name:      "with the telemetry SDK and exporters",
			imports:   []string{"events", "httpserver", "resilience", "telemetry", "telemetry/export"},
			modules:   []string{"telemetry/export"},
			noDrivers: true,
		},
		{
			name:    "with database",
			imports: []string{"events", "sqldb", "outbox"},
			modules: []string{"sqldb", "outbox"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mods := scratchModules(t, root, tt.imports, tt.modules)
			t.Logf("%d modules in go list -m all", len(mods))
			in := make(map[string]bool, len(mods))
			for _, m := range mods {
				in[strings.Fields(m)[0]] = true
			}
			for _, f := range forbidden {
				if in[f] {
					t.Errorf("%s is in the module graph", f)
				}
			}
			for _, d := range drivers {
				if in[d] == tt.noDrivers {
					t.Errorf("%s in the module graph: %v, want %v", d, in[d], !tt.noDrivers)
				}
			}
			if tt.max > 0 && len(mods) > tt.max {
				t.Errorf("%d modules in the graph, want at most %d:\n%s", len(mods), tt.max, strings.Join(mods, "\n"))
			}
		})
	}
}

// scratchModules writes a module importing the given runtime packages, with
// replaces to this checkout, tidies it and returns `go list -m all`.
func scratchModules(t *testing.T, root string, imports, modules []string) []string {
	t.Helper()
	dir := t.TempDir()
	var src strings.Builder
	src.WriteString("package main\n\nimport (\n")
	for _, p := range imports {
		src.WriteString("\t_ \"github.com/keiyaku/keiyaku/runtime/" + p + "\"\n")
	}
	src.WriteString(")\n\nfunc main() {}\n")
	mod := "module example.com/scratch\n\ngo 1.26.8\n\nreplace github.com/keiyaku/keiyaku/runtime => " + root + "\n"
	for _, m := range modules {
		mod += "replace github.com/keiyaku/keiyaku/runtime/" + m + " => " + filepath.Join(root, m) + "\n"
	}
	write(t, filepath.Join(dir, "go.mod"), mod)
	write(t, filepath.Join(dir, "main.go"), src.String())
	// The runtime's checksums cover every module the scratch graph can hold.
	sums, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range modules {
		more, err := os.ReadFile(filepath.Join(root, m, "go.sum"))
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, more...)
	}
	write(t, filepath.Join(dir, "go.sum"), string(sums))
	goCmd(t, dir, "mod", "tidy")
	out := goCmd(t, dir, "list", "-m", "all")
	return strings.Split(strings.TrimSpace(out), "\n")
}

func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runtimeDir is the directory of the runtime module (this file is in
// runtime/internal/modgraph).
func runtimeDir(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}
