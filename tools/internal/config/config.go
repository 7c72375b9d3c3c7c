// Package config reads keiyaku.yaml, the one configuration file of a Keiyaku
// workspace.
//
// Decoding is strict: an unknown key, a missing "version: v1", a module that
// does not exist or a "uses" entry that names no module is an error that
// carries the file, line and column of the offending node.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/mod/modfile"

	"github.com/keiyaku/keiyaku/tools/internal/diag"
)

// FileName is the name of the configuration file at the workspace root.
const FileName = "keiyaku.yaml"

// Version is the only configuration version this build understands.
const Version = "v1"

// DefaultOut is the folder generated Go code is written to unless
// generate.out says otherwise.
const DefaultOut = "gen"

// Config is a decoded keiyaku.yaml.
type Config struct {
	// Version must be "v1".
	Version string `yaml:"version"`
	// Modules lists the contract modules of the workspace.
	Modules []Module `yaml:"modules"`
	// Generate holds the code generation settings.
	Generate Generate `yaml:"generate"`
	// Breaking holds the policy of "keiyaku breaking".
	Breaking Breaking `yaml:"breaking"`
	// Lint selects the lint rules.
	Lint Lint `yaml:"lint"`
	// Deps lists the contract modules of other workspaces this one pulls,
	// pinned in keiyaku.lock by "keiyaku deps update" and generated like
	// local modules.
	Deps []Dep `yaml:"deps"`

	// Root is the absolute path of the folder holding keiyaku.yaml. It is
	// not read from the file.
	Root string `yaml:"-"`
	// File is the path of keiyaku.yaml as it was given to Load.
	File string `yaml:"-"`
}

// Module is one contract module: a folder holding the contracts of one
// version of one service's API (openapi.yaml, later asyncapi.yaml and
// avro/*.avsc). Each generated module becomes one Go package.
type Module struct {
	// Path is the folder, relative to the workspace root, with forward
	// slashes, e.g. "contracts/member/v1".
	Path string `yaml:"path"`
	// Service is the name of the service that owns the contracts, e.g.
	// "member". Empty for modules of shared definitions.
	Service string `yaml:"service"`
	// Package overrides the Go package name, which defaults to the last two
	// path elements joined ("contracts/member/v1" → "memberv1").
	Package string `yaml:"package"`
	// Generate set to false keeps the module out of code generation: a
	// module of shared definitions that other contracts reference with a
	// relative $ref.
	Generate *bool `yaml:"generate"`
	// Uses lists the modules this module's service calls synchronously. A
	// service gets the clients of the modules it uses.
	Uses []Use `yaml:"uses"`

	// Dep is the name of the dependency the module comes from (see
	// [Config.DepModules]); empty for a module of this workspace.
	Dep string `yaml:"-"`
	// depModule is the module's path in the provider's workspace.
	depModule string

	// Line and Column locate the module entry in keiyaku.yaml.
	Line, Column int `yaml:"-"`
}

// DepsDir is the folder, relative to the workspace root, that holds the
// fetched dependencies: a git cache per dependency (<name>.git) and the
// read-only copy of its contracts (<name>/). It is meant to be git-ignored.
const DepsDir = ".keiyaku/deps"

// Dep is a contract module of another workspace, pulled at a pinned
// version.
type Dep struct {
	// Name names the dependency: a lower-case word (letters, digits, "-")
	// used for its folder below [DepsDir] and in keiyaku.lock.
	Name string `yaml:"name"`
	// Source is where the provider's workspace lives: a git URL, a path
	// to a git repository (a bare one works) or, without Ref, a plain
	// directory such as the output of "keiyaku export". A relative path
	// is relative to the workspace root.
	Source string `yaml:"source"`
	// Ref is the tag, branch or commit id of a git source; it must be
	// empty for a directory source.
	Ref string `yaml:"ref"`
	// Module is the module's path in the provider's workspace, e.g.
	// "contracts/member/v1".
	Module string `yaml:"module"`
	// Subdir is the folder of the provider's workspace inside its
	// repository; empty means the repository root.
	Subdir string `yaml:"subdir"`

	// Line and Column locate the entry in keiyaku.yaml.
	Line, Column int `yaml:"-"`
}

