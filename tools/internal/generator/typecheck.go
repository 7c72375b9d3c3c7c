package generator

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"go/types"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/keiyaku/keiyaku/tools/internal/diag"
)

// typeCheck type-checks the generated files, package by package (one
// package per output folder), before anything is written. It catches what
// a generator gets wrong inside a package: a name declared twice, a type
// used but never declared, a method on a pointer type, an import left
// unused. Imported packages are not loaded (that would need the go command
// and the module graph, and seconds): their members are taken on trust,
// which keeps the check in memory and a few milliseconds long.
//
// A failure is a *[diag.Error] at the contract the file came from, naming
// the generated declaration and the contract element it stands for; the
// file it is in is returned with it.
func typeCheck(files []File) (File, error) {
	byDir := map[string][]File{}
	var dirs []string
	for _, f := range files {
		d := path.Dir(f.Path)
		if _, ok := byDir[d]; !ok {
			dirs = append(dirs, d)
		}
		byDir[d] = append(byDir[d], f)
	}
	slices.Sort(dirs)
	for _, d := range dirs {
		if bad, err := typeCheckPackage(byDir[d]); err != nil {
			return bad, err
		}
	}
	return File{}, nil
}

// errNotLoaded is what the trusting importer answers: go/types then
// accepts every use of the package's members.
var errNotLoaded = errors.New("not loaded")

// trustingImporter hands go/types an empty package with the right name for
// every import; the failed import marks it as one whose members are not
// checked.
type trustingImporter struct{}

func (trustingImporter) Import(p string) (*types.Package, error) {
	return types.NewPackage(p, packageName(p)), errNotLoaded
}

var majorRE = regexp.MustCompile(`^v[0-9]+$`)

// packageName guesses the name a package is declared with from its import
// path, as goimports does: the last element, skipping a major version
// suffix, without a "go-" prefix or a ".vN" / "-go" suffix.
func packageName(p string) string {
	elems := strings.Split(p, "/")
	name := elems[len(elems)-1]
	if majorRE.MatchString(name) && len(elems) > 1 {
		name = elems[len(elems)-2]
	}
	name = strings.TrimPrefix(name, "go-")
	if i := strings.Index(name, ".v"); i > 0 {
		name = name[:i]
	}
	name = strings.TrimSuffix(name, "-go")
	return strings.NewReplacer("-", "", ".", "").Replace(name)
}

func typeCheckPackage(files []File) (File, error) {
	fset := token.NewFileSet()
	asts := make([]*ast.File, 0, len(files))
	byName := map[string]File{}
	for _, f := range files {
		af, err := parser.ParseFile(fset, f.Path, f.Content, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return f, compileError(f, fset, nil, err, "")
		}
		asts = append(asts, af)
		byName[f.Path] = f
	}
	var firstErr, other error
	conf := types.Config{
		Importer: trustingImporter{},
		Error: func(err error) {
			var te types.Error
			if errors.As(err, &te) && strings.HasPrefix(te.Msg, "could not import ") {
				return
			}
			switch {
			case firstErr == nil:
				firstErr = err
			case other == nil && strings.Contains(firstErr.Error(), " redeclared") && errors.As(err, &te) && strings.HasPrefix(strings.TrimSpace(te.Msg), "other declaration of"):
				// go/types follows "X redeclared" with where X was first.
				other = err
			}
		},
	}
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}, Defs: map[*ast.Ident]types.Object{}, Implicits: map[ast.Node]types.Object{}}
	// The errors are collected above; the package itself is not needed.
	_, _ = conf.Check(asts[0].Name.Name, fset, asts, info)
	if firstErr == nil {
		firstErr = unusedImport(fset, asts, info)
	}
	if firstErr == nil {
		return File{}, nil
	}
	file := files[0]
	var te types.Error
	if errors.As(firstErr, &te) {
		file = byName[fset.Position(te.Pos).Filename]
	}
	return file, compileError(file, fset, fileAST(fset, asts, file.Path), firstErr, otherConstruct(fset, asts, other))
}

// fileAST returns the parsed file named name.
func fileAST(fset *token.FileSet, asts []*ast.File, name string) *ast.File {
	for _, af := range asts {
		if fset.Position(af.Pos()).Filename == name {
			return af
		}
	}
	return nil
}

// otherConstruct names the first declaration of a name declared twice.
func otherConstruct(fset *token.FileSet, asts []*ast.File, err error) string {
	var te types.Error
	if err == nil || !errors.As(err, &te) {
		return ""
	}
	p := fset.Position(te.Pos)
	if af := fileAST(fset, asts, p.Filename); af != nil {
		return construct(fset, af, p.Line)
	}
	return ""
}

