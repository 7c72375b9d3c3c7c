package avrocompat

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// pair is a reader node and a writer node compared once per walk.
type pair struct{ r, w *node }

// walker compares one reader schema with one writer schema and collects
// every incompatibility, not only the first. It is used once.
type walker struct {
	dir            string // NewReadsOld or OldReadsNew
	reader, writer string // version labels
	seen           map[pair]bool
	lookups        map[*node]*branchLookup
	out            []Incompatibility
}

// site is where the walk stands: the Confluent location as JSON pointer
// tokens, and the same place for people, e.g. "rooms[].price".
type site struct {
	tokens []string
	where  string
	// branch is the index of the writer union branch being resolved
	// against a reader that is not a union, or -1.
	branch int
}

func (s site) push(tokens ...string) site {
	s.tokens = append(slices.Clip(s.tokens), tokens...)
	return s
}

// pointerEscaper escapes a JSON pointer token (RFC 6901).
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// pointer renders the tokens as a JSON pointer, "/" for the root.
func (s site) pointer() string {
	if len(s.tokens) == 0 {
		return "/"
	}
	var b strings.Builder
	for _, t := range s.tokens {
		b.WriteByte('/')
		b.WriteString(pointerEscaper.Replace(t))
	}
	return b.String()
}

// prefix starts a message with the field it is about; nothing at the top
// level, where the message names the type itself.
func (s site) prefix() string {
	if s.where == "" {
		return ""
	}
	return "field " + s.where + ": "
}

// compare walks reader against writer, the Avro "Schema Resolution" rules.
// Each reader/writer pair is compared once: that ends the walk on
// recursive types, and a named type used in several places is reported at
// the first.
func (w *walker) compare(r, wr *node, at site) {
	p := pair{r, wr}
	if w.seen[p] {
		return
	}
	w.seen[p] = true

	switch {
	case wr.kind == "union" && r.kind == "union":
		lk := w.lookup(r)
		for i, wb := range wr.branches {
			bat := at.push(strconv.Itoa(i))
			bat.branch = -1
			rb := lk.match(wb)
			if rb == nil {
				w.missingBranch(r, wb, bat)
				continue
			}
			w.compare(rb, wb, bat)
		}
	case wr.kind == "union":
		for i, wb := range wr.branches {
			bat := at.push(strconv.Itoa(i))
			bat.branch = i
			w.compare(r, wb, bat)
		}
	case r.kind == "union":
		rb := w.lookup(r).match(wr)
		if rb == nil {
			w.missingBranch(r, wr, at)
			return
		}
		w.compare(rb, wr, at)
	case r.kind == wr.kind:
		w.sameKind(r, wr, at)
	case promotes(wr.kind, r.kind):
	default:
		w.typeMismatch(r, wr, at, "")
	}
}

// sameKind compares two nodes of one kind.
func (w *walker) sameKind(r, wr *node, at site) {
	at.branch = -1
	switch r.kind {
	case "record":
		w.names(r, wr, at)
		w.fields(r, wr, at)
	case "enum":
		w.names(r, wr, at)
		w.symbols(r, wr, at)
	case "fixed":
		w.names(r, wr, at)
		if r.size != wr.size {
			w.report(FixedSizeMismatch, at.push("size"), fmt.Sprintf(
				"%sfixed %s changed size from %d to %d bytes; %s; a fixed size can never change: keep %d, and add a new field for the new size",
				at.prefix(), r.name, w.old(r, wr).size, w.new(r, wr).size, w.consequence(), w.old(r, wr).size))
		}
	case "array":
		at.where += "[]"
		w.compare(r.items, wr.items, at.push("items"))
		return
	case "map":
		at.where += "{}"
		w.compare(r.values, wr.values, at.push("values"))
		return
	}
	if r.logical == "decimal" && wr.logical == "decimal" && (r.precision != wr.precision || r.scale != wr.scale) {
		w.typeMismatch(r, wr, at, "decimal precision and scale must not change, or every value is read at the wrong scale")
	}
}