// Dir is the folder, relative to the workspace root, holding the
// read-only copy of the dependency's files, laid out as in the provider's
// workspace.
func (d Dep) Dir() string { return path.Join(DepsDir, d.Name) }

// Git reports whether the dependency is read from git (it has a Ref)
// rather than from a plain directory.
func (d Dep) Git() bool { return d.Ref != "" }

// DepModules returns one generated module per dependency, in the order of
// keiyaku.yaml: its Path is the module's folder below [Dep.Dir], its Name
// the provider's module path without "contracts/", so that
// contracts/member/v1 of a dependency is generated into gen/member/v1 as it
// is in the provider's workspace.
func (c *Config) DepModules() []Module {
	mods := make([]Module, 0, len(c.Deps))
	for _, d := range c.Deps {
		mods = append(mods, Module{
			Path:      path.Join(d.Dir(), d.Module),
			Dep:       d.Name,
			depModule: d.Module,
			Line:      d.Line,
			Column:    d.Column,
		})
	}
	return mods
}

// Use is one synchronous dependency of a service.
type Use struct {
	// Module is the Path of the provider's module, e.g. "contracts/member/v1".
	Module string `yaml:"module"`

	// The call policy of this dependency: what the generated client
	// constructor (e.g. NewMemberClient) passes to runtime/resilience.
	// Zero values keep resilience's defaults (see README).

	// Timeout bounds a whole call, retries included (default 5s).
	Timeout Duration `yaml:"timeout"`
	// AttemptTimeout bounds one attempt (default 2s).
	AttemptTimeout Duration `yaml:"attempt_timeout"`
	// MaxAttempts counts the first attempt and the retries (default 3).
	MaxAttempts int `yaml:"max_attempts"`
	// RetryBudget is the share of calls that may be retried over the
	// budget window (default 0.1).
	RetryBudget float64 `yaml:"retry_budget"`
	// Breaker tunes the circuit breaker of this dependency.
	Breaker BreakerPolicy `yaml:"breaker"`
	// Fallback is "none" (default) or "last-good": serve the last good
	// response of a GET, marked as a fallback, when the call fails.
	Fallback string `yaml:"fallback"`
	// FallbackTTL is how long a last-good response may be served
	// (default 1m).
	FallbackTTL Duration `yaml:"fallback_ttl"`

	// Line and Column locate the entry in keiyaku.yaml.
	Line, Column int `yaml:"-"`
}

// BreakerPolicy tunes the circuit breaker of one dependency; zero values
// keep resilience's defaults.
type BreakerPolicy struct {
	// FailureRatio opens the breaker at this share of failed attempts
	// (default 0.5) once MinRequests were counted (default 10).
	FailureRatio float64 `yaml:"failure_ratio"`
	MinRequests  int     `yaml:"min_requests"`
	// ConsecutiveFailures opens it after this many failures in a row
	// (default 5).
	ConsecutiveFailures int `yaml:"consecutive_failures"`
	// OpenTimeout is how long it stays open before probing (default 10s).
	OpenTimeout Duration `yaml:"open_timeout"`
}

// The fallbacks a dependency may declare.
const (
	FallbackNone     = "none"
	FallbackLastGood = "last-good"
)

// DefaultFallbackTTL is how long a last-good response may be served
// unless fallback_ttl says otherwise.
const DefaultFallbackTTL = Duration(time.Minute)

// Duration is a time.Duration written as in Go ("800ms", "2s", "1m").
type Duration time.Duration

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Generate holds the code generation settings.
type Generate struct {
	// Out is the folder generated code is written to, relative to the root.
	// Default "gen".
	Out string `yaml:"out"`
	// GoModule is the Go module path of the workspace; generated packages
	// are imported as GoModule/Out/<module path below contracts>. Default:
	// the module line of go.mod at the root.
	GoModule string `yaml:"go_module"`
}