// unusedImport reports an import no identifier of its file refers to; the
// trusting importer marks every import as used, so go/types cannot.
func unusedImport(fset *token.FileSet, asts []*ast.File, info *types.Info) error {
	used := map[types.Object]bool{}
	for _, obj := range info.Uses {
		if pn, ok := obj.(*types.PkgName); ok {
			used[pn] = true
		}
	}
	for _, af := range asts {
		for _, spec := range af.Imports {
			var obj types.Object
			if spec.Name != nil {
				if spec.Name.Name == "_" || spec.Name.Name == "." {
					continue
				}
				obj = info.Defs[spec.Name]
			} else {
				obj = info.Implicits[spec]
			}
			if obj != nil && !used[obj] {
				return types.Error{Fset: fset, Pos: spec.Pos(), Msg: fmt.Sprintf("%s imported and not used", spec.Path.Value)}
			}
		}
	}
	return nil
}

// modelRE finds the contract element oapi-codegen names in a declaration's
// comment: "Pet defines model for Pet.", "GetPetsParams defines
// parameters for GetPets."
var modelRE = regexp.MustCompile(`[Dd]efines (model|parameters|body|values) for (\S+)`)

// compileError turns a type error in a generated file into a positioned
// error at the source contract, naming the declaration that fails and,
// where its comment tells, the contract element it was generated from.
func compileError(f File, fset *token.FileSet, af *ast.File, err error, other string) error {
	msg := err.Error()
	goLine := 0
	var te types.Error
	var se scanner.ErrorList
	switch {
	case errors.As(err, &te):
		msg = te.Msg
		goLine = fset.Position(te.Pos).Line
	case errors.As(err, &se) && len(se) > 0:
		msg = se[0].Msg
		goLine = se[0].Pos.Line
	}
	where := ""
	if af != nil && goLine > 0 {
		where = construct(fset, af, goLine)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the Go generated from this contract does not compile: %s:%d: %s", f.Path, goLine, msg)
	if where != "" {
		b.WriteString(" (in " + where + ")")
	}
	if other != "" {
		b.WriteString("; first declared as " + other)
	}
	hint := "nothing was written; Keiyaku cannot generate this contract element yet: change it, or report it with the element named above"
	if path.Base(f.Path) == "openapi"+Suffix {
		hint = "nothing was written; rename the contract element (x-go-name), or try the module's openapi_codegen options in keiyaku.yaml"
	}
	for _, h := range compileHints {
		if strings.Contains(b.String(), h.fragment) {
			hint = "nothing was written; " + h.hint
			break
		}
	}
	return &diag.Error{File: f.Source, Line: 1, Column: 1, Msg: b.String(), Hint: hint}
}

// compileHints pair a type error oapi-codegen's output is known to make
// with the contract change that avoids it.
var compileHints = []struct{ fragment, hint string }{
	{"(pointer or interface type)", "a response media type without a schema (only examples) becomes an interface type the strict server cannot generate for, and oapi-codegen has no option for it: give the media type a schema (e.g. schema: {type: object})"},
	{"generated for the enum", "an enum value and another contract element map to the same Go name, and oapi-codegen has no option for this collision: rename the other element with x-go-name (or the enum's schema, whose name prefixes its values)"},
	{"redeclared", "two contract elements map to the same Go name: set openapi_codegen: {resolve_type_name_collisions: true} on the module in keiyaku.yaml, or rename one with x-go-name"},
}

// construct names the top-level declaration of af around line, with the
// contract element its doc comment names.
func construct(fset *token.FileSet, af *ast.File, line int) string {
	for _, d := range af.Decls {
		if fset.Position(d.Pos()).Line > line || fset.Position(d.End()).Line < line {
			continue
		}
		var name string
		var doc *ast.CommentGroup
		switch d := d.(type) {
		case *ast.FuncDecl:
			name, doc = d.Name.Name, d.Doc
			if d.Recv != nil && len(d.Recv.List) == 1 {
				name = types.ExprString(d.Recv.List[0].Type) + "." + name
			}
		case *ast.GenDecl:
			doc = d.Doc
			for _, s := range d.Specs {
				if fset.Position(s.Pos()).Line > line || fset.Position(s.End()).Line < line {
					continue
				}
				switch s := s.(type) {
				case *ast.TypeSpec:
					name = "type " + s.Name.Name
					if s.Doc != nil {
						doc = s.Doc
					}
				case *ast.ValueSpec:
					name = s.Names[0].Name
					if s.Doc != nil {
						doc = s.Doc
					}
				}
			}
		}
		if name == "" {
			return ""
		}
		if doc != nil {
			for _, l := range strings.Split(strings.TrimSpace(doc.Text()), "\n") {
				if m := modelRE.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
					what := ""
					if m[1] == "values" {
						what = "the enum "
					}
					return name + ", generated for " + what + strings.TrimSuffix(m[2], ".")
				}
			}
		}
		return name
	}
	return ""
}
