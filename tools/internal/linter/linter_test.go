package linter_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/diag"
	"github.com/keiyaku/keiyaku/tools/internal/linter"
)

var update = flag.Bool("update", false, "rewrite the want.txt golden files")

// caseTimeout bounds one workspace: the alias bombs must be refused, not
// expanded (which would not end). It is generous because lint also
// generates the workspace's code in memory, slow under -race on a busy
// machine.
const caseTimeout = 2 * time.Minute

// noPosition lists the bad cases whose error has no knowable line. Every
// other case must return a *diag.Error with Line > 0.
var noPosition = map[string]bool{
	"config-empty": true, // the whole file is at fault
}

// lint loads the workspace whose keiyaku.yaml is file and lints it, the way
// "keiyaku lint --config file" does. It converts a panic into a test failure
// and fails the test if the work takes longer than caseTimeout.
func lint(t *testing.T, file string) ([]linter.Finding, error) {
	t.Helper()
	type result struct {
		findings []linter.Finding
		err      error
		panicked string
	}
	done := make(chan result, 1)
	ctx, cancel := context.WithTimeout(t.Context(), caseTimeout)
	defer cancel()
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r.panicked = fmt.Sprintf("%v\n%s", p, debug.Stack())
			}
			done <- r
		}()
		cfg, err := config.Load(file)
		if err != nil {
			r.err = err
			return
		}
		r.findings, r.err = linter.Run(ctx, cfg)
	}()
	select {
	case r := <-done:
		if r.panicked != "" {
			t.Fatalf("panic: %s", r.panicked)
		}
		return r.findings, r.err
	case <-time.After(caseTimeout):
		t.Fatalf("%s: no answer within %v", file, caseTimeout)
		return nil, nil
	}
}

// cases lists the sub-folders of dir.
func cases(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		t.Fatalf("no cases in %s", dir)
	}
	return names
}

// golden compares got with dir/want.txt, or rewrites it under -update.
func golden(t *testing.T, dir, got string) {
	t.Helper()
	file := filepath.Join(dir, "want.txt")
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", file, got, want)
	}
}

// TestBadInputs lints each workspace under testdata/bad and compares the
// error with the case's want.txt.
//
// Paths: the test does not chdir (it runs in parallel). keiyaku.yaml is
// passed to config.Load as testdata/bad/<case>/keiyaku.yaml, and config
// errors name the file as given, so the test trims the case folder prefix
// "testdata/bad/<case>/" from the error text: want.txt then reads
// "keiyaku.yaml:5:5: ...", as a user at the workspace root would see it.
// Contract errors are workspace-relative already
// ("contracts/x/v1/openapi.yaml:14:23: ...").
func TestBadInputs(t *testing.T) {
	t.Parallel()
	const base = "testdata/bad"
	for _, name := range cases(t, base) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(base, name)
			findings, err := lint(t, filepath.Join(dir, config.FileName))
			if err == nil {
				t.Fatalf("no error; findings: %v", findings)
			}
			prefix := filepath.ToSlash(dir) + "/"
			msg := strings.ReplaceAll(filepath.ToSlash(err.Error()), prefix, "")
			golden(t, dir, msg+"\n")

			var de *diag.Error
			if !errors.As(err, &de) {
				t.Fatalf("error is a %T, not a *diag.Error: %v", err, err)
			}
			if de.File == "" {
				t.Errorf("error names no file: %v", err)
			}
			if !noPosition[name] && (de.Line <= 0 || de.Column <= 0) {
				t.Errorf("error has no line:col (%d:%d): %v", de.Line, de.Column, err)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans several lines: %q", msg)
			}
		})
	}
}

// TestRemoteRefNoNetwork checks that a $ref to a URL is refused before any
// request is made: the URL points at a live server that counts hits.
func TestRemoteRefNoNetwork(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, "X:\n  type: string\n")
	}))
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		file := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/ws\n")
	write("keiyaku.yaml", "version: v1\nmodules:\n  - path: contracts/x/v1\n    service: x\n")
	write("contracts/x/v1/openapi.yaml", `openapi: 3.0.3
info:
  title: X
  version: 1.0.0
paths:
  /x:
    get:
      operationId: getX
      responses:
        '200':
          description: OK
          content:
            application/json:
              schema:
                $ref: '`+srv.URL+`/x.yaml#/X'
`)
	_, err := lint(t, filepath.Join(dir, config.FileName))
	if err == nil {
		t.Fatal("remote $ref accepted")
	}
	want := fmt.Sprintf(`contracts/x/v1/openapi.yaml:15:23: $ref "%s/x.yaml#/X" points to a remote document: refused`, srv.URL)
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error\n got: %v\nwant: %s...", err, want)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the server got %d requests; a remote $ref must not be fetched", n)
	}
}