// DefaultAgainst is the baseline "keiyaku breaking" compares with unless
// breaking.against says otherwise.
const DefaultAgainst = ".git#branch=main"

// Breaking is the policy of the compatibility gate.
type Breaking struct {
	// Against is the baseline: ".git#branch=main", ".git#tag=v1.2.0",
	// ".git#ref=<sha>" (each optionally ",subdir=…") or a directory.
	// Default ".git#branch=main".
	Against string `yaml:"against"`
	// OpenAPI holds the OpenAPI policy.
	OpenAPI OpenAPIPolicy `yaml:"openapi"`
	// Avro holds the Avro policy.
	Avro AvroPolicy `yaml:"avro"`
	// Ignore lists findings to leave out, each with the reason why.
	Ignore []Ignore `yaml:"ignore"`
}

// OpenAPIPolicy is the OpenAPI part of the breaking policy.
type OpenAPIPolicy struct {
	// FailOn is the least severity that fails the gate: error (default),
	// warning or info.
	FailOn string `yaml:"fail_on"`
}

// AvroPolicy is the Avro part of the breaking policy.
type AvroPolicy struct {
	// Compatibility is the mode every schema is checked in unless
	// overridden: BACKWARD, BACKWARD_TRANSITIVE, FORWARD,
	// FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE (default) or NONE.
	Compatibility string `yaml:"compatibility"`
	// Overrides sets the mode of single schemas by Avro full name.
	Overrides map[string]string `yaml:"overrides"`
}

// DefaultMaxSyncDepth is the longest chain of synchronous calls (A→B→C is
// two hops) lint accepts unless lint.max_sync_depth says otherwise.
const DefaultMaxSyncDepth = 2

// Lint selects the rules of "keiyaku lint", buf style.
type Lint struct {
	// Use lists rule ids or categories to run; empty means every rule.
	Use []string `yaml:"use"`
	// Except lists rule ids or categories to leave out.
	Except []string `yaml:"except"`
	// Ignore lists findings to leave out, each with the reason why.
	Ignore []Ignore `yaml:"ignore"`
	// MaxSyncDepth is the longest chain of synchronous calls accepted;
	// default 2.
	MaxSyncDepth int `yaml:"max_sync_depth"`
}

// Matches reports whether the entry accepts a finding of rule in file:
// the same rule, and the file equal to or below Path (any file when Path
// is empty).
func (ig Ignore) Matches(rule, file string) bool {
	return ig.Rule == rule && (ig.Path == "" || file == ig.Path || strings.HasPrefix(file, strings.TrimSuffix(ig.Path, "/")+"/"))
}

// Ignore leaves out the findings of one rule in one file or folder.
type Ignore struct {
	// Rule is the rule id (e.g. "response-property-removed",
	// "READER_FIELD_MISSING_DEFAULT_VALUE").
	Rule string `yaml:"rule"`
	// Path is a file or folder relative to the root; empty means all.
	Path string `yaml:"path"`
	// Reason says why the finding is accepted. Required.
	Reason string `yaml:"reason"`

	Line, Column int `yaml:"-"`
}

// Generated reports whether code is generated for the module.
func (m Module) Generated() bool { return m.Generate == nil || *m.Generate }

// Name is the module path without its leading "contracts/", e.g.
// "member/v1". Generated code for it lives in Out/Name.
// For a module of a dependency it is the provider's module path without
// "contracts/".
func (m Module) Name() string {
	if m.Dep != "" {
		return strings.TrimPrefix(m.depModule, "contracts/")
	}
	return strings.TrimPrefix(m.Path, "contracts/")
}

// GoPackage is the Go package name of the module's generated code.
func (m Module) GoPackage() string {
	if m.Package != "" {
		return m.Package
	}
	parts := strings.Split(m.Name(), "/")
	if len(parts) >= 2 {
		parts = parts[len(parts)-2:]
	}
	return sanitizeIdent(strings.Join(parts, ""))
}

