package config

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/mod/modfile"
)

func (c *Config) validate(top *yaml.Node) error {
	if c.Version != Version {
		line, col := 1, 1
		if n := valueNode(top, "version"); n != nil {
			line, col = n.Line, n.Column
		}
		if c.Version == "" {
			return &Error{File: c.File, Line: line, Column: col, Msg: `"version" is required; add "version: v1" at the top`}
		}
		return &Error{File: c.File, Line: line, Column: col, Msg: fmt.Sprintf("unsupported version %q; this keiyaku reads version v1", c.Version)}
	}
	if c.Generate.Out == "" {
		c.Generate.Out = DefaultOut
	}
	outErr := checkRelPath(c.Generate.Out)
	if outErr == nil && (c.Generate.Out == "." || c.Generate.Out == "contracts" || strings.HasPrefix(c.Generate.Out, "contracts/")) {
		outErr = errors.New("must be a folder of its own, such as gen; generate removes stale files there")
	}
	if outErr != nil {
		n := valueNode(valueNode(top, "generate"), "out")
		return &Error{File: c.File, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf("generate.out %q: %v", c.Generate.Out, outErr)}
	}
	if len(c.Modules) == 0 && len(c.Deps) == 0 {
		return &Error{File: c.File, Msg: `no modules; list the contract folders under "modules:" (or the modules of other workspaces under "deps:")`}
	}
	if err := c.validateBreaking(top); err != nil {
		return err
	}
	if err := c.validateLint(top); err != nil {
		return err
	}
	seen := make(map[string]bool)
	pkgs := make(map[string]string)
	for _, m := range c.Modules {
		at := func(format string, args ...any) error {
			return &Error{File: c.File, Line: m.Line, Column: m.Column, Msg: fmt.Sprintf(format, args...)}
		}
		if m.Path == "" {
			return at(`module without "path"; give the contract folder, e.g. "path: contracts/member/v1"`)
		}
		if err := checkRelPath(m.Path); err != nil {
			return at("module path %q: %v", m.Path, err)
		}
		if m.Path == "." {
			return at(`module path "." is the workspace root; give the contract folder, e.g. "contracts/member/v1"`)
		}
		if m.Path == c.Generate.Out || strings.HasPrefix(m.Path, c.Generate.Out+"/") {
			return at("module path %q is inside generate.out %q, where generated files go", m.Path, c.Generate.Out)
		}
		if seen[m.Path] {
			return at("module %q is listed twice", m.Path)
		}
		seen[m.Path] = true
		for _, d := range []struct{ key, name string }{{"openapi", m.OpenAPI}, {"asyncapi", m.AsyncAPI}} {
			if d.name == "" {
				continue
			}
			if err := checkRelPath(path.Join(m.Path, d.name)); err != nil || path.IsAbs(d.name) || strings.HasPrefix(path.Clean(d.name), "../") {
				return at("module %q: %s %q must be a file inside the module folder, relative to it", m.Path, d.key, d.name)
			}
		}
		if nn := m.OpenAPICodegen.NameNormalizer; nn != "" && !slices.Contains(NameNormalizers, nn) {
			return at("module %q: openapi_codegen.name_normalizer %q: use one of %s", m.Path, nn, strings.Join(NameNormalizers, ", "))
		}
		if !m.Generated() {
			continue
		}
		pkg := m.GoPackage()
		if !identRE.MatchString(pkg) {
			return at("module %q: Go package name %q is not a lower-case identifier; set \"package:\"", m.Path, pkg)
		}
		out := c.OutDir(m)
		if other, dup := pkgs[out]; dup {
			return at("modules %q and %q would both generate into %s", other, m.Path, out)
		}
		pkgs[out] = m.Path
	}
	if err := c.validateDeps(top, pkgs); err != nil {
		return err
	}
	for _, m := range c.Modules {
		used := map[string]bool{}
		for _, u := range m.Uses {
			at := func(format string, args ...any) error {
				return &Error{File: c.File, Line: u.Line, Column: u.Column, Msg: fmt.Sprintf(format, args...)}
			}
			if m.Service == "" {
				return at("module %q has \"uses\" but no \"service\"; only a service calls others", m.Path)
			}
			p, ok := c.Module(u.Module)
			switch {
			case !ok:
				return at("uses: no module %q; known modules: %s", u.Module, strings.Join(c.modulePaths(), ", "))
			case u.Module == m.Path || p.Service == m.Service:
				return at("uses: service %q cannot call itself", m.Service)
			case !p.Generated():
				return at("uses: module %q is not generated (generate: false), so it has no client", u.Module)
			case used[u.Module]:
				return at("uses: module %q is listed twice", u.Module)
			case u.MaxAttempts < 0 || u.MaxAttempts > 10:
				return at("uses %s: max_attempts %d: use 1 to 10; unbounded retries multiply load on a failing service", u.Module, u.MaxAttempts)
			case u.RetryBudget < 0 || u.RetryBudget > 1:
				return at("uses %s: retry_budget %v: use a share between 0 and 1, e.g. 0.1", u.Module, u.RetryBudget)
			case u.Breaker.FailureRatio < 0 || u.Breaker.FailureRatio > 1:
				return at("uses %s: breaker.failure_ratio %v: use a share between 0 and 1, e.g. 0.5", u.Module, u.Breaker.FailureRatio)
			case u.Breaker.MinRequests < 0 || u.Breaker.ConsecutiveFailures < 0:
				return at("uses %s: breaker counts must not be negative", u.Module)
			case u.Fallback != "" && u.Fallback != FallbackNone && u.Fallback != FallbackLastGood:
				return at("uses %s: fallback %q: use %q or %q", u.Module, u.Fallback, FallbackNone, FallbackLastGood)
			case u.FallbackTTL != 0 && u.Fallback != FallbackLastGood:
				return at("uses %s: fallback_ttl is set but fallback is not %q", u.Module, FallbackLastGood)
			case u.AttemptTimeout != 0 && u.Timeout != 0 && u.AttemptTimeout > u.Timeout:
				return at("uses %s: attempt_timeout %s is longer than timeout %s", u.Module, time.Duration(u.AttemptTimeout), time.Duration(u.Timeout))
			}
			used[u.Module] = true
		}
	}
	if cycle := c.syncCycle(); cycle != nil {
		m, _ := c.Module(cycle[0])
		return &Error{File: c.File, Line: m.Line, Column: m.Column,
			Msg: fmt.Sprintf("synchronous call cycle %s; break it with an event", strings.Join(cycle, " → "))}
	}
	return nil
}

