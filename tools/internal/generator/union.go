package generator

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/keiyaku/keiyaku/tools/internal/avroschema"
)

// A general Avro union (more than one non-null branch, e.g. ["int",
// "string", "Money"]) becomes a Go sum type: a struct with one pointer
// field per non-null branch, at most one of them set (none: null), with
// typed accessors. twmb/avro cannot fill such a struct, so a record that
// holds one, directly or in a nested type, implements codec.Unioned: the
// codec encodes it from and decodes it into twmb/avro's natural form
// (map[string]any, []any, {"branch": value} for unions), and the
// generated methods below convert between that form and the Go types.

// general reports whether t is a union that is not ["null", T].
func general(t *avroschema.Type) bool {
	if t.Kind != avroschema.KindUnion {
		return false
	}
	_, nullable := t.Nullable()
	return !nullable
}

// union is a general union and the Go name of its sum type.
type union struct {
	t    *avroschema.Type
	name string
}

// unionName names the sum type of the general union t, met in a field of
// the record the Go type owner: owner + field name, numbered when one field
// holds more than one union.
func (g *goTypes) unionName(t *avroschema.Type, at *avroschema.Field) (string, error) {
	if n, ok := g.unionNames[t]; ok {
		return n, nil
	}
	base := g.owner
	if at != nil {
		base += exported(at.Name)
	}
	name := base
	for i := 2; g.unionTaken[name]; i++ {
		name = fmt.Sprintf("%s%d", base, i)
	}
	g.unionTaken[name] = true
	g.unionNames[t] = name
	g.unions = append(g.unions, union{t: t, name: name})
	// The branches' types, so that a union nested in a branch is named
	// after this field too.
	for _, b := range t.Branches {
		if _, err := g.goType(b, at); err != nil {
			return "", err
		}
	}
	return name, nil
}

// branchTag is the name twmb/avro tags a union branch with: the full name
// of a named type, else the type name (a logical type's base type).
func branchTag(b *avroschema.Type) string {
	if b.Name != "" {
		return b.Name
	}
	return string(b.Kind)
}

// branchField is the Go field name of a union branch.
func (g *goTypes) branchField(b *avroschema.Type) string {
	switch {
	case b.Name != "":
		return g.names.name(b.Name)
	case b.Logical != "":
		return exported(b.Logical)
	}
	return exported(string(b.Kind))
}

// unionBranches returns the non-null branches of a union and whether it
// has a null branch.
func unionBranches(t *avroschema.Type) (branches []*avroschema.Type, null bool) {
	for _, b := range t.Branches {
		if b.Kind == avroschema.KindNull {
			null = true
			continue
		}
		branches = append(branches, b)
	}
	return branches, null
}

// holdsUnion reports whether a value of t holds a general union, through
// records, arrays, maps and nullable types.
func holdsUnion(t *avroschema.Type, seen map[*avroschema.Type]bool) bool {
	if t == nil {
		return false
	}
	if general(t) {
		return true
	}
	if inner, ok := t.Nullable(); ok {
		return holdsUnion(inner, seen)
	}
	switch t.Kind {
	case avroschema.KindArray:
		return holdsUnion(t.Items, seen)
	case avroschema.KindMap:
		return holdsUnion(t.Values, seen)
	case avroschema.KindRecord:
		if seen[t] {
			return false
		}
		seen[t] = true
		for _, f := range t.Record.Fields {
			if holdsUnion(f.Type, seen) {
				return true
			}
		}
	}
	return false
}

// natural writes the conversion methods of the records that hold a general
// union (and of the records they reach, which decode through the natural
// form too) and the sum types' declarations and methods.
type natural struct {
	g    *goTypes
	body *bytes.Buffer
	n    int // numbers temporaries
}

func (c *natural) tmp(p string) string {
	c.n++
	return fmt.Sprintf("%s%d", p, c.n)
}

