package linter

import (
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/keiyaku/keiyaku/tools/internal/config"
)

// ServicesDir holds the services' code, one folder per service name.
const ServicesDir = "services"

// checkClientImports reads the imports of every Go file under
// services/<name>/, where <name> is a service of keiyaku.yaml, and reports
// an import of a generated package whose module belongs to another service
// that <name> does not declare in "uses": a hidden synchronous dependency
// the gate cannot see otherwise. A service may import its own generated
// packages. Folders that are no service (a demo, end-to-end tests) are not
// checked.
func checkClientImports(cfg *config.Config) ([]Finding, error) {
	owners := map[string]config.Module{} // import path → module
	for _, m := range cfg.Modules {
		if m.Generated() {
			owners[cfg.ImportPath(m)] = m
		}
	}
	allowed := map[string][]string{} // service → modules it may import
	for _, m := range cfg.Modules {
		if m.Service == "" {
			continue
		}
		allowed[m.Service] = append(allowed[m.Service], m.Path)
		for _, u := range m.Uses {
			allowed[m.Service] = append(allowed[m.Service], u.Module)
		}
	}
	dir := filepath.Join(cfg.Root, ServicesDir)
	var findings []Finding
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") {
			return nil
		}
		rel, err := filepath.Rel(cfg.Root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		service, _, _ := strings.Cut(strings.TrimPrefix(rel, ServicesDir+"/"), "/")
		if _, isService := allowed[service]; !isService {
			// Not a service's code (a demo, end-to-end tests): it may
			// drive every service.
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, rel, src, parser.ImportsOnly)
		if err != nil {
			return fmt.Errorf("parse %s: %w", rel, err)
		}
		for _, imp := range f.Imports {
			ip, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				continue
			}
			m, ok := owners[ip]
			if !ok || slices.Contains(allowed[service], m.Path) {
				continue
			}
			pos := fset.Position(imp.Pos())
			findings = append(findings, Finding{
				Rule: "UNDECLARED_CLIENT_IMPORT", Severity: Error, Format: "go", File: rel, Line: pos.Line, Column: pos.Column,
				Message: fmt.Sprintf("service %q imports %s (module %s) without declaring it; add \"- module: %s\" to its uses in %s, or drop the import",
					service, path.Base(path.Dir(ip))+"/"+path.Base(ip), m.Path, m.Path, config.FileName),
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return findings, nil
}
