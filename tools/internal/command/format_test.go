package command

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/exitcode"
)

// stdout runs the command tree and returns only what it wrote on stdout,
// which is what a CI parser reads, and the exit code main would use.
func stdout(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	cmd := New("keiyaku")
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(args)
	code := exitcode.Of(cmd.ExecuteContext(t.Context()))
	return out.String(), code
}

// TestFailuresInEveryFormat pins that an error which stops lint, breaking
// or generate (a contract that does not load, a bad keiyaku.yaml) reaches
// stdout in the chosen format, at its file and line, and still exits 1:
// before, json, junit and github-actions printed nothing and CI parsers
// never saw the most common failure.
func TestFailuresInEveryFormat(t *testing.T) {
	t.Parallel()
	breakDoc := func(t *testing.T, ws string) (string, int) {
		p := filepath.Join(ws, "contracts/pets/v1/openapi.yaml")
		if err := os.WriteFile(p, []byte("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses: {'200': {description: ok, content: {application/json: {schema: {$ref: '#/components/schemas/Nope'}}}}}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return "contracts/pets/v1/openapi.yaml", 6
	}
	breakConfig := func(t *testing.T, ws string) (string, int) {
		if err := os.WriteFile(filepath.Join(ws, "keiyaku.yaml"), []byte("version: v1\nmodules:\n  - path: contracts/pets/v1\n    servce: pets\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return "keiyaku.yaml", 4
	}
	for _, input := range []struct {
		name  string
		spoil func(t *testing.T, ws string) (file string, line int)
	}{{"document does not load", breakDoc}, {"bad keiyaku.yaml", breakConfig}} {
		for _, command := range []string{"lint", "breaking", "generate"} {
			for _, format := range []string{"json", "github-actions", "junit"} {
				t.Run(input.name+"/"+command+"/"+format, func(t *testing.T) {
					t.Parallel()
					ws := workspace(t)
					baseline := workspace(t)
					file, line := input.spoil(t, ws)
					args := []string{"--config", filepath.Join(ws, "keiyaku.yaml"), command, "--format", format}
					if command == "breaking" {
						args = append(args, "--against", baseline)
					}
					out, code := stdout(t, args...)
					if code != exitcode.Failure {
						t.Fatalf("exit %d, want 1\n%s", code, out)
					}
					switch format {
					case "json":
						var got struct {
							Findings []struct {
								Rule, Severity, File string
								Line                 int
								Message              string
							}
						}
						if err := json.Unmarshal([]byte(out), &got); err != nil {
							t.Fatalf("not JSON: %v\n%s", err, out)
						}
						if len(got.Findings) != 1 || got.Findings[0].Severity != "error" || got.Findings[0].Rule != "LOAD_ERROR" ||
							!strings.HasSuffix(got.Findings[0].File, file) || got.Findings[0].Line != line || got.Findings[0].Message == "" {
							t.Fatalf("findings = %+v, want one LOAD_ERROR at %s:%d\n%s", got.Findings, file, line, out)
						}
					case "github-actions":
						if !strings.HasPrefix(out, "::error file=") || !strings.Contains(out, file) || !strings.Contains(out, ",line="+strconv.Itoa(line)+",") {
							t.Fatalf("no ::error annotation at %s:%d\n%s", file, line, out)
						}
					case "junit":
						var got struct {
							Suites []struct {
								Failures int `xml:"failures,attr"`
								Cases    []struct {
									Name    string `xml:"name,attr"`
									Failure *struct {
										Message string `xml:"message,attr"`
									} `xml:"failure"`
								} `xml:"testcase"`
							} `xml:"testsuite"`
						}
						if err := xml.Unmarshal([]byte(out), &got); err != nil {
							t.Fatalf("not XML: %v\n%s", err, out)
						}
						if len(got.Suites) != 1 || got.Suites[0].Failures != 1 || got.Suites[0].Cases[0].Failure == nil ||
							!strings.Contains(got.Suites[0].Cases[0].Name, file+":"+strconv.Itoa(line)) {
							t.Fatalf("junit = %+v, want one failed case at %s:%d\n%s", got, file, line, out)
						}
					}
				})
			}
		}
	}
}