// writeUnions writes the sum types of g.unions and the natural-form methods
// of the records among records that hold one.
func (g *goTypes) writeUnions(body *bytes.Buffer, records []*avroschema.Record) error {
	var unioned []*avroschema.Record
	for _, r := range records {
		if holdsUnion(r.Type, map[*avroschema.Type]bool{}) {
			unioned = append(unioned, r)
		}
	}
	if len(unioned) == 0 {
		return nil
	}
	g.imports["fmt"] = true
	// Every record a unioned record reaches decodes from the natural form.
	reached := map[*avroschema.Type]bool{}
	enter := func(t *avroschema.Type) bool {
		if reached[t] {
			return false
		}
		reached[t] = true
		return true
	}
	for _, r := range unioned {
		walkType(r.Type, enter, nil)
	}
	c := &natural{g: g, body: body}
	for _, u := range g.unions {
		if err := c.sumType(u); err != nil {
			return err
		}
	}
	for _, r := range records {
		name := g.names.name(r.Name)
		if holdsUnion(r.Type, map[*avroschema.Type]bool{}) {
			fmt.Fprintf(body, "// AvroNatural returns r in twmb/avro's natural form, the form\n// codec.Unioned records are encoded from.\n")
			fmt.Fprintf(body, "func (r *%s) AvroNatural() (map[string]any, error) {\n\tm := make(map[string]any, %d)\n", name, len(r.Fields))
			for _, f := range r.Fields {
				c.to(f.Type, "r."+exported(f.Name), fmt.Sprintf("m[%q]", f.Name), "nil, ")
			}
			body.WriteString("\treturn m, nil\n}\n\n")
			fmt.Fprintf(body, "// SetAvroNatural fills r from twmb/avro's natural form, the form\n// codec.Unioned records are decoded into.\nfunc (r *%s) SetAvroNatural(v any) error { return r.setNatural(v) }\n\n", name)
		}
		if !reached[r.Type] {
			continue
		}
		fmt.Fprintf(body, "func (r *%s) setNatural(v any) error {\n", name)
		fmt.Fprintf(body, "\tm, ok := v.(map[string]any)\n\tif !ok {\n\t\treturn fmt.Errorf(\"record %s: got %%T\", v)\n\t}\n", r.Name)
		for _, f := range r.Fields {
			if err := c.from(f.Type, fmt.Sprintf("m[%q]", f.Name), "r."+exported(f.Name), f); err != nil {
				return err
			}
		}
		body.WriteString("\treturn nil\n}\n\n")
	}
	return nil
}

