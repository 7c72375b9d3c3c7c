// Package docs builds the contract catalog: a static HTML site of the
// workspace's contracts that needs no server and loads nothing from the
// network.
//
// The site holds an index page; one page per service with its REST
// operations (method, path, parameters, request and response schemas as
// tables, the contract's examples) and the events it sends and receives
// (channel, Kafka key, Avro payload as tables of field, type, default and
// doc); a service map, an SVG picture drawn at build time with a
// synchronous edge for every "uses" of keiyaku.yaml and an asynchronous edge
// from every AsyncAPI send to every receive on the same channel; and a
// changelog page listing the breaking-change gate's findings between two
// versions of the contracts.
//
// Every asset (the style sheet, the icon) is embedded in the binary and
// written next to the pages; the pages carry a Content-Security-Policy that
// allows only the site's own files. The output is deterministic: the same
// contracts give the same bytes, so the site can be committed and diffed.
package docs

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/report"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Marker is the file [Site.Write] leaves in a catalog folder. A folder that
// holds it may be rewritten: files of an earlier catalog that the new one
// lacks are removed.
const Marker = ".keiyaku-catalog"

// The pages every catalog has; each service adds "<module>.html", e.g.
// "member-v1.html".
const (
	IndexPage     = "index.html"
	MapPage       = "map.html"
	ChangelogPage = "changelog.html"
)

// Changelog is the difference between two versions of the contracts: the
// findings of the breaking-change gate (tools/internal/breaking) comparing
// To with From.
type Changelog struct {
	// From and To name the two versions, e.g. ".git#branch=main (1a2b3c4)"
	// and "workspace".
	From, To string
	// Findings are the gate's findings, in the order they are given.
	Findings []report.Finding
}

// Option configures [Build].
type Option func(*options)

type options struct {
	log       *slog.Logger
	changelog *Changelog
}

// WithLogger sets the logger Build reports its progress to at debug level,
// overriding the default, which discards.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithChangelog sets what the changelog page lists. By default the catalog
// has no changelog: the page says so.
func WithChangelog(c Changelog) Option { return func(o *options) { o.changelog = &c } }

// Site is a built catalog: flat files by name. It is not modified after
// Build returns and is safe for concurrent reads.
type Site struct {
	files map[string][]byte
}

// Files returns the names of the site's files, sorted.
func (s *Site) Files() []string { return slices.Sorted(maps.Keys(s.files)) }

// File returns the content of the named file, or nil when the site has no
// such file. The caller must not modify it.
func (s *Site) File(name string) []byte { return s.files[name] }

// Build reads every module of cfg from fsys (the workspace: fsys's root is
// cfg.Root) and renders the catalog. A contract that does not load is an
// error naming it (the *diag.Error of its loader, wrapped); a canceled ctx
// stops the work with ctx's error. Build writes nothing.
func Build(ctx context.Context, cfg *config.Config, fsys fs.FS, opts ...Option) (*Site, error) {
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		return nil, errors.New("docs: WithLogger(nil): give a logger")
	}
	if cfg == nil || fsys == nil {
		return nil, errors.New("docs: build needs a configuration and a workspace")
	}
	cat, err := load(ctx, cfg, fsys, o.log)
	if err != nil {
		return nil, err
	}
	cat.Changelog = newChangelogView(o.changelog)
	tmpl, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("parse templates: %w", err)
	}
	site := &Site{files: map[string][]byte{}}
	render := func(name, tmplName string, data any) error {
		var buf bytes.Buffer
		if err := tmpl.ExecuteTemplate(&buf, tmplName, data); err != nil {
			return fmt.Errorf("render %s: %w", name, err)
		}
		site.files[name] = buf.Bytes()
		return nil
	}
	if err := render(IndexPage, "index", page{Catalog: cat, Title: "Contract catalog", Current: IndexPage}); err != nil {
		return nil, err
	}
	if err := render(MapPage, "map", page{Catalog: cat, Title: "Service map", Current: MapPage}); err != nil {
		return nil, err
	}
	if err := render(ChangelogPage, "changelog", page{Catalog: cat, Title: "Changelog", Current: ChangelogPage}); err != nil {
		return nil, err
	}
	for _, svc := range cat.Services {
		if err := render(svc.Page, "service", page{Catalog: cat, Title: svc.Name, Current: svc.Page, Service: svc}); err != nil {
			return nil, err
		}
		o.log.DebugContext(ctx, "rendered service page", "service", svc.Name, "page", svc.Page)
	}
	err = fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(assetFS, p)
		site.files[strings.TrimPrefix(p, "assets/")] = data
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read embedded assets: %w", err)
	}
	return site, nil
}

// page is what a template renders.
type page struct {
	*Catalog
	Title   string
	Current string
	Service *service
}

// Write writes the site into dir, creating it if needed, through an
// [os.Root] so that nothing lands outside it. A dir that exists must be
// empty or hold a catalog written before (it has the [Marker] file): then
// the files of the old catalog that the new one lacks are removed. Any
// other non-empty dir is refused, so that a wrong -o never deletes or
// mixes into unrelated files.
func (s *Site) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer root.Close()
	entries, err := fs.ReadDir(root.FS(), ".")
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	if len(entries) > 0 && !slices.ContainsFunc(entries, func(e fs.DirEntry) bool { return e.Name() == Marker }) {
		return fmt.Errorf("write catalog: %s is not empty and holds no earlier catalog (%s): choose an empty or new folder", dir, Marker)
	}
	for _, e := range entries {
		if e.Name() == Marker || s.files[e.Name()] != nil {
			continue
		}
		if !e.Type().IsRegular() {
			return fmt.Errorf("write catalog: %s holds %s, which the catalog did not write: remove it", dir, filepath.Join(dir, e.Name()))
		}
		if err := root.Remove(e.Name()); err != nil {
			return fmt.Errorf("remove stale %s: %w", e.Name(), err)
		}
	}
	if err := root.WriteFile(Marker, []byte("written by keiyaku docs; the folder is rewritten as a whole\n"), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", Marker, err)
	}
	for _, name := range s.Files() {
		if err := root.WriteFile(name, s.files[name], 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}