// OutDir is the folder, relative to the root, that holds the module's
// generated code.
func (c *Config) OutDir(m Module) string { return path.Join(c.Generate.Out, m.Name()) }

// ImportPath is the Go import path of the module's generated package.
func (c *Config) ImportPath(m Module) string { return path.Join(c.Generate.GoModule, c.OutDir(m)) }

// Module returns the module with the given path.
func (c *Config) Module(p string) (Module, bool) {
	i := slices.IndexFunc(c.Modules, func(m Module) bool { return m.Path == p })
	if i < 0 {
		return Module{}, false
	}
	return c.Modules[i], true
}

// Error is a configuration error at a position of keiyaku.yaml.
type Error = diag.Error

// Load reads and validates the configuration file at file. The workspace
// root is the folder holding it.
func Load(file string) (*Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &Error{File: file, Msg: "no keiyaku.yaml here; run keiyaku from the workspace root or pass --config"}
		}
		return nil, fmt.Errorf("read config: %w", err)
	}
	root, err := filepath.Abs(filepath.Dir(file))
	if err != nil {
		return nil, fmt.Errorf("resolve workspace root: %w", err)
	}
	cfg, err := Parse(file, data)
	if err != nil {
		return nil, err
	}
	cfg.Root = root
	if cfg.Generate.GoModule == "" {
		mod, err := goModulePath(filepath.Join(root, "go.mod"))
		if err != nil {
			return nil, &Error{File: file, Msg: fmt.Sprintf("generate.go_module is not set and go.mod gives none: %v", err)}
		}
		cfg.Generate.GoModule = mod
	}
	for _, m := range cfg.Modules {
		st, err := os.Stat(filepath.Join(root, filepath.FromSlash(m.Path)))
		if err != nil || !st.IsDir() {
			return nil, &Error{File: file, Line: m.Line, Column: m.Column,
				Msg: fmt.Sprintf("module %q: no such folder below %s; fix the path or create the folder", m.Path, root)}
		}
	}
	return cfg, nil
}

// Parse decodes and validates configuration data; file names it in errors.
// Parse does not touch the file system.
func Parse(file string, data []byte) (*Config, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	// An empty file (or one of comments only) is io.EOF, not a document.
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(file, err)
	}
	if len(doc.Content) == 0 {
		return nil, &Error{File: file, Msg: "empty file; it needs at least \"version: v1\""}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{File: file, Line: extra.Line, Column: extra.Column, Msg: "a second YAML document (after ---); keiyaku.yaml holds one"}
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, &Error{File: file, Line: top.Line, Column: top.Column, Msg: "the file must be a mapping of keys such as version and modules"}
	}
	if err := checkKeys(file, top, reflect.TypeFor[Config](), ""); err != nil {
		return nil, err
	}
	var cfg Config
	if err := top.Decode(&cfg); err != nil {
		return nil, yamlError(file, err)
	}
	cfg.File = file
	setPositions(&cfg, top)
	if deps := valueNode(top, "deps"); deps != nil && deps.Kind == yaml.SequenceNode {
		for i := range cfg.Deps {
			cfg.Deps[i].Line, cfg.Deps[i].Column = deps.Content[i].Line, deps.Content[i].Column
		}
	}
	if err := cfg.validate(top); err != nil {
		return nil, err
	}
	return &cfg, nil
}

var (
	lineRE  = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	identRE = regexp.MustCompile(`^[a-z][a-z0-9]*$`)
)

// yamlError turns a YAML parser error into an Error with a line when the
// parser gave one.
func yamlError(file string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg := te.Errors[0]
		var line int
		if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr == nil {
			_, rest, _ := strings.Cut(msg, ": ")
			return &Error{File: file, Line: line, Column: 1, Msg: rest}
		}
		return &Error{File: file, Msg: msg}
	}
	if m := lineRE.FindStringSubmatch(err.Error()); m != nil {
		var line int
		fmt.Sscan(m[1], &line)
		return &Error{File: file, Line: line, Column: 1, Msg: "invalid YAML: " + m[2]}
	}
	return &Error{File: file, Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
}

