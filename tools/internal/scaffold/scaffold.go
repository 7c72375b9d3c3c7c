// Package scaffold holds what keiyaku init writes: the files of a new
// service repository (rendered from embedded templates) and, for a
// repository that already has contracts, the discovery of its OpenAPI,
// AsyncAPI and Avro files.
package scaffold

import (
	"bytes"
	"embed"
	"fmt"
	"go/format"
	"path"
	"regexp"
	"strings"
	"text/template"
)

//go:embed templates
var templates embed.FS

// Service describes the starter service of a new repository.
type Service struct {
	// Name is the service name, a lower-case word: the contract folder
	// contracts/<Name>/v1, the Go package <Name>v1 and cmd/<Name>.
	Name string
	// Module is the Go module path of the repository, e.g.
	// example.com/orders.
	Module string
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,30}$`)

// modulePathRE is a conservative Go module path: dot-separated host-like
// first element, then slash-separated elements.
var modulePathRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*(/[A-Za-z0-9._~-]+)*$`)

// Validate reports a bad name or module path with how to fix it.
func (s Service) Validate() error {
	if !nameRE.MatchString(s.Name) {
		return fmt.Errorf("service name %q: use a lower-case word of letters and digits starting with a letter, e.g. orders", s.Name)
	}
	if s.Module == "" {
		return fmt.Errorf("go module path: give one, e.g. example.com/%s (it becomes go.mod's module line)", s.Name)
	}
	if !modulePathRE.MatchString(s.Module) {
		return fmt.Errorf("go module path %q: want a path such as example.com/%s", s.Module, s.Name)
	}
	return nil
}

// File is one file to write, its path relative to the repository root
// with forward slashes.
type File struct {
	Path string
	Data []byte
}

// Makefile is the path of the Makefile fragment in [Service.Files]; a
// caller writes it under another name when the repository has a Makefile.
const Makefile = "Makefile"

// GitIgnore is the path of the ignore file in [Service.Files]: its lines
// are to be appended to an existing .gitignore.
const GitIgnore = ".gitignore"

// Files renders the files of a new repository holding service s: the
// configuration, the starter contracts (OpenAPI, AsyncAPI 3, one Avro
// schema; they pass every lint rule), the Makefile, the GitHub workflow,
// the .gitignore lines and the service's main package. The order is fixed.
func (s Service) Files() ([]File, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	data := map[string]string{
		"Service": s.Name,
		"Title":   strings.ToUpper(s.Name[:1]) + s.Name[1:],
		"Pkg":     s.Name + "v1",
		"Module":  s.Module,
	}
	contracts := path.Join("contracts", s.Name, "v1")
	layout := []struct{ src, dst string }{
		{"keiyaku.yaml.tmpl", "keiyaku.yaml"},
		{"gitignore", GitIgnore},
		{"contracts/openapi.yaml.tmpl", path.Join(contracts, "openapi.yaml")},
		{"contracts/asyncapi.yaml.tmpl", path.Join(contracts, "asyncapi.yaml")},
		{"contracts/avro/ItemCreated.avsc.tmpl", path.Join(contracts, "avro", "ItemCreated.avsc")},
		{"Makefile.tmpl", Makefile},
		{"workflow.yml", ".github/workflows/keiyaku.yml"},
		{"cmd/main.go.tmpl", path.Join("cmd", s.Name, "main.go")},
	}
	files := make([]File, 0, len(layout))
	for _, l := range layout {
		raw, err := templates.ReadFile("templates/service/" + l.src)
		if err != nil {
			return nil, fmt.Errorf("scaffold: %w", err)
		}
		out := raw
		if strings.HasSuffix(l.src, ".tmpl") {
			t, err := template.New(l.src).Delims("[[", "]]").Option("missingkey=error").Parse(string(raw))
			if err != nil {
				return nil, fmt.Errorf("scaffold: template %s: %w", l.src, err)
			}
			var buf bytes.Buffer
			if err := t.Execute(&buf, data); err != nil {
				return nil, fmt.Errorf("scaffold: template %s: %w", l.src, err)
			}
			out = buf.Bytes()
		}
		if strings.HasSuffix(l.dst, ".go") {
			if out, err = format.Source(out); err != nil {
				return nil, fmt.Errorf("scaffold: format %s: %w", l.dst, err)
			}
		}
		files = append(files, File{Path: l.dst, Data: out})
	}
	return files, nil
}