// names reports a record, enum or fixed whose name the reader does not
// accept: the short names differ and no reader alias names the writer.
func (w *walker) names(r, wr *node, at site) {
	if r.name == wr.name || shortName(r.name) == shortName(wr.name) ||
		slices.Contains(r.aliases, wr.name) || slices.Contains(r.bareAliases, shortName(wr.name)) {
		return
	}
	o, n := w.old(r, wr), w.new(r, wr)
	fix := fmt.Sprintf(`add "aliases": [%q] to %s %s`, o.name, n.kind, n.name)
	if w.dir == OldReadsNew {
		fix = fmt.Sprintf("keep the name %s: consumers on the old schema do not know the new name, and an alias only helps the schema that declares it", o.name)
	}
	w.report(NameMismatch, at.push("name"), fmt.Sprintf("%s%s %s was renamed to %s; %s; %s",
		at.prefix(), n.kind, o.name, n.name, w.consequence(), fix))
}

// fields checks that every reader field is found in the writer, by name
// or reader alias, or has a default.
func (w *walker) fields(r, wr *node, at site) {
	byName := make(map[string]*field, len(wr.fields))
	for i := range wr.fields {
		byName[wr.fields[i].name] = &wr.fields[i]
	}
	for i := range r.fields {
		rf := &r.fields[i]
		fat := at.push("fields", strconv.Itoa(i))
		if at.where == "" {
			fat.where = rf.name
		} else {
			fat.where = at.where + "." + rf.name
		}
		wf := byName[rf.name]
		for _, a := range rf.aliases {
			if wf != nil {
				break
			}
			wf = byName[a]
		}
		if wf == nil {
			if !rf.hasDefault {
				w.missingDefault(rf, fat)
			}
			continue
		}
		w.compare(rf.typ, wf.typ, fat.push("type"))
	}
	w.claims(r, wr, at)
}

// claims reports two writer fields that land on one reader field, one by
// name and one by alias (or both by aliases): the reader cannot take both.
func (w *walker) claims(r, wr *node, at site) {
	index := make(map[string]int, len(r.fields))
	for i, f := range r.fields {
		if _, ok := index[f.name]; !ok {
			index[f.name] = i
		}
	}
	for i, f := range r.fields {
		for _, a := range f.aliases {
			if _, ok := index[a]; !ok {
				index[a] = i
			}
		}
	}
	claimed := make(map[int]string)
	for _, wf := range wr.fields {
		i, ok := index[wf.name]
		if !ok {
			continue
		}
		if first, dup := claimed[i]; dup {
			rf := r.fields[i]
			w.report(NameMismatch, at.push("fields", strconv.Itoa(i), "aliases"), fmt.Sprintf(
				"%sin record %s, fields %s and %s of the %s both map to the %s's field %s, one by name and one by alias; %s; drop the alias, or rename one of them",
				at.prefix(), r.name, first, wf.name, w.side(false), w.side(true), rf.name, w.consequence()))
			continue
		}
		claimed[i] = wf.name
	}
}