// TestSymlinkOutsideRefused checks that a $ref to a symbolic link leading
// out of the workspace is refused at the $ref. The link is made at test
// time: symbolic links do not travel well in testdata.
func TestSymlinkOutsideRefused(t *testing.T) {
	t.Parallel()
	outside := filepath.Join(t.TempDir(), "secret.yaml")
	if err := os.WriteFile(outside, []byte("X:\n  type: string\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/rules/OPERATION_ID_REQUIRED")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "contracts/x/v1/link.txt")); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	doc := "openapi: 3.0.3\ninfo:\n  title: X\n  version: 1.0.0\npaths: {}\ncomponents:\n  schemas:\n    A:\n      $ref: 'link.txt#/X'\n"
	if err := os.WriteFile(filepath.Join(dir, "contracts/x/v1/openapi.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := lint(t, filepath.Join(dir, config.FileName))
	want := `contracts/x/v1/openapi.yaml:9:13: $ref "link.txt#/X": refused: contracts/x/v1/link.txt leads outside the workspace`
	if err == nil || err.Error() != want {
		t.Errorf("error\n got: %v\nwant: %s", err, want)
	}
}

// TestRules lints each workspace under testdata/rules and compares its
// findings, one String() per line, with the case's want.txt. Each folder
// named after a rule ID breaks exactly that rule; "clean" breaks none.
func TestRules(t *testing.T) {
	t.Parallel()
	const base = "testdata/rules"
	for _, name := range cases(t, base) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(base, name)
			findings, err := lint(t, filepath.Join(dir, config.FileName))
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			prefix := filepath.ToSlash(dir) + "/"
			for _, f := range findings {
				// SYNC_CHAIN_TOO_LONG sits in keiyaku.yaml, named as given
				// to Load; trim the case folder as TestBadInputs does.
				b.WriteString(strings.ReplaceAll(filepath.ToSlash(f.String()), prefix, ""))
				b.WriteString("\n")
			}
			golden(t, dir, b.String())

			if name == "clean" {
				if len(findings) != 0 {
					t.Errorf("clean workspace has %d findings", len(findings))
				}
				return
			}
			if len(findings) == 0 {
				t.Fatalf("no findings; the workspace must break %s", name)
			}
			for _, f := range findings {
				if f.Rule != name {
					t.Errorf("finding of another rule: %v", f)
				}
				if f.File == "" || f.Line <= 0 || f.Column <= 0 {
					t.Errorf("finding without a position: %v", f)
				}
				if f.Severity != linter.Error && f.Severity != linter.Warning {
					t.Errorf("finding with severity %q: %v", f.Severity, f)
				}
			}
		})
	}
}

// TestRuleRegistry checks that every rule is described and has its test
// workspace.
func TestRuleRegistry(t *testing.T) {
	t.Parallel()
	var ids []string
	for _, r := range linter.Rules {
		if r.ID == "" {
			t.Errorf("rule without ID: %+v", r)
			continue
		}
		if slices.Contains(ids, r.ID) {
			t.Errorf("rule %s is listed twice", r.ID)
		}
		ids = append(ids, r.ID)
		if r.Severity != linter.Error && r.Severity != linter.Warning {
			t.Errorf("rule %s: severity %q", r.ID, r.Severity)
		}
		if strings.TrimSpace(r.Description) == "" {
			t.Errorf("rule %s has no description", r.ID)
		}
		checks := 0
		for _, set := range []bool{r.Check != nil, r.CheckAvro != nil, r.CheckWorkspace != nil} {
			if set {
				checks++
			}
		}
		if checks != 1 {
			t.Errorf("rule %s must have exactly one of Check, CheckAvro and CheckWorkspace", r.ID)
		}
		if r.Category != linter.CategoryConventions && r.Category != linter.CategoryArchitecture {
			t.Errorf("rule %s: category %q", r.ID, r.Category)
		}
		if st, err := os.Stat(filepath.Join("testdata/rules", r.ID)); err != nil || !st.IsDir() {
			t.Errorf("rule %s has no testdata/rules/%s workspace", r.ID, r.ID)
		}
	}
	// Every rule folder names a rule or is the clean workspace.
	for _, name := range cases(t, "testdata/rules") {
		if name != "clean" && !slices.Contains(ids, name) {
			t.Errorf("testdata/rules/%s names no rule", name)
		}
	}
}

// TestInvalidExamples pins that every example that does not match its
// schema is reported in one run, each at its own file:line (before, the
// first stopped the load: the Twilio API description needed 112 reruns),
// and that lint.examples sets their severity or turns them off. Generation
// never looks at examples, so it is not blocked by them.
func TestInvalidExamples(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ setting, want string }{
		{"", "error"}, {"error", "error"}, {"warning", "warning"}, {"off", ""},
	} {
		t.Run("examples="+c.setting, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS("testdata/examples/ws")); err != nil {
				t.Fatal(err)
			}
			conf := "version: v1\nlint:\n  except: [CONVENTIONS]\n"
			if c.setting != "" {
				conf += "  examples: " + c.setting + "\n"
			}
			conf += "modules:\n  - path: contracts/x/v1\n    service: x\n"
			if err := os.WriteFile(filepath.Join(dir, config.FileName), []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			findings, err := lint(t, filepath.Join(dir, config.FileName))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range findings {
				if f.Rule != linter.InvalidExample {
					t.Errorf("finding of another rule: %v", f)
				}
				got = append(got, fmt.Sprintf("%s:%d %s", f.File, f.Line, f.Severity))
			}
			var want []string
			if c.want != "" {
				want = []string{
					"contracts/x/v1/openapi.yaml:10 " + c.want, // parameter example
					"contracts/x/v1/openapi.yaml:25 " + c.want, // named example "bad"
					"contracts/x/v1/openapi.yaml:38 " + c.want, // schema property example
					"contracts/x/v1/shared.yaml:4 " + c.want,   // in a $ref'd file
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("findings:\n%s\nwant:\n%s\n(all: %v)", strings.Join(got, "\n"), strings.Join(want, "\n"), findings)
			}
		})
	}
}
