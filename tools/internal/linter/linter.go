// Package linter checks that every contract of a workspace loads, validates
// and follows Keiyaku's rules.
//
// A contract that does not load is an error (the caller exits 1); a rule
// that a loaded contract breaks is a Finding (data, exit 100 at or above the
// fail level).
package linter

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
	"github.com/keiyaku/keiyaku/tools/internal/avroschema"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/diag"
	"github.com/keiyaku/keiyaku/tools/internal/generator"
	"github.com/keiyaku/keiyaku/tools/internal/openapi"
	"github.com/keiyaku/keiyaku/tools/internal/report"
)

// Finding is one broken rule at one place.
type Finding = report.Finding

// The severities of lint rules.
const (
	Error   = report.Error
	Warning = report.Warning
	Info    = report.Info
)

// Rule is one lint rule: over each loaded OpenAPI document (Check), over
// the Avro schemas of each module (CheckAvro), over the AsyncAPI document
// of each module (CheckAsyncAPI) or over the whole workspace
// (CheckWorkspace); exactly one is set.
type Rule struct {
	ID          string
	Severity    report.Severity
	Category    string
	Description string
	Check       func(doc *openapi3.T, report func(loc *openapi3.Location, msg string))
	// CheckAvro checks the Avro schemas of one module.
	CheckAvro func(set *avroschema.Set, m config.Module) []Finding
	// CheckAsyncAPI checks the loaded AsyncAPI document of one module.
	CheckAsyncAPI func(doc *asyncapi.Document, m config.Module) []Finding
	// CheckWorkspace returns findings with their positions; it may read
	// the workspace (e.g. Go sources) and fail with an error.
	CheckWorkspace func(cfg *config.Config) ([]Finding, error)
}

// exists reports whether the workspace-relative path exists.
func exists(root, p string) bool {
	_, err := os.Stat(filepath.Join(root, filepath.FromSlash(p)))
	return err == nil
}

// The rule categories, usable in lint.use and lint.except.
const (
	CategoryConventions  = "CONVENTIONS"
	CategoryArchitecture = "ARCHITECTURE"
)

// Run loads every contract of cfg and applies the rules. It returns the
// first contract that fails to load as an error.
func Run(ctx context.Context, cfg *config.Config) ([]Finding, error) {
	loader, err := openapi.NewLoader(cfg.Root)
	if err != nil {
		return nil, err
	}
	defer loader.Close()
	rules, err := Enabled(cfg.Lint)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("open workspace root: %w", err)
	}
	defer root.Close()
	var findings []Finding
	// What is loaded here, generate (Verify, below) takes again.
	avroSets, asyncDocs := map[string]*avroschema.Set{}, map[string]*asyncapi.Document{}
	for _, m := range cfg.Modules {
		files, err := openAPIDocs(cfg, m)
		if err != nil {
			return nil, err
		}
		for _, src := range files {
			if err := lintFile(ctx, loader, rules, cfg.Lint.Examples, src, &findings); err != nil {
				return nil, err
			}
		}
		contracts := len(files)
		// AsyncAPI: the document must load (its Avro payloads with it) and
		// pass every check generating its events runs.
		if src := m.AsyncAPIDoc(cfg.Root); src != "" {
			doc, err := asyncapi.Load(ctx, cfg.Root, src)
			if err != nil {
				return nil, err
			}
			asyncDocs[src] = doc
			if m.Generated() {
				if err := generator.CheckEvents(cfg, m, doc); err != nil {
					return nil, err
				}
			}
			for _, r := range rules {
				if r.CheckAsyncAPI != nil {
					findings = append(findings, r.CheckAsyncAPI(doc, m)...)
				}
			}
			contracts++
		}
		// Avro: the schemas of the module's avro folder load together and
		// follow the Avro rules.
		if dir := path.Join(m.Path, generator.AvroDir); exists(cfg.Root, dir) {
			set, err := avroschema.Load(ctx, root, dir)
			if err != nil {
				return nil, err
			}
			avroSets[dir] = set
			if m.Generated() {
				if err := generator.CheckAvro(set, m); err != nil {
					return nil, err
				}
			}
			for _, r := range rules {
				if r.CheckAvro != nil {
					findings = append(findings, r.CheckAvro(set, m)...)
				}
			}
			contracts++
		}
		if contracts == 0 {
			return nil, &diag.Error{File: cfg.File, Line: m.Line, Column: m.Column,
				Msg:  fmt.Sprintf("module %q holds no contract", m.Path),
				Hint: "add its openapi.yaml, asyncapi.yaml or " + generator.AvroDir + "/*.avsc (or name the documents with openapi: / asyncapi:), or remove the module"}
		}
	}
	// Every check generate would fail on: generate the modules in memory
	// and type-check the code, so that lint passing means generate works.
	// What generate leaves out on purpose (an OpenAPI 3.1 module
	// oapi-codegen cannot generate) is a warning.
	omitted, err := generator.Verify(ctx, cfg, generator.WithLoaded(avroSets, asyncDocs))
	if err != nil {
		return nil, err
	}
	for _, s := range omitted {
		findings = append(findings, s.Finding())
	}
	for _, r := range rules {
		if r.CheckWorkspace == nil {
			continue
		}
		fs, err := r.CheckWorkspace(cfg)
		if err != nil {
			return nil, fmt.Errorf("lint %s: %w", r.ID, err)
		}
		findings = append(findings, fs...)
	}
	report.Sort(findings)
	findings = slices.CompactFunc(findings, func(a, b Finding) bool { return a.String() == b.String() })
	return ignored(cfg.Lint.Ignore, findings), nil
}