// symbols checks that the reader knows every writer symbol, or has an
// enum default to fall back on.
func (w *walker) symbols(r, wr *node, at site) {
	if r.hasEnumDefault {
		return
	}
	var missing []string
	for _, s := range wr.symbols {
		if !slices.Contains(r.symbols, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) == 0 {
		return
	}
	slices.Sort(missing)
	list := "[" + strings.Join(missing, ", ") + "]"
	var msg string
	if w.dir == NewReadsOld {
		msg = fmt.Sprintf(`%senum %s dropped the symbols %s; %s; keep them, or give the enum a "default" symbol`,
			at.prefix(), r.name, list, w.consequence())
	} else {
		msg = fmt.Sprintf(`%senum %s added the symbols %s, and the old schema has no enum "default"; %s; add a "default" symbol to the enum and release that before adding symbols`,
			at.prefix(), r.name, list, w.consequence())
	}
	w.report(MissingEnumSymbols, at.push("symbols"), msg)
}

// missingDefault reports reader field rf, absent from the writer, without
// a default.
func (w *walker) missingDefault(rf *field, at site) {
	var msg string
	if w.dir == NewReadsOld {
		msg = fmt.Sprintf("field %s was added without a default; %s; add %s", at.where, w.consequence(), suggestDefault(rf.typ))
	} else {
		msg = fmt.Sprintf("field %s was removed (or renamed), and the old schema gives it no default; %s; keep the field, or first release a version whose schema gives it a default", at.where, w.consequence())
	}
	w.report(ReaderFieldMissingDefaultValue, at, msg)
}

// missingBranch reports writer type wb that reader union r cannot take.
func (w *walker) missingBranch(r, wb *node, at site) {
	var msg string
	if w.dir == NewReadsOld {
		msg = fmt.Sprintf("%sthe union no longer accepts %s, which the old schema writes; %s; keep the %s branch",
			at.prefix(), describe(wb), w.consequence(), describe(wb))
	} else {
		msg = fmt.Sprintf("%sthe new schema writes %s, which the old schema's %s does not accept; %s; add a branch only once every consumer's schema has it",
			at.prefix(), describe(wb), describe(r), w.consequence())
	}
	w.report(MissingUnionBranch, at, msg)
}

// typeMismatch reports a writer type the reader cannot read as its own.
// why, when set, replaces the explanation.
func (w *walker) typeMismatch(r, wr *node, at site, why string) {
	if why == "" {
		why = fmt.Sprintf("Avro cannot convert %s to %s", describe(wr), describe(r))
		if scalar(r.kind) && scalar(wr.kind) {
			why += " (it only widens int→long→float→double and converts string↔bytes)"
		}
	}
	var msg string
	switch {
	case at.branch < 0:
		msg = fmt.Sprintf("%stype changed from %s to %s; %s; %s; keep %s, or add a new field of the new type",
			at.prefix(), describe(w.old(r, wr)), describe(w.new(r, wr)), w.consequence(), why, describe(w.old(r, wr)))
	case w.dir == NewReadsOld:
		msg = fmt.Sprintf("%sthe old schema's union can hold %s (branch %d), which the new schema's %s cannot read; %s; %s; keep the union",
			at.prefix(), describe(wr), at.branch, describe(r), w.consequence(), why)
	default:
		msg = fmt.Sprintf("%sthe new schema's union can hold %s (branch %d), which the old schema's %s cannot read; %s; %s; keep %s until every consumer's schema has the union",
			at.prefix(), describe(wr), at.branch, describe(r), w.consequence(), why, describe(r))
	}
	w.report(TypeMismatch, at, msg)
}

// scalar reports whether kind is a primitive with a value.
func scalar(kind string) bool {
	switch kind {
	case "boolean", "int", "long", "float", "double", "bytes", "string":
		return true
	}
	return false
}

func (w *walker) report(typ string, at site, msg string) {
	w.out = append(w.out, Incompatibility{
		Type:      typ,
		Path:      at.pointer(),
		Message:   msg,
		Reader:    w.reader,
		Writer:    w.writer,
		Direction: w.dir,
	})
}

// old and new pick the old and the new schema's side of a reader/writer
// pair.
func (w *walker) old(r, wr *node) *node {
	if w.dir == NewReadsOld {
		return wr
	}
	return r
}

func (w *walker) new(r, wr *node) *node {
	if w.dir == NewReadsOld {
		return r
	}
	return wr
}

// side names the reader's (reader true) or the writer's schema.
func (w *walker) side(reader bool) string {
	if reader == (w.dir == NewReadsOld) {
		return "new schema"
	}
	return "old schema"
}

// consequence says who breaks.
func (w *walker) consequence() string {
	if w.dir == NewReadsOld {
		return "the new schema cannot read records written with the old one"
	}
	return "consumers still on the old schema cannot read records written with the new one"
}

// lookup returns the branch lookup of reader union r, built once.
func (w *walker) lookup(r *node) *branchLookup {
	if lk, ok := w.lookups[r]; ok {
		return lk
	}
	lk := newBranchLookup(r)
	w.lookups[r] = lk
	return lk
}

// promotes reports whether the spec lets a reader of kind to read data
// written as kind from.
func promotes(from, to string) bool {
	switch from {
	case "int":
		return to == "long" || to == "float" || to == "double"
	case "long":
		return to == "float" || to == "double"
	case "float":
		return to == "double"
	case "string":
		return to == "bytes"
	case "bytes":
		return to == "string"
	}
	return false
}

// branchKey is what a reader union branch answers to: its kind, a name,
// and for fixed its size, since a fixed of another size is no match.
type branchKey struct {
	kind, name string
	size       int
}

// branchLookup selects the reader union branch a writer type resolves to,
// by rank: same kind and full name (or reader alias), then same kind and
// short name, then the first branch the writer kind promotes to. Within a
// rank the first branch wins. This is twmb/avro's rule; Java instead takes
// any compatible branch, which agrees on every real schema.
type branchLookup struct {
	branches []*node
	exact    map[branchKey]int
	short    map[branchKey]int
	byKind   map[string]int
}

func newBranchLookup(r *node) *branchLookup {
	lk := &branchLookup{
		branches: r.branches,
		exact:    make(map[branchKey]int, len(r.branches)),
		short:    make(map[branchKey]int, len(r.branches)),
		byKind:   make(map[string]int, len(r.branches)),
	}
	first := func(m map[branchKey]int, k branchKey, i int) {
		if _, ok := m[k]; !ok {
			m[k] = i
		}
	}
	for i, b := range r.branches {
		if _, ok := lk.byKind[b.kind]; !ok {
			lk.byKind[b.kind] = i
		}
		if !b.named() {
			first(lk.exact, branchKey{kind: b.kind}, i)
			continue
		}
		for _, n := range append([]string{b.name}, b.aliases...) {
			first(lk.exact, branchKey{b.kind, n, b.size}, i)
		}
		for _, n := range append([]string{shortName(b.name)}, b.bareAliases...) {
			first(lk.short, branchKey{b.kind, n, b.size}, i)
		}
	}
	return lk
}

// match returns the branch wb resolves to, or nil.
func (lk *branchLookup) match(wb *node) *node {
	if !wb.named() {
		if i, ok := lk.exact[branchKey{kind: wb.kind}]; ok {
			return lk.branches[i]
		}
		best := -1
		for _, to := range []string{"long", "float", "double", "bytes", "string"} {
			if i, ok := lk.byKind[to]; ok && promotes(wb.kind, to) && (best < 0 || i < best) {
				best = i
			}
		}
		if best < 0 {
			return nil
		}
		return lk.branches[best]
	}
	if i, ok := lk.exact[branchKey{wb.kind, wb.name, wb.size}]; ok {
		return lk.branches[i]
	}
	if i, ok := lk.short[branchKey{wb.kind, shortName(wb.name), wb.size}]; ok {
		return lk.branches[i]
	}
	return nil
}

// describe names a type for people: "int", "record hotel.Money",
// "array of string", "union [null, string]".
func describe(n *node) string {
	switch n.kind {
	case "record", "enum":
		return n.kind + " " + n.name
	case "fixed":
		return fmt.Sprintf("fixed %s (%d bytes)", n.name, n.size)
	case "array":
		return "array of " + describe(n.items)
	case "map":
		return "map of " + describe(n.values)
	case "union":
		parts := make([]string, len(n.branches))
		for i, b := range n.branches {
			if b.named() {
				parts[i] = b.name
			} else {
				parts[i] = b.kind
			}
		}
		return "union [" + strings.Join(parts, ", ") + "]"
	}
	if n.logical == "decimal" {
		return fmt.Sprintf("%s (decimal(%d,%d))", n.kind, n.precision, n.scale)
	}
	if n.logical != "" {
		return fmt.Sprintf("%s (%s)", n.kind, n.logical)
	}
	return n.kind
}

// suggestDefault proposes a default for a new field of type t.
func suggestDefault(t *node) string {
	switch t.kind {
	case "union":
		if len(t.branches) == 0 {
			return `a "default"`
		}
		if t.branches[0].kind == "null" {
			return `"default": null`
		}
		return suggestDefault(t.branches[0]) + " (a union default must match its first branch)"
	case "null":
		return `"default": null`
	case "boolean":
		return `"default": false`
	case "int", "long":
		return `"default": 0`
	case "float", "double":
		return `"default": 0.0`
	case "string", "bytes":
		return `"default": ""`
	case "enum":
		if len(t.symbols) == 0 {
			return `a "default"`
		}
		return fmt.Sprintf(`"default": %q`, t.symbols[0])
	case "array":
		return `"default": []`
	case "map":
		return `"default": {}`
	case "fixed":
		return fmt.Sprintf(`a "default" string of %d bytes`, t.size)
	}
	return fmt.Sprintf(`a "default" object with a value for each field of %s`, t.name)
}
