package mock

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/deps"
	"github.com/keiyaku/keiyaku/tools/internal/openapi"
)

// Contract is the OpenAPI contract of one module of the workspace or of a
// locked dependency.
type Contract struct {
	// Module is the module as keiyaku.yaml (or its deps) declares it.
	Module config.Module
	// File is the OpenAPI document, relative to the workspace root.
	File string
	// Doc is the loaded and validated document.
	Doc *openapi3.T
}

// Name is how the contract is named in output and as the path prefix of
// a single-port mock: the module name, e.g. "member/v1".
func (c Contract) Name() string { return c.Module.Name() }

// Modules returns every module of cfg: its own, then one per dependency
// (read from its locked copy below .keiyaku/deps).
func Modules(cfg *config.Config) []config.Module {
	return append(slices.Clone(cfg.Modules), cfg.DepModules()...)
}

// Select returns the modules named by names, in the order given. A name is
// a module path ("contracts/member/v1"), a module name ("member/v1"), a
// service ("member") or a dependency's name. No names selects every module
// that has operations (see [Load]).
func Select(cfg *config.Config, names []string) ([]config.Module, error) {
	all := Modules(cfg)
	if len(names) == 0 {
		return all, nil
	}
	var out []config.Module
	for _, n := range names {
		n = strings.TrimSuffix(n, "/")
		i := slices.IndexFunc(all, func(m config.Module) bool {
			return m.Path == n || m.Name() == n || (m.Service != "" && m.Service == n) || (m.Dep != "" && m.Dep == n)
		})
		if i < 0 {
			known := make([]string, 0, len(all))
			for _, m := range all {
				known = append(known, m.Name())
			}
			return nil, fmt.Errorf("no module %q in %s (modules: %s; a dependency needs \"keiyaku deps update\" first)", n, cfg.File, strings.Join(known, ", "))
		}
		if !slices.ContainsFunc(out, func(m config.Module) bool { return m.Path == all[i].Path }) {
			out = append(out, all[i])
		}
	}
	return out, nil
}

// Load loads the OpenAPI contract of each module. A module without an
// OpenAPI document with operations (shared definitions, an events-only
// module) is skipped when it was not asked for by name (all), and an
// error otherwise.
//
// When a module comes from a dependency, the copies below .keiyaku/deps are
// first made to match keiyaku.lock (deps.Sync): a copy that differs from
// the lock is an error, never served.
func Load(ctx context.Context, cfg *config.Config, modules []config.Module, all bool) ([]Contract, error) {
	if slices.ContainsFunc(modules, func(m config.Module) bool { return m.Dep != "" }) {
		if err := deps.Sync(ctx, cfg); err != nil {
			return nil, err
		}
	}
	loader, err := openapi.NewLoader(cfg.Root)
	if err != nil {
		return nil, err
	}
	defer loader.Close()
	var out []Contract
	for _, m := range modules {
		docs, err := openapi.Documents(cfg.Root, m.Path)
		if err != nil {
			return nil, fmt.Errorf("module %s: %w", m.Name(), err)
		}
		var found *Contract
		for _, file := range docs {
			file = path.Clean(file)
			doc, err := loader.Load(ctx, file)
			if err != nil {
				return nil, err
			}
			if doc.Paths != nil && doc.Paths.Len() > 0 {
				found = &Contract{Module: m, File: file, Doc: doc}
				break
			}
		}
		if found == nil {
			if all {
				continue
			}
			return nil, fmt.Errorf("module %s has no OpenAPI document with operations", m.Name())
		}
		out = append(out, *found)
	}
	if len(out) == 0 {
		return nil, errors.New("no module with an OpenAPI document with operations")
	}
	return out, nil
}
