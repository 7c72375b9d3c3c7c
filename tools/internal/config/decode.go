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

	"github.com/keiyaku/keiyaku/tools/internal/diag"
)

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
		for _, d := range []struct{ key, name string }{{"openapi", m.OpenAPI}, {"asyncapi", m.AsyncAPI}} {
			if d.name == "" {
				continue
			}
			p := path.Join(m.Path, d.name)
			if st, err := os.Stat(filepath.Join(root, filepath.FromSlash(p))); err != nil || st.IsDir() {
				return nil, &Error{File: file, Line: m.Line, Column: m.Column,
					Msg: fmt.Sprintf("module %q: %s %q: no such file %s; fix the name (it is relative to the module folder) or remove the key to use the default", m.Path, d.key, d.name, p)}
			}
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