func (c *Config) modulePaths() []string {
	paths := make([]string, len(c.Modules))
	for i, m := range c.Modules {
		paths[i] = m.Path
	}
	return paths
}

// syncCycle returns the module paths of a cycle in the uses graph, first
// module repeated at the end, or nil.
func (c *Config) syncCycle() []string {
	const (
		unvisited = iota
		active
		done
	)
	state := make(map[string]int)
	var stack []string
	var visit func(p string) []string
	visit = func(p string) []string {
		state[p] = active
		stack = append(stack, p)
		m, _ := c.Module(p)
		for _, u := range m.Uses {
			switch state[u.Module] {
			case active:
				i := slices.Index(stack, u.Module)
				return append(slices.Clone(stack[i:]), u.Module)
			case unvisited:
				if cyc := visit(u.Module); cyc != nil {
					return cyc
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[p] = done
		return nil
	}
	for _, m := range c.Modules {
		if state[m.Path] == unvisited {
			if cyc := visit(m.Path); cyc != nil {
				return cyc
			}
		}
	}
	return nil
}

// checkRelPath accepts a clean, relative, forward-slash path that stays
// inside the workspace.
func checkRelPath(p string) error {
	switch {
	case strings.Contains(p, `\`):
		return errors.New("use forward slashes")
	case path.IsAbs(p) || filepath.IsAbs(p):
		return errors.New("must be relative to the workspace root")
	case path.Clean(p) != p:
		return fmt.Errorf("not clean; write %q", path.Clean(p))
	case p == ".." || strings.HasPrefix(p, "../"):
		return errors.New("must stay inside the workspace")
	}
	return nil
}

func sanitizeIdent(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return -1
	}, s)
}

// goModulePath reads the module path from a go.mod file.
func goModulePath(file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	mod := modfile.ModulePath(data)
	if mod == "" {
		return "", errors.New("no module line")
	}
	return mod, nil
}

// The Avro compatibility modes, with Schema Registry's names.
var AvroModes = []string{"BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE"}

func (c *Config) validateBreaking(top *yaml.Node) error {
	b := &c.Breaking
	node := valueNode(top, "breaking")
	at := func(n *yaml.Node, format string, args ...any) error {
		line, col := 0, 0
		if n != nil {
			line, col = n.Line, n.Column
		}
		return &Error{File: c.File, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
	}
	if b.Against == "" {
		b.Against = DefaultAgainst
	}
	if b.OpenAPI.FailOn == "" {
		b.OpenAPI.FailOn = "error"
	}
	switch b.OpenAPI.FailOn {
	case "error", "warning", "info":
	default:
		return at(valueNode(valueNode(node, "openapi"), "fail_on"), "breaking.openapi.fail_on %q: use error, warning or info", b.OpenAPI.FailOn)
	}
	avro := valueNode(node, "avro")
	if b.Avro.Compatibility == "" {
		b.Avro.Compatibility = "FULL_TRANSITIVE"
	}
	b.Avro.Compatibility = strings.ToUpper(b.Avro.Compatibility)
	if !slices.Contains(AvroModes, b.Avro.Compatibility) {
		return at(valueNode(avro, "compatibility"), "breaking.avro.compatibility %q: use one of %s", b.Avro.Compatibility, strings.Join(AvroModes, ", "))
	}
	overrides := valueNode(avro, "overrides")
	for name, mode := range b.Avro.Overrides {
		if !slices.Contains(AvroModes, strings.ToUpper(mode)) {
			return at(valueNode(overrides, name), "breaking.avro.overrides[%s] %q: use one of %s", name, mode, strings.Join(AvroModes, ", "))
		}
		b.Avro.Overrides[name] = strings.ToUpper(mode)
	}
	return c.validateIgnores("breaking", valueNode(node, "ignore"), b.Ignore)
}

func (c *Config) validateLint(top *yaml.Node) error {
	node := valueNode(top, "lint")
	if c.Lint.MaxSyncDepth == 0 {
		c.Lint.MaxSyncDepth = DefaultMaxSyncDepth
	}
	if c.Lint.MaxSyncDepth < 1 {
		n := valueNode(node, "max_sync_depth")
		return &Error{File: c.File, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf("lint.max_sync_depth %d: must be at least 1", c.Lint.MaxSyncDepth)}
	}
	switch c.Lint.Examples {
	case "":
		c.Lint.Examples = ExamplesError
	case ExamplesError, ExamplesWarning, ExamplesOff:
	default:
		n := valueNode(node, "examples")
		return &Error{File: c.File, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf("lint.examples %q: use error, warning or off", c.Lint.Examples)}
	}
	return c.validateIgnores("lint", valueNode(node, "ignore"), c.Lint.Ignore)
}

// validateIgnores requires a rule and a reason on every ignore entry and
// records their positions.
func (c *Config) validateIgnores(section string, node *yaml.Node, ignores []Ignore) error {
	if node == nil || node.Kind != yaml.SequenceNode {
		return nil
	}
	for i := range ignores {
		n := node.Content[i]
		ignores[i].Line, ignores[i].Column = n.Line, n.Column
		at := func(format string, args ...any) error {
			return &Error{File: c.File, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)}
		}
		if ignores[i].Rule == "" {
			return at("%s.ignore[%d]: \"rule\" is required", section, i)
		}
		if strings.TrimSpace(ignores[i].Reason) == "" {
			return at("%s.ignore[%d] (%s): \"reason\" is required; say why this finding is accepted", section, i, ignores[i].Rule)
		}
		if ignores[i].Path != "" {
			if err := checkRelPath(ignores[i].Path); err != nil {
				return at("%s.ignore[%d] path %q: %v", section, i, ignores[i].Path, err)
			}
		}
	}
	return nil
}

var depNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// validateDeps checks every deps entry; pkgs maps the output folders of
// the local modules to their paths, so that a dependency generating into
// the same folder is refused.
func (c *Config) validateDeps(top *yaml.Node, pkgs map[string]string) error {
	seen := map[string]bool{}
	for i, d := range c.Deps {
		at := func(key, format string, args ...any) error {
			line, col := d.Line, d.Column
			if n := valueNode(valueNode(top, "deps").Content[i], key); n != nil {
				line, col = n.Line, n.Column
			}
			return &Error{File: c.File, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
		}
		switch {
		case d.Name == "":
			return at("", `deps[%d]: "name" is required, e.g. "name: member"`, i)
		case !depNameRE.MatchString(d.Name):
			return at("name", "deps[%d]: name %q: use lower-case letters, digits and \"-\", starting with a letter", i, d.Name)
		case seen[d.Name]:
			return at("name", "deps: %q is listed twice", d.Name)
		case strings.TrimSpace(d.Source) == "":
			return at("", `deps %s: "source" is required: a git URL, a path to a git repository or a directory`, d.Name)
		case strings.HasPrefix(d.Source, "-") || strings.ContainsFunc(d.Source, isControl):
			return at("source", "deps %s: source %q: must not start with \"-\" nor hold control characters", d.Name, d.Source)
		case strings.Contains(d.Source, "::"):
			return at("source", "deps %s: source %q: git transport helpers (\"::\") are not allowed; give a URL or a path", d.Name, d.Source)
		case strings.Contains(d.Source, "#"):
			return at("source", "deps %s: source %q: write the revision under \"ref\", not after \"#\"", d.Name, d.Source)
		case strings.HasPrefix(d.Ref, "-") || strings.ContainsFunc(d.Ref, isControl) || strings.ContainsAny(d.Ref, " ~^:?*[\\"):
			return at("ref", "deps %s: ref %q is not a tag, branch or commit id", d.Name, d.Ref)
		case d.Module == "":
			return at("", `deps %s: "module" is required: the module's path in the provider's workspace, e.g. "contracts/member/v1"`, d.Name)
		case d.Subdir != "" && d.Ref == "":
			return at("subdir", "deps %s: subdir needs a git source with a ref; for a directory source, point source at the folder", d.Name)
		}
		if err := checkRelPath(d.Module); err != nil || d.Module == "." {
			if err == nil {
				err = errors.New("names the whole workspace; give the module folder")
			}
			return at("module", "deps %s: module %q: %v", d.Name, d.Module, err)
		}
		if d.Subdir != "" {
			if err := checkRelPath(d.Subdir); err != nil {
				return at("subdir", "deps %s: subdir %q: %v", d.Name, d.Subdir, err)
			}
		}
		seen[d.Name] = true
	}
	for _, m := range c.DepModules() {
		at := func(format string, args ...any) error {
			return &Error{File: c.File, Line: m.Line, Column: m.Column, Msg: fmt.Sprintf(format, args...)}
		}
		pkg := m.GoPackage()
		if !identRE.MatchString(pkg) {
			return at("deps %s: Go package name %q of module %q is not a lower-case identifier", m.Dep, pkg, m.depModule)
		}
		out := c.OutDir(m)
		if other, dup := pkgs[out]; dup {
			return at("deps %s: module %q would generate into %s, as %q does", m.Dep, m.depModule, out, other)
		}
		pkgs[out] = m.Path
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
