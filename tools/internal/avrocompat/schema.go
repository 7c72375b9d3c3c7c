package avrocompat

import (
	"fmt"
	"strings"

	"github.com/twmb/avro"
)

// node is one resolved type of a parsed schema. Name references are
// replaced by the definition they name, so a recursive schema is a cyclic
// graph; the walker guards against that.
type node struct {
	kind string // null, boolean, int, long, float, double, bytes, string, record, enum, fixed, array, map, union

	// name is the full name of a record, enum or fixed. aliases are its
	// aliases qualified with its namespace; bareAliases those written
	// without a dot, which also match a short name in any namespace.
	name        string
	aliases     []string
	bareAliases []string

	logical          string
	precision, scale int

	fields         []field
	symbols        []string
	hasEnumDefault bool
	size           int
	items, values  *node
	branches       []*node
}

// field is one field of a record.
type field struct {
	name       string
	aliases    []string
	hasDefault bool
	typ        *node
}

// named reports whether n is a named kind: record, enum or fixed.
func (n *node) named() bool {
	return n.kind == "record" || n.kind == "enum" || n.kind == "fixed"
}

// parseSchema parses one self-contained Avro schema into a node graph.
func parseSchema(text string) (*node, error) {
	s, err := avro.Parse(text)
	if err != nil {
		return nil, err
	}
	root := s.Root()
	c := converter{defs: map[string]*avro.SchemaNode{}, done: map[*avro.SchemaNode]*node{}}
	c.collect(root)
	return c.convert(root, "")
}

// converter turns an [avro.SchemaNode] tree into a node graph.
type converter struct {
	defs map[string]*avro.SchemaNode // full name → definition
	done map[*avro.SchemaNode]*node  // definition → converted node
}

// collect registers every named definition under its full name. It
// descends only the positions a node's kind binds, as the parser does.
func (c *converter) collect(n *avro.SchemaNode) {
	switch kindOf(n.Type) {
	case "record":
		c.defs[fullName(n)] = n
		for i := range n.Fields {
			c.collect(&n.Fields[i].Type)
		}
	case "enum", "fixed":
		c.defs[fullName(n)] = n
	case "array":
		if n.Items != nil {
			c.collect(n.Items)
		}
	case "map":
		if n.Values != nil {
			c.collect(n.Values)
		}
	case "union":
		for i := range n.Branches {
			c.collect(&n.Branches[i])
		}
	}
}

// convert converts n, read in the enclosing namespace ns.
func (c *converter) convert(n *avro.SchemaNode, ns string) (*node, error) {
	kind := kindOf(n.Type)
	switch kind {
	case "null", "boolean", "int", "long", "float", "double", "bytes", "string":
		return &node{kind: kind, logical: n.LogicalType, precision: n.Precision, scale: n.Scale}, nil
	case "array":
		if n.Items == nil {
			return nil, fmt.Errorf("array without items")
		}
		items, err := c.convert(n.Items, ns)
		if err != nil {
			return nil, err
		}
		return &node{kind: kind, items: items}, nil
	case "map":
		if n.Values == nil {
			return nil, fmt.Errorf("map without values")
		}
		values, err := c.convert(n.Values, ns)
		if err != nil {
			return nil, err
		}
		return &node{kind: kind, values: values}, nil
	case "union":
		out := &node{kind: kind, branches: make([]*node, len(n.Branches))}
		for i := range n.Branches {
			b, err := c.convert(&n.Branches[i], ns)
			if err != nil {
				return nil, err
			}
			out.branches[i] = b
		}
		return out, nil
	case "record", "enum", "fixed":
		return c.define(n, kind)
	}
	def := lookup(c.defs, n.Type, ns)
	if def == nil {
		return nil, fmt.Errorf("unknown type %q", n.Type)
	}
	return c.define(def, kindOf(def.Type))
}

// define converts the named definition n once; later references share the
// result. The node is registered before its fields are converted, so a
// record that refers to itself becomes a cycle.
func (c *converter) define(n *avro.SchemaNode, kind string) (*node, error) {
	if out, ok := c.done[n]; ok {
		return out, nil
	}
	name := fullName(n)
	out := &node{
		kind:        kind,
		name:        name,
		aliases:     qualifyAliases(n.Aliases, name),
		bareAliases: bareAliases(n.Aliases),
		logical:     n.LogicalType,
		precision:   n.Precision,
		scale:       n.Scale,
		symbols:     n.Symbols,
		size:        n.Size,
	}
	out.hasEnumDefault = n.HasEnumDefault
	c.done[n] = out
	if kind == "record" {
		ns := namespaceOf(name)
		out.fields = make([]field, len(n.Fields))
		for i := range n.Fields {
			f := &n.Fields[i]
			t, err := c.convert(&f.Type, ns)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", f.Name, err)
			}
			out.fields[i] = field{name: f.Name, aliases: f.Aliases, hasDefault: f.HasDefault, typ: t}
		}
	}
	return out, nil
}

// kindOf maps a SchemaNode type to its kind; "error" is a record. A name
// reference comes back unchanged.
func kindOf(t string) string {
	if t == "error" {
		return "record"
	}
	return t
}

// fullName is the full name of a named definition whose Namespace is
// already resolved, following the spec: a dotted name is full, a leading
// dot alone means the null namespace.
func fullName(n *avro.SchemaNode) string {
	if strings.Contains(n.Name, ".") {
		if strings.LastIndexByte(n.Name, '.') == 0 {
			return n.Name[1:]
		}
		return n.Name
	}
	if n.Namespace == "" {
		return n.Name
	}
	return n.Namespace + "." + n.Name
}

// lookup resolves the reference ref written in namespace ns: a dotted
// reference is a full name; a bare one is tried in ns, then in the null
// namespace.
func lookup(defs map[string]*avro.SchemaNode, ref, ns string) *avro.SchemaNode {
	if strings.Contains(ref, ".") {
		if strings.LastIndexByte(ref, '.') == 0 {
			ref = ref[1:]
		}
		return defs[ref]
	}
	if ns != "" {
		if d, ok := defs[ns+"."+ref]; ok {
			return d
		}
	}
	return defs[ref]
}

// qualifyAliases qualifies the aliases of the type full name with its
// namespace, unless they are dotted already.
func qualifyAliases(aliases []string, full string) []string {
	if len(aliases) == 0 {
		return nil
	}
	ns := namespaceOf(full)
	out := make([]string, len(aliases))
	for i, a := range aliases {
		switch {
		case strings.Contains(a, "."):
			if strings.LastIndexByte(a, '.') == 0 {
				a = a[1:]
			}
			out[i] = a
		case ns == "":
			out[i] = a
		default:
			out[i] = ns + "." + a
		}
	}
	return out
}

// bareAliases returns the aliases written without a dot.
func bareAliases(aliases []string) []string {
	var out []string
	for _, a := range aliases {
		if !strings.Contains(a, ".") {
			out = append(out, a)
		}
	}
	return out
}

// namespaceOf returns the namespace part of a full name.
func namespaceOf(full string) string {
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		return full[:i]
	}
	return ""
}

// shortName returns the name without its namespace.
func shortName(full string) string {
	return full[strings.LastIndexByte(full, '.')+1:]
}
