// Package config reads keiyaku.yaml, the one configuration file of a Keiyaku
// workspace.
//
// Decoding is strict: an unknown key, a missing "version: v1", a module that
// does not exist or a "uses" entry that names no module is an error that
// carries the file, line and column of the offending node.
package config

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
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
	// OpenAPI is the module's OpenAPI document, relative to the module
	// folder, e.g. "api/swagger.json". Default: the first of openapi.yaml,
	// openapi.yml and openapi.json that exists. A file named here that is
	// missing is an error.
	OpenAPI string `yaml:"openapi"`
	// AsyncAPI is the module's AsyncAPI document, relative to the module
	// folder. Default: the first of asyncapi.yaml, asyncapi.yml and
	// asyncapi.json that exists. A file named here that is missing is an
	// error.
	AsyncAPI string `yaml:"asyncapi"`
	// OpenAPICodegen tunes oapi-codegen for this module, for documents
	// whose default output does not compile (e.g. type name collisions).
	OpenAPICodegen OpenAPICodegen `yaml:"openapi_codegen"`

	// Dep is the name of the dependency the module comes from (see
	// [Config.DepModules]); empty for a module of this workspace.
	Dep string `yaml:"-"`
	// depModule is the module's path in the provider's workspace.
	depModule string

	// Line and Column locate the module entry in keiyaku.yaml.
	Line, Column int `yaml:"-"`
}

// The default names of a module's documents, tried in this order.
var (
	DefaultOpenAPIFiles  = []string{"openapi.yaml", "openapi.yml", "openapi.json"}
	DefaultAsyncAPIFiles = []string{"asyncapi.yaml", "asyncapi.yml", "asyncapi.json"}
)

// OpenAPICodegen holds the oapi-codegen options a module may set; each
// maps to the oapi-codegen v2 option of the same name (kebab-case there).
// Zero values keep oapi-codegen's defaults.
type OpenAPICodegen struct {
	// ResolveTypeNameCollisions renames Go types that collide across
	// component sections (schemas, parameters, responses, request bodies)
	// by appending the section ("…Parameter", "…Response").
	ResolveTypeNameCollisions bool `yaml:"resolve_type_name_collisions"`
	// NameNormalizer picks how names become Go identifiers:
	// ToCamelCase (default), ToCamelCaseWithDigits,
	// ToCamelCaseWithInitialisms.
	NameNormalizer string `yaml:"name_normalizer"`
	// ExcludeSchemas leaves these component schemas out.
	ExcludeSchemas []string `yaml:"exclude_schemas"`
	// IncludeTags and ExcludeTags select operations by tag.
	IncludeTags []string `yaml:"include_tags"`
	ExcludeTags []string `yaml:"exclude_tags"`
	// IncludeOperationIDs and ExcludeOperationIDs select operations by id.
	IncludeOperationIDs []string `yaml:"include_operation_ids"`
	ExcludeOperationIDs []string `yaml:"exclude_operation_ids"`
	// SkipPrune keeps component schemas no operation uses.
	SkipPrune bool `yaml:"skip_prune"`
	// AlwaysPrefixEnumValues prefixes every enum constant with its type
	// name (ReservationStatusConfirmed); default true. Set false when a
	// prefixed constant collides with a schema's type name: oapi-codegen
	// then prefixes only values that collide with each other.
	AlwaysPrefixEnumValues *bool `yaml:"always_prefix_enum_values"`
	// GenerateTypesForAnonymousSchemas names every inline object schema.
	GenerateTypesForAnonymousSchemas bool `yaml:"generate_types_for_anonymous_schemas"`
}

// NameNormalizers lists the values of openapi_codegen.name_normalizer.
var NameNormalizers = []string{"ToCamelCase", "ToCamelCaseWithDigits", "ToCamelCaseWithInitialisms"}

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
	// Examples is the severity of an OpenAPI example that does not match
	// its schema, in the workspace's own modules: error (default),
	// warning or off. In a dependency's locked copy it is at most a
	// warning and never blocks generate.
	Examples string `yaml:"examples"`
}

// The values of lint.examples.
const (
	ExamplesError   = "error"
	ExamplesWarning = "warning"
	ExamplesOff     = "off"
)

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

// OpenAPIDoc returns the workspace-relative path of the module's OpenAPI
// document: modules[].openapi when set, else the first default name
// ([DefaultOpenAPIFiles]) that exists below root; "" when there is none.
func (m Module) OpenAPIDoc(root string) string {
	return m.doc(root, m.OpenAPI, DefaultOpenAPIFiles)
}

// AsyncAPIDoc is [Module.OpenAPIDoc] for the AsyncAPI document.
func (m Module) AsyncAPIDoc(root string) string {
	return m.doc(root, m.AsyncAPI, DefaultAsyncAPIFiles)
}

func (m Module) doc(root, set string, defaults []string) string {
	if set != "" {
		return path.Join(m.Path, set)
	}
	for _, name := range defaults {
		p := path.Join(m.Path, name)
		if st, err := os.Stat(filepath.Join(root, filepath.FromSlash(p))); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// Module returns the module with the given path.
func (c *Config) Module(p string) (Module, bool) {
	i := slices.IndexFunc(c.Modules, func(m Module) bool { return m.Path == p })
	if i < 0 {
		return Module{}, false
	}
	return c.Modules[i], true
}