// sumType writes the declaration of a sum type, its accessors and its
// natural-form conversions.
func (c *natural) sumType(u union) error {
	g, body := c.g, c.body
	branches, null := unionBranches(u.t)
	var tags []string
	for _, b := range u.t.Branches {
		tags = append(tags, branchTag(b))
	}
	comment(body, "", u.name, "", fmt.Sprintf("is the Avro union [%s]: set at most one field%s.", strings.Join(tags, ", "), map[bool]string{true: " (none is null)", false: ""}[null]))
	fmt.Fprintf(body, "type %s struct {\n", u.name)
	types := make([]string, len(branches))
	for i, b := range branches {
		typ, err := g.goType(b, nil)
		if err != nil {
			return fmt.Errorf("union %s: %w", u.name, err)
		}
		types[i] = typ
		ptr := typ
		if !strings.HasPrefix(typ, "*") {
			ptr = "*" + typ
		}
		fmt.Fprintf(body, "\t// %s is the branch %s.\n\t%s %s `json:\"%s,omitempty\"`\n", g.branchField(b), branchTag(b), g.branchField(b), ptr, branchTag(b))
	}
	body.WriteString("}\n\n")
	for i, b := range branches {
		f := g.branchField(b)
		fmt.Fprintf(body, "// As%s returns the branch %s and whether it is the one set.\nfunc (u %s) As%s() (%s, bool) {\n", f, branchTag(b), u.name, f, types[i])
		if strings.HasPrefix(types[i], "*") {
			fmt.Fprintf(body, "\treturn u.%s, u.%s != nil\n}\n\n", f, f)
			continue
		}
		fmt.Fprintf(body, "\tif u.%s == nil {\n\t\tvar zero %s\n\t\treturn zero, false\n\t}\n\treturn *u.%s, true\n}\n\n", f, types[i], f)
	}
	fmt.Fprintf(body, "// Branch returns the Avro name of the branch set, \"null\" when none is.\nfunc (u %s) Branch() string {\n\tswitch {\n", u.name)
	for _, b := range branches {
		fmt.Fprintf(body, "\tcase u.%s != nil:\n\t\treturn %q\n", g.branchField(b), branchTag(b))
	}
	body.WriteString("\t}\n\treturn \"null\"\n}\n\n")

	fmt.Fprintf(body, "func (u %s) natural() (any, error) {\n\tswitch {\n", u.name)
	for _, b := range branches {
		f := g.branchField(b)
		fmt.Fprintf(body, "\tcase u.%s != nil:\n\t\tvar v any\n", f)
		x := "(*u." + f + ")"
		if strings.HasPrefix(g.mustGoType(b), "*") {
			x = "u." + f
		}
		c.to(b, x, "v", "nil, ")
		fmt.Fprintf(body, "\t\treturn map[string]any{%q: v}, nil\n", branchTag(b))
	}
	body.WriteString("\t}\n")
	if null {
		body.WriteString("\treturn nil, nil\n}\n\n")
	} else {
		fmt.Fprintf(body, "\treturn nil, fmt.Errorf(\"union %s: no branch set\")\n}\n\n", u.name)
	}

	fmt.Fprintf(body, "func (u *%s) setNatural(v any) error {\n\t*u = %s{}\n", u.name, u.name)
	if null {
		body.WriteString("\tif v == nil {\n\t\treturn nil\n\t}\n")
	}
	body.WriteString("\tname, value, err := codec.NaturalBranch(v)\n\tif err != nil {\n\t\treturn err\n\t}\n\tswitch name {\n")
	for i, b := range branches {
		f := g.branchField(b)
		fmt.Fprintf(body, "\tcase %q:\n", branchTag(b))
		if strings.HasPrefix(types[i], "*") {
			if err := c.from(b, "value", "u."+f, nil); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(body, "\t\tu.%s = new(%s)\n", f, types[i])
		if err := c.from(b, "value", "*u."+f, nil); err != nil {
			return err
		}
	}
	fmt.Fprintf(body, "\tdefault:\n\t\treturn fmt.Errorf(\"union %s: unknown branch %%q\", name)\n\t}\n\treturn nil\n}\n\n", u.name)
	return nil
}

// mustGoType is goType for a type already converted once.
func (g *goTypes) mustGoType(t *avroschema.Type) string {
	s, _ := g.goType(t, nil)
	return s
}

// to writes statements that set dst to the natural form of the Go value x
// of Avro type t; ret is what the enclosing function returns before the
// error.
func (c *natural) to(t *avroschema.Type, x, dst, ret string) {
	b := c.body
	if !holdsUnion(t, map[*avroschema.Type]bool{}) {
		fmt.Fprintf(b, "\t%s = %s\n", dst, x)
		return
	}
	if general(t) {
		v := c.tmp("v")
		fmt.Fprintf(b, "\t%s, err := %s.natural()\n\tif err != nil {\n\t\treturn %serr\n\t}\n\t%s = %s\n", v, x, ret, dst, v)
		return
	}
	if inner, ok := t.Nullable(); ok {
		fmt.Fprintf(b, "\tif %s != nil {\n", x)
		c.to(inner, x, dst, ret)
		b.WriteString("\t}\n")
		return
	}
	switch t.Kind {
	case avroschema.KindRecord:
		v := c.tmp("v")
		fmt.Fprintf(b, "\t%s, err := %s.AvroNatural()\n\tif err != nil {\n\t\treturn %serr\n\t}\n\t%s = %s\n", v, x, ret, dst, v)
	case avroschema.KindArray:
		xs, i := c.tmp("xs"), c.tmp("i")
		fmt.Fprintf(b, "\t%s := make([]any, len(%s))\n\tfor %s := range %s {\n", xs, x, i, x)
		c.to(t.Items, fmt.Sprintf("%s[%s]", x, i), fmt.Sprintf("%s[%s]", xs, i), ret)
		fmt.Fprintf(b, "\t}\n\t%s = %s\n", dst, xs)
	case avroschema.KindMap:
		xs, k, e := c.tmp("xs"), c.tmp("k"), c.tmp("e")
		fmt.Fprintf(b, "\t%s := make(map[string]any, len(%s))\n\tfor %s, %s := range %s {\n", xs, x, k, e, x)
		c.to(t.Values, e, fmt.Sprintf("%s[%s]", xs, k), ret)
		fmt.Fprintf(b, "\t}\n\t%s = %s\n", dst, xs)
	}
}

// from writes statements that set the Go value dst of Avro type t from
// src, its natural form; the enclosing function returns an error.
func (c *natural) from(t *avroschema.Type, src, dst string, at *avroschema.Field) error {
	b := c.body
	typ, err := c.g.goType(t, at)
	if err != nil {
		return err
	}
	if general(t) {
		fmt.Fprintf(b, "\tif err := %s.setNatural(%s); err != nil {\n\t\treturn err\n\t}\n", strings.TrimPrefix(dst, "*"), src)
		return nil
	}
	if inner, ok := t.Nullable(); ok {
		// A nullable value is tagged too: {"branch": value}.
		v := c.tmp("v")
		fmt.Fprintf(b, "\tif %s == nil {\n\t\t%s = nil\n\t} else {\n\t\t_, %s, err := codec.NaturalBranch(%s)\n\t\tif err != nil {\n\t\t\treturn err\n\t\t}\n", src, dst, v, src)
		innerType := c.g.mustGoType(inner)
		if typ == innerType {
			if err := c.from(inner, v, dst, at); err != nil {
				return err
			}
		} else {
			y := c.tmp("y")
			fmt.Fprintf(b, "\t\tvar %s %s\n", y, innerType)
			if err := c.from(inner, v, y, at); err != nil {
				return err
			}
			fmt.Fprintf(b, "\t\t%s = &%s\n", dst, y)
		}
		b.WriteString("\t}\n")
		return nil
	}
	assert := func(natural, conv string) {
		y := c.tmp("y")
		fmt.Fprintf(b, "\t%s, ok := %s.(%s)\n\tif !ok {\n\t\treturn fmt.Errorf(\"want %s, got %%T\", %s)\n\t}\n\t%s = %s\n", y, src, natural, natural, src, dst, fmt.Sprintf(conv, y))
	}
	if t.Logical == "" {
		switch t.Kind {
		case avroschema.KindNull:
			fmt.Fprintf(b, "\t%s = nil\n", dst)
			return nil
		case avroschema.KindRecord:
			fmt.Fprintf(b, "\tif err := %s.setNatural(%s); err != nil {\n\t\treturn err\n\t}\n", strings.TrimPrefix(dst, "*"), src)
			return nil
		case avroschema.KindEnum:
			assert("string", typ+"(%s)")
			return nil
		case avroschema.KindFixed:
			y := c.tmp("y")
			fmt.Fprintf(b, "\t%s, ok := %s.([]byte)\n\tif !ok || len(%s) != %d {\n\t\treturn fmt.Errorf(\"want %d bytes, got %%T\", %s)\n\t}\n\t%s = %s(%s)\n", y, src, y, t.Size, t.Size, src, dst, typ, y)
			return nil
		case avroschema.KindArray:
			xs, ys, i, x := c.tmp("xs"), c.tmp("ys"), c.tmp("i"), c.tmp("x")
			fmt.Fprintf(b, "\t%s, ok := %s.([]any)\n\tif !ok && %s != nil {\n\t\treturn fmt.Errorf(\"want an array, got %%T\", %s)\n\t}\n\t%s := make(%s, len(%s))\n\tfor %s, %s := range %s {\n", xs, src, src, src, ys, typ, xs, i, x, xs)
			if err := c.from(t.Items, x, fmt.Sprintf("%s[%s]", ys, i), nil); err != nil {
				return err
			}
			fmt.Fprintf(b, "\t}\n\t%s = %s\n", dst, ys)
			return nil
		case avroschema.KindMap:
			xs, ys, k, x, y := c.tmp("xs"), c.tmp("ys"), c.tmp("k"), c.tmp("x"), c.tmp("y")
			elem, err := c.g.goType(t.Values, nil)
			if err != nil {
				return err
			}
			fmt.Fprintf(b, "\t%s, ok := %s.(map[string]any)\n\tif !ok && %s != nil {\n\t\treturn fmt.Errorf(\"want a map, got %%T\", %s)\n\t}\n\t%s := make(%s, len(%s))\n\tfor %s, %s := range %s {\n\t\tvar %s %s\n", xs, src, src, src, ys, typ, xs, k, x, xs, y, elem)
			if err := c.from(t.Values, x, y, nil); err != nil {
				return err
			}
			fmt.Fprintf(b, "\t\t%s[%s] = %s\n\t}\n\t%s = %s\n", ys, k, y, dst, ys)
			return nil
		}
	}
	// Primitives and logical types: the natural form is the Go type.
	assert(typ, "%s")
	return nil
}
