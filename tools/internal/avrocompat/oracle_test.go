package avrocompat_test

import (
	"encoding/json"

	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/twmb/avro"

	"github.com/keiyaku/keiyaku/tools/internal/avrocompat"
)

// The differential oracle: random schema histories, for which Check's
// verdict in each mode must equal the verdict of really writing random
// data with every writer the mode pairs and reading it with the reader
// (github.com/twmb/avro: Resolve, then Decode), and every incompatibility
// must come with a counterexample that really fails to decode.

// sch is a schema of the generator.
type sch struct {
	kind        string // null boolean int long float double string bytes record enum array map union
	name, ns    string
	aliases     []string
	fields      []*fld
	symbols     []string
	enumDefault string
	items       *sch // array items, map values
	branches    []*sch
}

type fld struct {
	name    string
	aliases []string
	typ     *sch
	hasDef  bool
}

func (s *sch) full() string {
	if s.ns == "" {
		return s.name
	}
	return s.ns + "." + s.name
}

func (s *sch) clone() *sch {
	if s == nil {
		return nil
	}
	c := *s
	c.aliases = slices.Clone(s.aliases)
	c.symbols = slices.Clone(s.symbols)
	c.items = s.items.clone()
	c.fields = nil
	for _, f := range s.fields {
		fc := *f
		fc.aliases = slices.Clone(f.aliases)
		fc.typ = f.typ.clone()
		c.fields = append(c.fields, &fc)
	}
	c.branches = nil
	for _, b := range s.branches {
		c.branches = append(c.branches, b.clone())
	}
	return &c
}

// defaultOf is a valid default value of s, as JSON.
func defaultOf(s *sch) any {
	switch s.kind {
	case "null":
		return nil
	case "boolean":
		return false
	case "int", "long":
		return 0
	case "float", "double":
		return 0.5
	case "string", "bytes":
		return ""
	case "enum":
		return s.symbols[0]
	case "array":
		return []any{}
	case "map":
		return map[string]any{}
	case "union":
		return defaultOf(s.branches[0])
	case "record":
		m := map[string]any{}
		for _, f := range s.fields {
			m[f.name] = defaultOf(f.typ)
		}
		return m
	}
	panic(s.kind)
}

// toJSON renders s as schema JSON.
func toJSON(s *sch) any {
	switch s.kind {
	case "record":
		var fields []any
		for _, f := range s.fields {
			m := map[string]any{"name": f.name, "type": toJSON(f.typ)}
			if len(f.aliases) > 0 {
				m["aliases"] = f.aliases
			}
			if f.hasDef {
				m["default"] = defaultOf(f.typ)
			}
			fields = append(fields, m)
		}
		m := map[string]any{"type": "record", "name": s.full(), "fields": fields}
		if len(s.aliases) > 0 {
			m["aliases"] = s.aliases
		}
		return m
	case "enum":
		m := map[string]any{"type": "enum", "name": s.full(), "symbols": s.symbols}
		if s.enumDefault != "" {
			m["default"] = s.enumDefault
		}
		if len(s.aliases) > 0 {
			m["aliases"] = s.aliases
		}
		return m
	case "array":
		return map[string]any{"type": "array", "items": toJSON(s.items)}
	case "map":
		return map[string]any{"type": "map", "values": toJSON(s.items)}
	case "union":
		var bs []any
		for _, b := range s.branches {
			bs = append(bs, toJSON(b))
		}
		return bs
	}
	return s.kind
}

