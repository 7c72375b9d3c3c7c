package linter

import (
	"context"
	"fmt"
	"os"
	"path"

	"github.com/twmb/avro"

	"github.com/keiyaku/keiyaku/tools/internal/avroschema"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/generator"
	"github.com/keiyaku/keiyaku/tools/internal/openapi"
	"github.com/keiyaku/keiyaku/tools/internal/pacts"
)

// FormatPact is the format of findings about pact files.
const FormatPact = "pact"

// providerModule returns the module whose service is the pact's provider.
func providerModule(cfg *config.Config, provider string) (config.Module, bool) {
	for _, m := range cfg.Modules {
		if m.Service == provider {
			return m, true
		}
	}
	return config.Module{}, false
}

func pactFinding(rule string, p pacts.Problem) Finding {
	return Finding{Rule: rule, Severity: Error, Format: FormatPact, File: p.File, Line: p.Line, Column: p.Column, Message: p.Message}
}

// unknownProvider is the finding for a pact whose provider owns no module.
func unknownProvider(rule string, f *pacts.File) Finding {
	line, col := 1, 1
	if len(f.Interactions) > 0 {
		line, col = f.Interactions[0].Line, f.Interactions[0].Column
	} else if len(f.Messages) > 0 {
		line, col = f.Messages[0].Line, f.Messages[0].Column
	}
	return Finding{Rule: rule, Severity: Error, Format: FormatPact, File: f.Path, Line: line, Column: col,
		Message: fmt.Sprintf("the pact's provider %q is no service of %s: name a module's service, or add the module", f.Provider, config.FileName)}
}

// checkPactsOpenAPI reports every HTTP interaction of pacts/*.json that
// the provider's OpenAPI document does not allow.
func checkPactsOpenAPI(cfg *config.Config) ([]Finding, error) {
	const rule = "PACT_MATCHES_OPENAPI"
	// CheckWorkspace takes no context; the work is local and bounded.
	ctx := context.Background()
	files, err := pacts.Load(os.DirFS(cfg.Root))
	if err != nil {
		return nil, err
	}
	loader, err := openapi.NewLoader(cfg.Root)
	if err != nil {
		return nil, err
	}
	defer loader.Close()
	checkers := map[string][]*pacts.OpenAPIChecker{}
	var findings []Finding
	for _, f := range files {
		if len(f.Interactions) == 0 {
			continue
		}
		m, ok := providerModule(cfg, f.Provider)
		if !ok {
			findings = append(findings, unknownProvider(rule, f))
			continue
		}
		cs, ok := checkers[m.Path]
		if !ok {
			docs, err := openAPIDocs(cfg, m)
			if err != nil {
				return nil, err
			}
			for _, src := range docs {
				doc, err := loader.Load(ctx, src)
				if err != nil {
					return nil, err
				}
				c, err := pacts.NewOpenAPIChecker(doc)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", src, err)
				}
				cs = append(cs, c)
			}
			checkers[m.Path] = cs
		}
		if len(cs) == 0 {
			findings = append(findings, Finding{Rule: rule, Severity: Error, Format: FormatPact, File: f.Path, Line: f.Interactions[0].Line, Column: f.Interactions[0].Column,
				Message: fmt.Sprintf("the pact's provider %q has no OpenAPI document in %s", f.Provider, m.Path)})
			continue
		}
		// An interaction fits when one of the provider's documents allows it.
		var first []pacts.Problem
		for i, c := range cs {
			probs := c.Check(ctx, &pacts.File{Path: f.Path, Consumer: f.Consumer, Provider: f.Provider, Interactions: f.Interactions})
			if i == 0 {
				first = probs
				continue
			}
			first = intersect(first, probs)
		}
		for _, p := range first {
			findings = append(findings, pactFinding(rule, p))
		}
	}
	return findings, nil
}

// intersect keeps the problems of a whose interaction (line) also failed
// in b.
func intersect(a, b []pacts.Problem) []pacts.Problem {
	failed := map[int]bool{}
	for _, p := range b {
		failed[p.Line] = true
	}
	var out []pacts.Problem
	for _, p := range a {
		if failed[p.Line] {
			out = append(out, p)
		}
	}
	return out
}

// checkPactsAvro reports every message of pacts/*.json whose contents are
// not a valid instance of the provider's Avro schema named by its ce_type.
func checkPactsAvro(cfg *config.Config) ([]Finding, error) {
	const rule = "PACT_MATCHES_AVRO"
	ctx := context.Background()
	files, err := pacts.Load(os.DirFS(cfg.Root))
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("open workspace root: %w", err)
	}
	defer root.Close()
	sets := map[string]map[string]*avro.Schema{}
	var findings []Finding
	for _, f := range files {
		if len(f.Messages) == 0 {
			continue
		}
		m, ok := providerModule(cfg, f.Provider)
		if !ok {
			findings = append(findings, unknownProvider(rule, f))
			continue
		}
		schemas, ok := sets[m.Path]
		if !ok {
			schemas = map[string]*avro.Schema{}
			if dir := path.Join(m.Path, generator.AvroDir); exists(cfg.Root, dir) {
				set, err := avroschema.Load(ctx, root, dir)
				if err != nil {
					return nil, err
				}
				for _, r := range set.Records {
					schemas[r.Name] = r.Avro
				}
			}
			sets[m.Path] = schemas
		}
		for _, p := range pacts.CheckAvro(f, schemas) {
			findings = append(findings, pactFinding(rule, p))
		}
	}
	return findings, nil
}
