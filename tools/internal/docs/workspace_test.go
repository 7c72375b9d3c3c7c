package docs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/diag"
	"github.com/keiyaku/keiyaku/tools/internal/report"
)

// hostile is text from a contract that would run as script if a page did
// not escape it.
const hostile = `<script>alert(1)</script><img src=x onerror=alert(2)>`

// writeWorkspace writes a one-service workspace with the given openapi.yaml
// and returns its configuration.
func writeWorkspace(t *testing.T, spec string) (*config.Config, error) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":                      "module example.com/ws\n\ngo 1.26\n",
		"keiyaku.yaml":                "version: v1\nmodules:\n  - path: contracts/x/v1\n    service: x\n",
		"contracts/x/v1/openapi.yaml": spec,
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return config.Load(filepath.Join(dir, "keiyaku.yaml"))
}

const hostileSpec = `openapi: 3.0.3
info:
  title: "` + `X <b>API</b>` + `"
  version: 1.0.0
  description: '` + hostile + `'
paths:
  /things:
    get:
      operationId: listThings
      summary: '` + hostile + `'
      parameters:
        - name: q
          in: query
          description: '` + hostile + `'
          schema:
            type: string
            example: '` + hostile + `'
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                type: object
                properties:
                  name:
                    type: string
                    description: '` + hostile + `'
              example:
                name: '` + hostile + `'
`

// TestBuildWorkspaces pins what Build does with odd input: contract text
// is escaped everywhere (no script, no event handler reaches a page), a
// contract that does not load is an error naming its file, and changelog
// findings reach the changelog page escaped too.
func TestBuildWorkspaces(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		spec    string
		opts    []Option
		wantErr string
		check   func(t *testing.T, site *Site)
	}{
		{
			name: "hostile text is escaped",
			spec: hostileSpec,
			opts: []Option{WithChangelog(Changelog{From: hostile, To: "b", Findings: []report.Finding{
				{Rule: "r", Severity: report.Error, Format: report.FormatOpenAPI, File: "f.yaml", Message: hostile},
			}})},
			check: func(t *testing.T, site *Site) {
				for _, name := range site.Files() {
					if !strings.HasSuffix(name, ".html") {
						continue
					}
					doc := parse(t, site, name)
					for _, n := range elements(doc, func(*html.Node) bool { return true }) {
						if n.Data == "script" || (n.Data == "img") {
							t.Errorf("%s: contract text became a <%s> element", name, n.Data)
						}
						for _, a := range n.Attr {
							if strings.HasPrefix(a.Key, "on") {
								t.Errorf("%s: contract text became an %s attribute", name, a.Key)
							}
						}
					}
				}
				if !strings.Contains(text(parse(t, site, "x-v1.html")), hostile) {
					t.Errorf("the service page does not show the contract's text as text")
				}
				if !strings.Contains(text(parse(t, site, ChangelogPage)), hostile) {
					t.Errorf("the changelog does not show the finding's message as text")
				}
			},
		},
		{
			name:    "broken contract",
			spec:    "openapi: 3.0.3\ninfo: [\n",
			wantErr: "contracts/x/v1/openapi.yaml",
		},
		{
			name:    "nil logger",
			spec:    hostileSpec,
			opts:    []Option{WithLogger(nil)},
			wantErr: "WithLogger(nil)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := writeWorkspace(t, tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			site, err := Build(t.Context(), cfg, os.DirFS(cfg.Root), tt.opts...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if tt.name == "broken contract" {
					var de *diag.Error
					if !errors.As(err, &de) {
						t.Errorf("err = %T, want a wrapped *diag.Error", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, site)
		})
	}
}

// TestBuildCanceled pins that a canceled context stops Build with the
// context's error.
func TestBuildCanceled(t *testing.T) {
	t.Parallel()
	cfg := repoConfig(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Build(ctx, cfg, os.DirFS(cfg.Root)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// TestWrite pins the folder rules of Site.Write: a new folder is created,
// a rewrite removes the files of the old catalog that the new one lacks
// and keeps nothing else, and a non-empty folder without the marker is
// refused untouched.
func TestWrite(t *testing.T) {
	t.Parallel()
	_, site := buildRepo(t)
	tests := []struct {
		name    string
		before  map[string]string
		wantErr string
	}{
		{name: "new folder"},
		{name: "earlier catalog", before: map[string]string{Marker: "", "gone-v1.html": "old page"}},
		{name: "foreign folder", before: map[string]string{"notes.txt": "mine"}, wantErr: "holds no earlier catalog"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "site")
			if tt.before != nil {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				for name, data := range tt.before {
					if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			err := site.Write(dir)
			entries, rerr := os.ReadDir(dir)
			if rerr != nil {
				t.Fatal(rerr)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if len(names) != len(tt.before) {
					t.Errorf("a refused write changed the folder: %v", names)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := append(site.Files(), Marker)
			slices.Sort(want)
			slices.Sort(names)
			if !slices.Equal(names, want) {
				t.Errorf("folder holds %v, want %v", names, want)
			}
			for _, name := range site.Files() {
				data, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil || !bytes.Equal(data, site.File(name)) {
					t.Errorf("%s not written as built (%v)", name, err)
				}
			}
		})
	}
}