func renderSchema(t testing.TB, s *sch) string {
	b, err := json.Marshal(toJSON(s))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// gen makes random schemas and evolutions.
type gen struct {
	r     *rand.Rand
	names int
}

var primitives = []string{"null", "boolean", "int", "long", "float", "double", "string", "bytes"}

func (g *gen) name(prefix string) string {
	g.names++
	return fmt.Sprintf("%s%d", prefix, g.names)
}

// typ makes a random type; depth bounds nesting.
func (g *gen) typ(depth int) *sch {
	k := g.r.IntN(10)
	if depth >= 3 {
		k = g.r.IntN(4)
	}
	switch k {
	case 0, 1, 2, 3:
		return &sch{kind: primitives[1+g.r.IntN(len(primitives)-1)]}
	case 4:
		return g.record(depth + 1)
	case 5:
		return g.enum()
	case 6:
		return &sch{kind: "array", items: g.typ(depth + 1)}
	case 7:
		return &sch{kind: "map", items: g.typ(depth + 1)}
	default:
		return g.union(depth + 1)
	}
}

func (g *gen) enum() *sch {
	s := &sch{kind: "enum", name: g.name("E"), ns: "n", symbols: []string{"A", "B", "C"}[:1+g.r.IntN(3)]}
	if g.r.IntN(3) == 0 {
		s.enumDefault = s.symbols[0]
	}
	return s
}

func (g *gen) union(depth int) *sch {
	u := &sch{kind: "union"}
	if g.r.IntN(2) == 0 {
		u.branches = append(u.branches, &sch{kind: "null"})
	}
	for range 1 + g.r.IntN(2) {
		g.addBranch(u, depth)
	}
	return u
}

// addBranch adds a branch of a kind the union does not have yet.
func (g *gen) addBranch(u *sch, depth int) {
	for range 10 {
		var b *sch
		switch g.r.IntN(4) {
		case 0:
			if depth < 3 {
				b = g.record(depth + 1)
			}
		case 1:
			b = g.enum()
		default:
			b = &sch{kind: primitives[g.r.IntN(len(primitives))]}
		}
		if b == nil {
			continue
		}
		if !b.named() && slices.ContainsFunc(u.branches, func(o *sch) bool { return o.kind == b.kind }) {
			continue
		}
		u.branches = append(u.branches, b)
		return
	}
}

func (s *sch) named() bool { return s.kind == "record" || s.kind == "enum" }

func (g *gen) record(depth int) *sch {
	s := &sch{kind: "record", name: g.name("R"), ns: "n"}
	for range 1 + g.r.IntN(3) {
		s.fields = append(s.fields, &fld{name: g.name("f"), typ: g.typ(depth), hasDef: g.r.IntN(2) == 0})
	}
	return s
}

// nodes lists every schema node of s (types reachable from it).
func nodes(s *sch, out *[]*sch) {
	*out = append(*out, s)
	for _, f := range s.fields {
		nodes(f.typ, out)
	}
	if s.items != nil {
		nodes(s.items, out)
	}
	for _, b := range s.branches {
		nodes(b, out)
	}
}

var promotions = map[string][]string{
	"int": {"long", "float", "double"}, "long": {"float", "double", "int"}, "float": {"double", "long"},
	"double": {"float"}, "string": {"bytes"}, "bytes": {"string"},
}

// evolve returns a copy of s with one to three random changes.
func (g *gen) evolve(s *sch) *sch {
	s = s.clone()
	for range 1 + g.r.IntN(3) {
		var all []*sch
		nodes(s, &all)
		n := all[g.r.IntN(len(all))]
		switch n.kind {
		case "record":
			g.evolveRecord(n, n == s)
		case "enum":
			switch g.r.IntN(4) {
			case 0:
				n.symbols = append(n.symbols, g.name("S"))
			case 1:
				if len(n.symbols) > 1 {
					i := g.r.IntN(len(n.symbols))
					if n.symbols[i] != n.enumDefault {
						n.symbols = slices.Delete(n.symbols, i, i+1)
					}
				}
			case 2:
				if n.enumDefault == "" {
					n.enumDefault = n.symbols[0]
				} else {
					n.enumDefault = ""
				}
			default:
				g.rename(n)
			}
		case "union":
			if g.r.IntN(2) == 0 {
				g.addBranch(n, 2)
			} else if len(n.branches) > 1 {
				i := g.r.IntN(len(n.branches))
				n.branches = slices.Delete(n.branches, i, i+1)
			}
		case "array", "map":
			if g.r.IntN(3) == 0 {
				n.items = g.typ(2)
			}
		default:
			if to := promotions[n.kind]; len(to) > 0 {
				n.kind = to[g.r.IntN(len(to))]
			}
		}
	}
	return s
}

// rename renames a named type, with an alias for the old name or not,
// or moves it to another namespace.
func (g *gen) rename(n *sch) {
	old := n.full()
	switch g.r.IntN(3) {
	case 0:
		n.name = g.name(n.name[:1])
		n.aliases = append(n.aliases, old)
	case 1:
		n.name = g.name(n.name[:1])
	default:
		n.ns = "m"
	}
}

func (g *gen) evolveRecord(n *sch, top bool) {
	switch g.r.IntN(7) {
	case 0, 1:
		n.fields = append(n.fields, &fld{name: g.name("f"), typ: g.typ(2), hasDef: g.r.IntN(2) == 0})
	case 2:
		if len(n.fields) > 1 {
			i := g.r.IntN(len(n.fields))
			n.fields = slices.Delete(n.fields, i, i+1)
		}
	case 3:
		f := n.fields[g.r.IntN(len(n.fields))]
		f.hasDef = !f.hasDef
	case 4:
		f := n.fields[g.r.IntN(len(n.fields))]
		old := f.name
		f.name = g.name("f")
		if g.r.IntN(2) == 0 {
			f.aliases = append(f.aliases, old)
		}
	case 5:
		f := n.fields[g.r.IntN(len(n.fields))]
		if f.typ.kind != "union" && f.typ.kind != "null" && g.r.IntN(2) == 0 {
			f.typ = &sch{kind: "union", branches: []*sch{{kind: "null"}, f.typ}}
		} else {
			f.typ = g.typ(2)
		}
	default:
		g.rename(n)
	}
}

// datum is a random value of s, as twmb/avro encodes it.
func (g *gen) datum(s *sch, depth int) any {
	switch s.kind {
	case "null":
		return nil
	case "boolean":
		return g.r.IntN(2) == 0
	case "int":
		return int32(g.r.IntN(1000) - 500)
	case "long":
		return g.r.Int64N(1<<40) - 1<<39
	case "float":
		return float32(g.r.NormFloat64())
	case "double":
		return g.r.NormFloat64()
	case "string":
		return []string{"", "a", "héllo"}[g.r.IntN(3)]
	case "bytes":
		return []byte{byte(g.r.IntN(256))}
	case "enum":
		return s.symbols[g.r.IntN(len(s.symbols))]
	case "array":
		var out []any
		for range g.r.IntN(3) {
			out = append(out, g.datum(s.items, depth+1))
		}
		return out
	case "map":
		out := map[string]any{}
		for i := range g.r.IntN(3) {
			out[fmt.Sprint("k", i)] = g.datum(s.items, depth+1)
		}
		return out
	case "record":
		m := map[string]any{}
		for _, f := range s.fields {
			m[f.name] = g.datum(f.typ, depth+1)
		}
		return m
	case "union":
		b := s.branches[g.r.IntN(len(s.branches))]
		if b.kind == "null" {
			return nil
		}
		tag := b.kind
		if b.named() {
			tag = b.full()
		}
		return map[string]any{tag: g.datum(b, depth+1)}
	}
	panic(s.kind)
}

// normalize keeps a generated schema inside what both sides define the
// same: a union keeps one branch per unnamed kind (a promotion may have
// made two), and a field without a default does not start its union with
// null, since twmb/avro implies a null default there and Schema Registry
// does not (TestCheckImplicitNullDefault pins that one known difference;
// the gate takes the registry's stricter side).
func normalize(s *sch) {
	var all []*sch
	nodes(s, &all)
	for _, n := range all {
		if n.kind == "union" {
			seen := map[string]bool{}
			n.branches = slices.DeleteFunc(n.branches, func(b *sch) bool {
				if b.named() {
					return false
				}
				dup := seen[b.kind]
				seen[b.kind] = true
				return dup
			})
		}
		for _, f := range n.fields {
			if !f.hasDef && f.typ.kind == "union" && len(f.typ.branches) > 1 && f.typ.branches[0].kind == "null" {
				f.typ.branches = append(f.typ.branches[1:], f.typ.branches[0])
			}
		}
	}
}

// version is one version of a generated history.
type version struct {
	s    *sch
	text string
	avro *avro.Schema
	data [][]byte // random data written with it
}

// history makes a random history of 2–5 versions, each with random data
// encoded with it.
func (g *gen) history(t testing.TB) []version {
	cur := g.record(0)
	n := 2 + g.r.IntN(4)
	var vs []version
	for i := range n {
		if i > 0 {
			cur = g.evolve(cur)
		}
		normalize(cur)
		text := renderSchema(t, cur)
		a, err := avro.Parse(text)
		if err != nil {
			t.Fatalf("the generator made a schema twmb/avro refuses: %v\n%s", err, text)
		}
		v := version{s: cur, text: text, avro: a}
		for range 8 {
			bin, err := a.Encode(g.datum(cur, 0))
			if err != nil {
				t.Fatalf("encode a random datum: %v\n%s", err, text)
			}
			v.data = append(v.data, bin)
		}
		vs = append(vs, v)
	}
	return vs
}

// reads is the oracle: reader decodes every datum written with writer.
func reads(writer, reader version) bool {
	res, err := avro.Resolve(writer.avro, reader.avro)
	if err != nil {
		return false
	}
	for _, bin := range writer.data {
		var out any
		if _, err := res.Decode(bin, &out); err != nil {
			return false
		}
	}
	return true
}

// oracleVerdict says whether next may follow history in mode, by reading
// data.
func oracleVerdict(mode avrocompat.Mode, history []version, next version, cache map[[2]int]bool) bool {
	n := len(history)
	all := append(slices.Clip(history), next)
	readsAt := func(w, r int) bool {
		k := [2]int{w, r}
		v, ok := cache[k]
		if !ok {
			v = reads(all[w], all[r])
			cache[k] = v
		}
		return v
	}
	if mode == avrocompat.None {
		return true
	}
	from := n - 1
	if mode == avrocompat.BackwardTransitive || mode == avrocompat.ForwardTransitive || mode == avrocompat.FullTransitive {
		from = 0
	}
	backward := mode != avrocompat.Forward && mode != avrocompat.ForwardTransitive
	forward := mode != avrocompat.Backward && mode != avrocompat.BackwardTransitive
	for old := from; old < n; old++ {
		if backward && !readsAt(old, n) {
			return false
		}
		if forward && !readsAt(n, old) {
			return false
		}
	}
	return true
}

type oracleStats struct {
	histories, checks, compatible, disagreements, incompatibilities, counterexamples int
}

// checkHistory compares Check with the oracle on one history in every
// mode, and checks a counterexample for each incompatibility.
func checkHistory(t testing.TB, vs []version, st *oracleStats) {
	st.histories++
	history := make([]avrocompat.Version, len(vs)-1)
	byLabel := map[string]version{}
	for i, v := range vs[:len(vs)-1] {
		history[i] = avrocompat.Version{Label: fmt.Sprint("v", i+1), Schema: v.text}
		byLabel[history[i].Label] = v
	}
	next := vs[len(vs)-1]
	nextV := avrocompat.Version{Label: "next", Schema: next.text}
	byLabel["next"] = next
	readsCache := map[[2]int]bool{}
	verified := map[string]bool{}
	for _, mode := range avrocompat.Modes() {
		st.checks++
		incs, err := avrocompat.Check(mode, history, nextV)
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		want := oracleVerdict(mode, vs[:len(vs)-1], next, readsCache)
		if want {
			st.compatible++
		}
		if got := len(incs) == 0; got != want {
			st.disagreements++
			t.Errorf("%s: Check says compatible=%v, reading data says %v; %v\nhistory:", mode, got, want, incs)
			for _, v := range vs {
				t.Errorf("  %s", v.text)
			}
			continue
		}
		for _, inc := range incs {
			st.incompatibilities++
			key := inc.Writer + " " + inc.Reader + " " + inc.Path
			if verified[key] {
				st.counterexamples++
				continue
			}
			verified[key] = true
			w, r := byLabel[inc.Writer], byLabel[inc.Reader]
			datum, decodeErr, err := avrocompat.Counterexample(w.text, r.text, inc.Path)
			if err != nil || decodeErr == nil {
				t.Errorf("%s: no counterexample for %v: %v\nwriter %s\nreader %s", mode, inc, err, w.text, r.text)
				continue
			}
			var js any
			if json.Unmarshal([]byte(datum), &js) != nil {
				t.Errorf("counterexample %q is not JSON", datum)
			}
			st.counterexamples++
		}
	}
}

// TestOracle runs the differential oracle on thousands of random
// histories (a fixed seed: the same histories every run).
func TestOracle(t *testing.T) {
	t.Parallel()
	n := 2000 // about 6 s
	if raceEnabled {
		n = 500 // the race detector slows it about tenfold
	}
	if testing.Short() {
		n = 300
	}
	g := &gen{r: rand.New(rand.NewPCG(12, 2026))}
	var st oracleStats
	for range n {
		checkHistory(t, g.history(t), &st)
		if t.Failed() && st.disagreements > 5 {
			break
		}
	}
	t.Logf("oracle: %d histories × 7 modes = %d checks (%d compatible), %d disagreements; %d incompatibilities, %d with a counterexample",
		st.histories, st.checks, st.compatible, st.disagreements, st.incompatibilities, st.counterexamples)
}

// FuzzOracle runs the oracle on the history a seed generates.
func FuzzOracle(f *testing.F) {
	for _, s := range []uint64{1, 2, 3, 2026} {
		f.Add(s, s*7)
	}
	f.Fuzz(func(t *testing.T, a, b uint64) {
		g := &gen{r: rand.New(rand.NewPCG(a, b))}
		var st oracleStats
		checkHistory(t, g.history(t), &st)
	})
}

// TestFieldPath pins the field names of a pointer, through arrays, maps
// and unions, as consumers' pacts name fields.
func TestFieldPath(t *testing.T) {
	t.Parallel()
	schema := `{"type": "record", "name": "R", "fields": [
	  {"name": "id", "type": "string"},
	  {"name": "rooms", "type": {"type": "array", "items": {"type": "record", "name": "Room", "fields": [
	    {"name": "price", "type": ["null", {"type": "record", "name": "Money", "fields": [{"name": "amount", "type": "long"}]}]}]}}}]}`
	for _, tt := range []struct{ ptr, want string }{
		{"/", ""},
		{"/fields/0/type", "id"},
		{"/fields/1/type/items/fields/0/type/1/fields/0/type", "rooms/price/amount"},
		{"/fields/1/type/items/fields/0/type/fields/0", "rooms/price/amount"},
		{"/fields/9", ""},
	} {
		if got := avrocompat.FieldPath(schema, tt.ptr); got != tt.want {
			t.Errorf("FieldPath(%s) = %q, want %q", tt.ptr, got, tt.want)
		}
	}
}
