package mock

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/brianvoe/gofakeit/v7"
	"github.com/getkin/kin-openapi/openapi3"
)

// Direction says which side of an exchange a value is generated for: a
// response leaves writeOnly properties out, a request readOnly ones.
type Direction int

// The directions.
const (
	Response Direction = iota
	Request
)

// maxDepth bounds the nesting of generated values: below it objects get
// their required properties only and arrays their minimum of items, so
// that recursive schemas end.
const maxDepth = 6

// attempts is how many times a value that does not validate is generated
// again before the generator gives up on the schema.
const attempts = 8

// Generator makes JSON values (the types encoding/json decodes into:
// map[string]any, []any, string, float64, bool) that validate against an
// OpenAPI schema. Values honour type, enum, const, format (uuid, date,
// date-time, time, email, uri, uri-reference, hostname, ipv4, ipv6, byte,
// int32, int64), minimum/maximum (also exclusive), multipleOf, lengths,
// pattern, required, items bounds and allOf/oneOf/anyOf.
//
// A Generator is deterministic: the same seed and the same calls give the
// same values. It is not safe for concurrent use; make one per request.
type Generator struct {
	f        *gofakeit.Faker
	examples bool
}

// NewGenerator returns a generator seeded with seed. With examples set,
// a schema's own example (or default) is used when it validates, rather
// than made-up data, so that responses read like the contract's examples.
func NewGenerator(seed uint64, examples bool) *Generator {
	return &Generator{f: gofakeit.New(seed), examples: examples}
}

// Value returns a value that validates against s, generated for
// direction d. When no value is found that validates (a pattern the
// regular-expression generator does not cover, contradictory keywords),
// it returns the schema's example if that validates, else an error that
// says which keyword could not be met.
func (g *Generator) Value(s *openapi3.Schema, d Direction) (any, error) {
	if s == nil {
		return map[string]any{}, nil
	}
	var last error
	for range attempts {
		v := g.value(s, d, 0)
		err := visit(s, v, d)
		if err == nil {
			return v, nil
		}
		last = err
	}
	for _, ex := range []any{s.Example, s.Default} {
		if ex != nil {
			if v, err := normalize(ex); err == nil && visit(s, v, d) == nil {
				return v, nil
			}
		}
	}
	return nil, fmt.Errorf("no value found that validates against the schema (last try: %w); add an example to the schema", last)
}

// visit validates v against s as a JSON value of direction d.
func visit(s *openapi3.Schema, v any, d Direction) error {
	opts := []openapi3.SchemaValidationOption{openapi3.MultiErrors()}
	if d == Response {
		opts = append(opts, openapi3.VisitAsResponse())
	} else {
		opts = append(opts, openapi3.VisitAsRequest())
	}
	return s.VisitJSON(v, opts...)
}

// normalize turns a value decoded from YAML into the types encoding/json
// decodes into.
func normalize(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	err = json.Unmarshal(b, &out)
	return out, err
}

func (g *Generator) value(s *openapi3.Schema, d Direction, depth int) any {
	if g.examples {
		if s.Example != nil {
			if v, err := normalize(s.Example); err == nil && visit(s, v, d) == nil {
				return v
			}
		}
	}
	if s.Const != nil {
		if v, err := normalize(s.Const); err == nil {
			return v
		}
	}
	if len(s.Enum) > 0 {
		choices := slices.DeleteFunc(slices.Clone(s.Enum), func(e any) bool { return e == nil })
		if len(choices) == 0 {
			return nil
		}
		v, _ := normalize(choices[g.f.IntN(len(choices))])
		return v
	}
	if len(s.AllOf) > 0 {
		return g.allOf(s, d, depth)
	}
	if alts := append(slices.Clone(s.OneOf), s.AnyOf...); len(alts) > 0 {
		start := g.f.IntN(len(alts))
		for i := range alts {
			alt := alts[(start+i)%len(alts)]
			if alt == nil || alt.Value == nil {
				continue
			}
			branch := mergeSiblings(s, alt.Value)
			v := g.value(branch, d, depth+1)
			// The branch, not s: a value of one anyOf branch is a value
			// of s; for oneOf, Value's final check catches a value that
			// two branches take, and tries again.
			if visit(branch, v, d) == nil {
				return v
			}
		}
		if alts[start] != nil && alts[start].Value != nil {
			return g.value(alts[start].Value, d, depth+1)
		}
	}
	switch typeOf(s) {
	case openapi3.TypeString:
		return g.str(s)
	case openapi3.TypeInteger:
		return g.integer(s)
	case openapi3.TypeNumber:
		return g.number(s)
	case openapi3.TypeBoolean:
		return g.f.Bool()
	case openapi3.TypeArray:
		return g.array(s, d, depth)
	case openapi3.TypeNull:
		return nil
	default:
		return g.object(s, d, depth)
	}
}