// checkKeys walks node against the yaml tags of t and reports the first key
// that no field of t declares.
func checkKeys(file string, node *yaml.Node, t reflect.Type, where string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if node.Kind != yaml.MappingNode {
			return &Error{File: file, Line: node.Line, Column: node.Column, Msg: fmt.Sprintf("%s must be a mapping", orTop(where))}
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			f, ok := fields[k.Value]
			if !ok {
				known := make([]string, 0, len(fields))
				for name := range fields {
					known = append(known, name)
				}
				slices.Sort(known)
				return &Error{File: file, Line: k.Line, Column: k.Column,
					Msg: fmt.Sprintf("unknown key %q in %s; known keys: %s", k.Value, orTop(where), strings.Join(known, ", "))}
			}
			if err := checkKeys(file, v, f.Type, join(where, k.Value)); err != nil {
				return err
			}
		}
	case reflect.Bool:
		if node.Kind != yaml.ScalarNode || node.Tag != "!!bool" {
			return &Error{File: file, Line: node.Line, Column: node.Column, Msg: fmt.Sprintf("%s must be true or false, not %s", where, describe(node))}
		}
	case reflect.Int64:
		if t == reflect.TypeFor[Duration]() {
			if v, err := time.ParseDuration(node.Value); node.Kind != yaml.ScalarNode || err != nil || v <= 0 {
				return &Error{File: file, Line: node.Line, Column: node.Column, Msg: fmt.Sprintf("%s must be a positive duration such as 800ms, 2s or 1m, not %s", where, describe(node))}
			}
		}
	case reflect.Float64:
		if node.Kind != yaml.ScalarNode || (node.Tag != "!!float" && node.Tag != "!!int") {
			return &Error{File: file, Line: node.Line, Column: node.Column, Msg: fmt.Sprintf("%s must be a number, not %s", where, describe(node))}
		}
	case reflect.Int:
		if node.Kind != yaml.ScalarNode || node.Tag != "!!int" {
			return &Error{File: file, Line: node.Line, Column: node.Column, Msg: fmt.Sprintf("%s must be a whole number, not %s", where, describe(node))}
		}
	case reflect.String:
		if node.Kind != yaml.ScalarNode {
			return &Error{File: file, Line: node.Line, Column: node.Column, Msg: fmt.Sprintf("%s must be a string, not %s", where, describe(node))}
		}
	case reflect.Slice:
		if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
			return nil
		}
		if node.Kind != yaml.SequenceNode {
			return &Error{File: file, Line: node.Line, Column: node.Column, Msg: fmt.Sprintf("%s must be a list", where)}
		}
		for i, item := range node.Content {
			if err := checkKeys(file, item, t.Elem(), fmt.Sprintf("%s[%d]", where, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// describe names what a node holds, for error messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "empty"
	}
	return fmt.Sprintf("%q", n.Value)
}

func yamlFields(t reflect.Type) map[string]reflect.StructField {
	fields := make(map[string]reflect.StructField)
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = f
	}
	return fields
}

func orTop(where string) string {
	if where == "" {
		return "the top level"
	}
	return where
}

func join(where, key string) string {
	if where == "" {
		return key
	}
	return where + "." + key
}

// valueNode returns the value node of key in a mapping node, or nil.
func valueNode(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// setPositions copies node positions into the decoded modules and uses.
func setPositions(cfg *Config, top *yaml.Node) {
	mods := valueNode(top, "modules")
	if mods == nil || mods.Kind != yaml.SequenceNode {
		return
	}
	for i := range cfg.Modules {
		n := mods.Content[i]
		cfg.Modules[i].Line, cfg.Modules[i].Column = n.Line, n.Column
		uses := valueNode(n, "uses")
		if uses == nil || uses.Kind != yaml.SequenceNode {
			continue
		}
		for j := range cfg.Modules[i].Uses {
			u := uses.Content[j]
			cfg.Modules[i].Uses[j].Line, cfg.Modules[i].Uses[j].Column = u.Line, u.Column
		}
	}
}

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
