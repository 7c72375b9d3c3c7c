package command

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/exitcode"
)

// stripeSpec names the large third-party OpenAPI case, read in place from
// a shared/testdata folder above the repository when there is one (3.9 MB;
// not copied into the repository).
const stripeSpec = "shared/testdata/stripe/spec3.2022-02-24.json"

// findShared looks for rel in the folders above the working directory.
func findShared(rel string) (string, error) {
	dir, err := filepath.Abs(".")
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no %s in any folder above the repository", rel)
		}
		dir = parent
	}
}

// corpusWant pins what happens to each third-party document: "" generates
// Go that compiles; "warn: text" (an OpenAPI 3.1 construct oapi-codegen
// cannot generate) is a lint warning containing text, and generate says
// it skips the module, both with exit 0, and writes nothing; otherwise
// lint and generate both refuse it with an error containing this text.
var corpusWant = map[string]string{
	"api-with-examples.yaml":             "invalid receiver type ListVersionsv2200JSONResponse (pointer or interface type)",
	"callback-example.yaml":              "",
	"link-example.yaml":                  "",
	"non-oauth-scopes-3.1.yaml":          "",
	"petstore-expanded.yaml":             "",
	"petstore.yaml":                      "",
	"uspto.yaml":                         "",
	"webhook-example-3.1.yaml":           "",
	"webhook-example-3.1-multitype.yaml": "warn: webhook-example-3.1-multitype.yaml:33:9: warning OPENAPI_NOT_GENERATED: not generated: the schema with type [string, integer] (OpenAPI 3.1)",
	"webhook-example-3.1-shared-id.yaml": "warn: webhook-example-3.1-shared-id.yaml:22:5: warning OPENAPI_NOT_GENERATED: not generated: the operationId newPet of webhook newPet (POST), which POST /pets has too (OpenAPI 3.1)",
	"stripe.json":                        "SourceTypeAchCreditTransfer redeclared",
}

// TestCorpus runs lint and generate on OpenAPI documents other projects
// wrote, and builds what generate wrote with the go command. It pins the
// promise that no document gives exit 0 and Go that does not compile:
// before, api-with-examples, webhook-example 3.1 and the Stripe API were
// "generated" into packages that did not build. A refused document is
// refused by lint and generate alike, with the same error, and nothing is
// written. An OpenAPI 3.1 document with a construct oapi-codegen cannot
// generate is a lint warning and a module generate skips: exit 0 both,
// nothing written.
func TestCorpus(t *testing.T) {
	t.Parallel()
	docs, err := filepath.Glob("testdata/corpus/openapi/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, stripeSpec)
	build := buildWorkspace(t)
	var built []string
	for _, doc := range docs {
		name := filepath.Base(doc)
		if doc == stripeSpec {
			name = "stripe.json"
		}
		want, ok := corpusWant[name]
		if !ok {
			t.Fatalf("%s: no expectation in corpusWant", name)
		}
		pkg := "corpus" + strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]`).ReplaceAllString(strings.TrimSuffix(name, filepath.Ext(name)), ""))
		ok = t.Run(name, func(t *testing.T) {
			if doc == stripeSpec {
				if testing.Short() || raceEnabled {
					t.Skip("-short or -race: the Stripe API description (3.9 MB) takes tens of seconds to lint and generate, minutes under the race detector; run go test -run TestCorpus ./tools/internal/command/")
				}
				p, err := findShared(stripeSpec)
				if err != nil {
					t.Skipf("the Stripe API description is read from the shared test material, which is not here: %v", err)
				}
				doc = p
			}
			data, err := os.ReadFile(doc)
			if err != nil {
				t.Fatal(err)
			}
			ws := t.TempDir()
			mod := filepath.Join(ws, "contracts", pkg, "v1")
			if err := os.MkdirAll(mod, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(mod, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
			cfg := filepath.Join(ws, "keiyaku.yaml")
			// Keiyaku's own conventions (problem+json errors, …) are not
			// what this test is about: only loading and generation.
			conf := "version: v1\ngenerate: {go_module: corpus.example}\nlint: {except: [CONVENTIONS, ARCHITECTURE]}\nmodules:\n  - path: contracts/" + pkg + "/v1\n    package: " + pkg + "\n    openapi: " + name + "\n"
			if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			lintOut, lintCode := keiyaku(t, "--config", cfg, "lint")
			genOut, genCode := keiyaku(t, "--config", cfg, "generate")
			gen := filepath.Join(ws, "gen", pkg, "v1", "openapi.gen.go")
			if warn, ok := strings.CutPrefix(want, "warn: "); ok {
				if lintCode != exitcode.OK || genCode != exitcode.OK {
					t.Fatalf("lint = %d, generate = %d; want both 0 (a warning, a skipped module)\nlint:\n%s\ngenerate:\n%s", lintCode, genCode, lintOut, genOut)
				}
				if !strings.Contains(lintOut, warn) || !strings.Contains(lintOut, "1 warnings, no errors") {
					t.Errorf("lint does not warn %q:\n%s", warn, lintOut)
				}
				_, what, _ := strings.Cut(warn, "not generated: ")
				if !strings.Contains(genOut, "skipped   contracts/"+pkg+"/v1/") || !strings.Contains(genOut, what) {
					t.Errorf("generate does not say it skips the module for %q:\n%s", what, genOut)
				}
				if _, err := os.Stat(filepath.Join(ws, "gen")); err == nil {
					t.Errorf("generate skipped the module but wrote into gen/")
				}
				return
			}
			if want != "" {
				if lintCode != exitcode.Failure || genCode != exitcode.Failure {
					t.Fatalf("lint = %d, generate = %d; want both refused (1)\nlint:\n%s\ngenerate:\n%s", lintCode, genCode, lintOut, genOut)
				}
				if !strings.Contains(lintOut, want) || lintOut != genOut {
					t.Fatalf("lint and generate must refuse with the same error containing %q\nlint:\n%s\ngenerate:\n%s", want, lintOut, genOut)
				}
				if _, err := os.Stat(gen); err == nil {
					t.Fatalf("generate refused but wrote %s", gen)
				}
				return
			}
			if lintCode != exitcode.OK || genCode != exitcode.OK {
				t.Fatalf("lint = %d, generate = %d; want both 0\nlint:\n%s\ngenerate:\n%s", lintCode, genCode, lintOut, genOut)
			}
			code, err := os.ReadFile(gen)
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(build, pkg)
			if err := os.MkdirAll(dst, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dst, "openapi.gen.go"), code, 0o644); err != nil {
				t.Fatal(err)
			}
			built = append(built, "./"+pkg)
		})
		if !ok {
			continue
		}
	}
	if len(built) == 0 {
		return // only refused documents ran (go test -run)
	}
	// Build every generated package with the go command, offline, against
	// the module versions of this repository.
	cmd := exec.CommandContext(t.Context(), "go", append([]string{"build"}, built...)...)
	cmd.Dir = build
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build %s: %v\n%s", strings.Join(built, " "), err, out.String())
	}
}

// buildWorkspace makes a Go module that requires what this repository
// requires, at the same versions, so generated packages build offline.
func buildWorkspace(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	gomod, err := os.ReadFile("../../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mod := regexp.MustCompile(`(?m)^module .*$`).ReplaceAll(gomod, []byte("module corpus.example"))
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), mod, 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open("../../../go.sum")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(filepath.Join(dir, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	return dir
}