// typeOf is the type to generate for s: its first non-null type, or one
// inferred from its keywords.
func typeOf(s *openapi3.Schema) string {
	if s.Type != nil {
		for _, t := range *s.Type {
			if t != openapi3.TypeNull {
				return t
			}
		}
		if len(*s.Type) > 0 {
			return openapi3.TypeNull
		}
	}
	switch {
	case len(s.Properties) > 0 || s.AdditionalProperties.Schema != nil || len(s.Required) > 0:
		return openapi3.TypeObject
	case s.Items != nil:
		return openapi3.TypeArray
	case s.Min != nil || s.Max != nil || s.MultipleOf != nil:
		return openapi3.TypeNumber
	case s.Pattern != "" || s.Format != "" || s.MinLength > 0 || s.MaxLength != nil:
		return openapi3.TypeString
	}
	return openapi3.TypeObject
}

// mergeSiblings returns alt with the properties and required names of s
// added, for a oneOf or anyOf next to properties of its own.
func mergeSiblings(s, alt *openapi3.Schema) *openapi3.Schema {
	if len(s.Properties) == 0 && len(s.Required) == 0 {
		return alt
	}
	m := *alt
	m.Properties = openapi3.Schemas{}
	for k, v := range s.Properties {
		m.Properties[k] = v
	}
	for k, v := range alt.Properties {
		m.Properties[k] = v
	}
	m.Required = append(slices.Clone(s.Required), alt.Required...)
	return &m
}

// allOf generates each part and merges the objects; a part that is not an
// object decides the value.
func (g *Generator) allOf(s *openapi3.Schema, d Direction, depth int) any {
	own := *s
	own.AllOf = nil
	parts := []*openapi3.Schema{}
	for _, p := range s.AllOf {
		if p != nil && p.Value != nil {
			parts = append(parts, p.Value)
		}
	}
	if len(own.Properties) > 0 || len(own.Required) > 0 || own.Type != nil {
		parts = append(parts, &own)
	}
	merged := map[string]any{}
	var scalar any
	for _, p := range parts {
		switch v := g.value(p, d, depth+1).(type) {
		case map[string]any:
			for k, x := range v {
				if _, ok := merged[k]; !ok {
					merged[k] = x
				}
			}
		default:
			if scalar == nil {
				scalar = v
			}
		}
	}
	if scalar != nil && len(merged) == 0 {
		return scalar
	}
	return merged
}

