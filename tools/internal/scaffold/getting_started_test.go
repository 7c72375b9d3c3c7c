package scaffold_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// exitRE marks a doc line expected to fail: "cmd   # exit 100".
var exitRE = regexp.MustCompile(`^(.*\S)\s+# exit (\d+)$`)

// docScript returns the sh blocks of a Markdown document as one bash
// script, a line ending in "# exit N" checked to exit with N.
func docScript(t *testing.T, file string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var script strings.Builder
	in := false
	blocks := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && line == "```sh":
			in = true
			blocks++
		case in && line == "```":
			in = false
		case in:
			if m := exitRE.FindStringSubmatch(line); m != nil {
				line = fmt.Sprintf("if %s; then echo 'want exit %s, got 0: %s' >&2; exit 1; else rc=$?; [ $rc -eq %s ] || { echo \"want exit %s, got $rc\" >&2; exit 1; }; fi",
					m[1], m[2], strings.ReplaceAll(m[1], "'", ""), m[2], m[2])
			}
			script.WriteString(line + "\n")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if in || blocks < 5 {
		t.Fatalf("%s: %d sh blocks (unterminated: %v): the document changed shape", file, blocks, in)
	}
	return script.String()
}

// TestGettingStarted runs the commands of docs/getting-started.md in a temp
// folder with real git, so the document cannot rot: keiyaku init, the CLI
// pinned with go get -tool and run as go tool keiyaku (issue 13, item 6),
// the first green make check, a breaking REST change and a breaking event
// change caught with exit 100, and a consumer repository pinning the
// provider with deps and receiving its event.
func TestGettingStarted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds keiyaku and a service, runs go mod tidy")
	}
	for _, tool := range []string{"git", "make", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	src, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	script := docScript(t, filepath.Join(src, "docs", "getting-started.md"))

	cmd := scriptCommand(t, src, script)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("the document's commands ran in %s", time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("docs/getting-started.md: %v\n--- output ---\n%s\n--- script ---\n%s", err, out, script)
	}
	for _, want := range []string{
		"1 modules, 0 warnings, no errors", // the starter contracts pass every rule
		"response-",                        // the REST finding
		"quantity",                         // the Avro finding
		"OnItemCreated",                    // shipping's handler
		"3 generated files up to date",     // make check's stale gen/ check
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
}

// scriptCommand returns bash running script in a temp folder, with a
// keiyaku built from the checkout src first on PATH, KEIYAKU_SRC set to
// src, no workspace and a git that reads no configuration but a fixed
// identity.
func scriptCommand(t *testing.T, src, script string) *exec.Cmd {
	t.Helper()
	bin := t.TempDir()
	build := exec.CommandContext(t.Context(), "go", "build", "-o", filepath.Join(bin, "keiyaku"), "./tools/keiyaku")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build keiyaku: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(t.Context(), "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"KEIYAKU_SRC="+src,
		"GOWORK=off", "GOFLAGS=",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_AUTHOR_NAME=Getting Started", "GIT_AUTHOR_EMAIL=gs@example.com",
		"GIT_COMMITTER_NAME=Getting Started", "GIT_COMMITTER_EMAIL=gs@example.com",
	)
	return cmd
}