// openAPIDocs lists the OpenAPI documents of a module: those at the top
// of its folder, and the one generate reads, whatever its name or folder.
func openAPIDocs(cfg *config.Config, m config.Module) ([]string, error) {
	return openapi.Documents(cfg.Root, m.Path, m.OpenAPIDoc(cfg.Root))
}

// Enabled returns the rules lint.use and lint.except select, in table
// order: use (default: every rule) names rule ids or categories, except
// removes rule ids or categories. An unknown name is an error.
func Enabled(l config.Lint) ([]Rule, error) {
	known := func(name string) bool {
		return slices.ContainsFunc(Rules, func(r Rule) bool { return r.ID == name || r.Category == name })
	}
	for _, name := range slices.Concat(l.Use, l.Except) {
		if !known(name) {
			return nil, fmt.Errorf("keiyaku.yaml lint: unknown rule or category %q; known: %s", name, strings.Join(ruleNames(), ", "))
		}
	}
	var rules []Rule
	for _, r := range Rules {
		in := func(names []string) bool { return slices.Contains(names, r.ID) || slices.Contains(names, r.Category) }
		if (len(l.Use) == 0 || in(l.Use)) && !in(l.Except) {
			rules = append(rules, r)
		}
	}
	return rules, nil
}

func ruleNames() []string {
	names := []string{CategoryConventions, CategoryArchitecture}
	for _, r := range Rules {
		names = append(names, r.ID)
	}
	return names
}

// ignored drops findings an ignore entry accepts: same rule, and a file
// equal to or below its path (any file when the path is empty).
func ignored(ignores []config.Ignore, findings []Finding) []Finding {
	return slices.DeleteFunc(findings, func(f Finding) bool {
		return slices.ContainsFunc(ignores, func(ig config.Ignore) bool { return ig.Matches(f.Rule, f.File) })
	})
}

// InvalidExample is the rule id of an OpenAPI example that does not match
// its schema. lint.examples sets its severity (error, warning or off)
// rather than lint.use and lint.except: examples do not change generated
// code, so generate never refuses them.
const InvalidExample = "INVALID_EXAMPLE"

func lintFile(ctx context.Context, loader *openapi.Loader, rules []Rule, examples, src string, findings *[]Finding) error {
	doc, err := loader.Load(ctx, src)
	if err != nil {
		return err
	}
	if examples != config.ExamplesOff {
		sev := report.Error
		if examples == config.ExamplesWarning {
			sev = report.Warning
		}
		for _, e := range openapi.InvalidExamples(doc, src) {
			msg := e.Msg
			if e.Hint != "" {
				msg += "; " + e.Hint
			}
			*findings = append(*findings, Finding{Rule: InvalidExample, Severity: sev, Format: report.FormatOpenAPI,
				File: e.File, Line: e.Line, Column: e.Column, Message: msg})
		}
	}
	for _, r := range rules {
		if r.Check == nil {
			continue
		}
		r.Check(doc, func(loc *openapi3.Location, msg string) {
			f := Finding{Rule: r.ID, Severity: r.Severity, Format: report.FormatOpenAPI, File: src, Message: msg}
			if loc != nil {
				f.File, f.Line, f.Column = cmp.Or(loc.File, src), loc.Line, loc.Column
			}
			*findings = append(*findings, f)
		})
	}
	return nil
}

// syncChains reports chains of synchronous calls longer than
// lint.max_sync_depth: each hop adds latency and a way to fail, so long
// chains are an anti-pattern (prefer an event, or let the caller fan out).
func syncChains(cfg *config.Config) ([]Finding, error) {
	limit := cfg.Lint.MaxSyncDepth
	var findings []Finding
	var longest func(p string, seen []string) []string
	longest = func(p string, seen []string) []string {
		m, _ := cfg.Module(p)
		best := []string{p}
		for _, u := range m.Uses {
			if slices.Contains(seen, u.Module) {
				continue // cycles are config errors, reported by config.Load
			}
			if c := append([]string{p}, longest(u.Module, append(seen, p))...); len(c) > len(best) {
				best = c
			}
		}
		return best
	}
	for _, m := range cfg.Modules {
		if chain := longest(m.Path, nil); len(chain)-1 > limit {
			findings = append(findings, Finding{
				Rule: "SYNC_CHAIN_TOO_LONG", Severity: Warning, Format: report.FormatConfig, File: cfg.File, Line: m.Line, Column: m.Column,
				Message: fmt.Sprintf("synchronous call chain %s has %d hops (at most %d): a slow or failing service at its end stalls every caller; publish an event or fan out from the caller",
					strings.Join(chain, " → "), len(chain)-1, limit),
			})
		}
	}
	return findings, nil
}