func (g *Generator) str(s *openapi3.Schema) any {
	minLen := int(min(s.MinLength, 1<<16))
	maxLen := minLen + 12
	if s.MaxLength != nil {
		maxLen = int(min(*s.MaxLength, uint64(minLen+64)))
	}
	fits := func(v string) bool {
		n := len([]rune(v))
		return n >= minLen && (s.MaxLength == nil || uint64(n) <= *s.MaxLength)
	}
	if s.Pattern != "" {
		if _, err := regexp.Compile(s.Pattern); err == nil {
			for range attempts {
				v := g.f.Regex(s.Pattern)
				if fits(v) {
					return v
				}
			}
		}
	}
	if v, ok := g.format(s.Format); ok && fits(v) {
		return v
	}
	n := minLen
	if maxLen > minLen {
		n += g.f.IntN(maxLen - minLen + 1)
	}
	if n == 0 && s.MaxLength == nil && minLen == 0 {
		n = 1 + g.f.IntN(12)
	}
	var b strings.Builder
	for b.Len() < n {
		w := g.f.Word()
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	// Cut to n bytes (the words are ASCII) without a space at either end,
	// which would make the value look padded.
	v := []byte(b.String()[:n])
	if len(v) > 0 && v[0] == ' ' {
		v[0] = 'x'
	}
	if len(v) > 0 && v[len(v)-1] == ' ' {
		v[len(v)-1] = 'x'
	}
	return string(v)
}

// format returns a value of the string format name, and whether the
// generator knows the format.
func (g *Generator) format(name string) (string, bool) {
	day := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, g.f.IntN(3650))
	switch name {
	case "uuid":
		return g.f.UUID(), true
	case "date":
		return day.Format(time.DateOnly), true
	case "date-time":
		return day.Add(time.Duration(g.f.IntN(86400)) * time.Second).Format(time.RFC3339), true
	case "time":
		return day.Add(time.Duration(g.f.IntN(86400))*time.Second).Format(time.TimeOnly) + "Z", true
	case "email", "idn-email":
		return strings.ToLower(g.f.Username()) + "@example.com", true
	case "uri", "url", "iri":
		return "https://example.com/" + g.f.UrlSlug(2), true
	case "uri-reference", "iri-reference", "uri-template":
		return "/" + g.f.UrlSlug(2), true
	case "hostname", "idn-hostname":
		return strings.ToLower(g.f.Word()) + ".example.com", true
	case "ipv4":
		return g.f.IPv4Address(), true
	case "ipv6":
		return g.f.IPv6Address(), true
	case "byte":
		b := make([]byte, 6+g.f.IntN(12))
		for i := range b {
			b[i] = byte(g.f.IntN(256))
		}
		return base64.StdEncoding.EncodeToString(b), true
	case "password":
		return g.f.Password(true, true, true, false, false, 12), true
	}
	return "", false
}

// bounds returns the inclusive range of a number schema, with exclusive
// bounds moved inwards by step.
func bounds(s *openapi3.Schema, step, defMin, defMax float64) (lo, hi float64) {
	lo, hi = defMin, defMax
	if s.Min != nil {
		lo = *s.Min
		if s.ExclusiveMin.IsTrue() {
			lo += step
		}
	}
	if s.ExclusiveMin.Value != nil {
		lo = math.Max(lo, *s.ExclusiveMin.Value+step)
	}
	if s.Max != nil {
		hi = *s.Max
		if s.ExclusiveMax.IsTrue() {
			hi -= step
		}
	}
	if s.ExclusiveMax.Value != nil {
		hi = math.Min(hi, *s.ExclusiveMax.Value-step)
	}
	if s.Min == nil && s.ExclusiveMin.Value == nil && hi < lo {
		lo = hi - (defMax - defMin)
	}
	if s.Max == nil && s.ExclusiveMax.Value == nil && hi < lo {
		hi = lo + (defMax - defMin)
	}
	return lo, hi
}

func (g *Generator) integer(s *openapi3.Schema) any {
	limit := float64(1 << 53)
	if s.Format == "int32" {
		limit = math.MaxInt32
	}
	lo, hi := bounds(s, 1, 0, 1000)
	lo, hi = math.Max(math.Ceil(lo), -limit), math.Min(math.Floor(hi), limit)
	if s.MultipleOf != nil && *s.MultipleOf > 0 {
		m := *s.MultipleOf
		first, last := math.Ceil(lo/m), math.Floor(hi/m)
		if last >= first {
			return (first + float64(g.f.IntN(int(math.Min(last-first, 1000))+1))) * m
		}
	}
	if hi < lo {
		return lo
	}
	return lo + float64(g.f.IntN(int(math.Min(hi-lo, 1e9))+1))
}

func (g *Generator) number(s *openapi3.Schema) any {
	if s.MultipleOf != nil && *s.MultipleOf > 0 {
		return g.integer(s)
	}
	lo, hi := bounds(s, 0.01, 0, 1000)
	if hi < lo {
		return lo
	}
	v := lo + g.f.Float64()*(hi-lo)
	r := math.Round(v*100) / 100
	if r >= lo && r <= hi {
		return r
	}
	return v
}

func (g *Generator) array(s *openapi3.Schema, d Direction, depth int) any {
	lo := int(min(s.MinItems, 64))
	hi := lo + 2
	if depth >= maxDepth {
		hi = lo
	}
	if s.MaxItems != nil {
		hi = min(hi, int(*s.MaxItems))
	}
	n := lo
	if hi > lo {
		n += g.f.IntN(hi - lo + 1)
	}
	if n == 0 && lo == 0 && (s.MaxItems == nil || *s.MaxItems > 0) && depth < maxDepth {
		n = 1
	}
	items := &openapi3.Schema{}
	if s.Items != nil && s.Items.Value != nil {
		items = s.Items.Value
	}
	out := make([]any, 0, n)
	seen := map[string]bool{}
	for tries := 0; len(out) < n && tries < n*attempts; tries++ {
		v := g.value(items, d, depth+1)
		if s.UniqueItems {
			b, _ := json.Marshal(v)
			if seen[string(b)] {
				continue
			}
			seen[string(b)] = true
		}
		out = append(out, v)
	}
	return out
}

func (g *Generator) object(s *openapi3.Schema, d Direction, depth int) any {
	out := map[string]any{}
	skip := func(p *openapi3.Schema) bool {
		return p == nil || (d == Response && p.WriteOnly) || (d == Request && p.ReadOnly)
	}
	maxProps := -1
	if s.MaxProps != nil {
		maxProps = int(*s.MaxProps)
	}
	for _, name := range s.Required {
		p := s.Properties[name]
		if p == nil || p.Value == nil {
			if s.AdditionalProperties.Schema != nil && s.AdditionalProperties.Schema.Value != nil {
				out[name] = g.value(s.AdditionalProperties.Schema.Value, d, depth+1)
			} else {
				out[name] = g.f.Word()
			}
			continue
		}
		out[name] = g.value(p.Value, d, depth+1)
	}
	if depth < maxDepth {
		for _, name := range sortedKeys(s.Properties) {
			if _, done := out[name]; done || (maxProps >= 0 && len(out) >= maxProps) {
				continue
			}
			p := s.Properties[name]
			if p == nil || skip(p.Value) {
				continue
			}
			out[name] = g.value(p.Value, d, depth+1)
		}
	}
	extra := int(s.MinProps) - len(out)
	if len(s.Properties) == 0 && s.AdditionalProperties.Schema != nil && depth < maxDepth {
		extra = max(extra, 1)
	}
	if maxProps >= 0 {
		extra = min(extra, maxProps-len(out))
	}
	noExtra := s.AdditionalProperties.Has != nil && !*s.AdditionalProperties.Has
	for i := 0; i < extra && !noExtra; i++ {
		key := fmt.Sprintf("%s%d", strings.ToLower(g.f.Word()), i)
		if s.AdditionalProperties.Schema != nil && s.AdditionalProperties.Schema.Value != nil {
			out[key] = g.value(s.AdditionalProperties.Schema.Value, d, depth+1)
		} else {
			out[key] = g.f.Word()
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// errNoSchema is returned for a media type without a schema and example.
var errNoSchema = errors.New("the media type has neither a schema nor an example")
