package mock_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/keiyaku/keiyaku/tools/internal/mock"
)

// schemasOf lists every schema of doc a mock or a verifier generates
// from — components, parameters, request and response bodies — by a name
// for messages.
func schemasOf(doc *openapi3.T) map[string]*openapi3.Schema {
	out := map[string]*openapi3.Schema{}
	if doc.Components != nil {
		for name, s := range doc.Components.Schemas {
			if s != nil && s.Value != nil {
				out["#/components/schemas/"+name] = s.Value
			}
		}
	}
	if doc.Paths == nil {
		return out
	}
	for p, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			at := method + " " + p
			for _, ref := range append(slices.Clone(item.Parameters), op.Parameters...) {
				if ref != nil && ref.Value != nil && ref.Value.Schema != nil && ref.Value.Schema.Value != nil {
					out[at+" parameter "+ref.Value.Name] = ref.Value.Schema.Value
				}
			}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for ct, mt := range op.RequestBody.Value.Content {
					if mt.Schema != nil && mt.Schema.Value != nil {
						out[at+" request "+ct] = mt.Schema.Value
					}
				}
			}
			if op.Responses == nil {
				continue
			}
			for code, r := range op.Responses.Map() {
				if r == nil || r.Value == nil {
					continue
				}
				for ct, mt := range r.Value.Content {
					if mt.Schema != nil && mt.Schema.Value != nil {
						out[at+" "+code+" "+ct] = mt.Schema.Value
					}
				}
			}
		}
	}
	return out
}

func loadDoc(t testing.TB, file string) *openapi3.T {
	t.Helper()
	l := openapi3.NewLoader()
	l.IsExternalRefsAllowed = true // the repository's contracts share problem.yaml
	doc, err := l.LoadFromFile(file)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return doc
}

// TestGeneratedDataValidates is the generator's promise, checked on
// contracts it did not shape (the real-world corpus in testdata, and this
// repository's): for every schema, every seed and both directions, with
// and without the schemas' examples, the value generated validates
// against the schema.
func TestGeneratedDataValidates(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/real-world/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	for _, svc := range []string{"member", "room", "reservation", "notification"} {
		files = append(files, filepath.Join("..", "..", "..", "contracts", svc, "v1", "openapi.yaml"))
	}
	checked := 0
	for _, file := range files {
		doc := loadDoc(t, file)
		schemas := schemasOf(doc)
		for _, name := range slices.Sorted(maps.Keys(schemas)) {
			s := schemas[name]
			for seed := range uint64(20) {
				for _, examples := range []bool{false, true} {
					for _, d := range []mock.Direction{mock.Response, mock.Request} {
						v, err := mock.NewGenerator(seed, examples).Value(s, d)
						if err != nil {
							t.Errorf("%s %s seed %d: %v", filepath.Base(file), name, seed, err)
							continue
						}
						opts := []openapi3.SchemaValidationOption{openapi3.VisitAsResponse()}
						if d == mock.Request {
							opts = []openapi3.SchemaValidationOption{openapi3.VisitAsRequest()}
						}
						if err := s.VisitJSON(v, opts...); err != nil {
							t.Errorf("%s %s seed %d: %v does not validate: %v", filepath.Base(file), name, seed, v, err)
						}
						checked++
					}
				}
			}
		}
	}
	t.Logf("%d generated values validated", checked)
}

// TestGeneratedDataIsDeterministic pins down that a seed gives the same
// value every time and another seed (usually) another one.
func TestGeneratedDataIsDeterministic(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t, filepath.Join("..", "..", "..", "contracts", "room", "v1", "openapi.yaml"))
	hold := doc.Components.Schemas["Hold"].Value
	a, err := mock.NewGenerator(7, false).Value(hold, mock.Response)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := mock.NewGenerator(7, false).Value(hold, mock.Response)
	c, _ := mock.NewGenerator(8, false).Value(hold, mock.Response)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("seed 7 twice: %v then %v", a, b)
	}
	if reflect.DeepEqual(a, c) {
		t.Errorf("seeds 7 and 8 gave the same hold %v", a)
	}
}

// TestGeneratorHonoursKeywords checks each keyword on a schema written for
// it: the value validates, and the keyword visibly shaped it.
func TestGeneratorHonoursKeywords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		schema string
		check  func(v any) error
	}{
		{"pattern", `{"type":"string","pattern":"^[A-Z]{3}-[0-9]{4}$"}`, nil},
		{"enum", `{"type":"string","enum":["a","b"]}`, nil},
		{"bounds", `{"type":"integer","minimum":10,"maximum":12,"exclusiveMaximum":true}`, func(v any) error {
			if f := v.(float64); f != 10 && f != 11 {
				return fmt.Errorf("got %v, want 10 or 11", f)
			}
			return nil
		}},
		{"multipleOf", `{"type":"number","minimum":1,"maximum":100,"multipleOf":7}`, nil},
		{"lengths", `{"type":"string","minLength":40,"maxLength":41}`, nil},
		{"formats", `{"type":"object","required":["u","d","t","e"],"properties":{"u":{"type":"string","format":"uuid"},"d":{"type":"string","format":"date"},"t":{"type":"string","format":"date-time"},"e":{"type":"string","format":"email"}}}`, nil},
		{"required only below depth", `{"type":"object","required":["a"],"properties":{"a":{"type":"array","minItems":2,"maxItems":2,"uniqueItems":true,"items":{"type":"boolean"}}}}`, nil},
		{"allOf", `{"allOf":[{"type":"object","required":["a"],"properties":{"a":{"type":"string"}}},{"type":"object","required":["b"],"properties":{"b":{"type":"integer"}}}]}`, nil},
		{"oneOf", `{"oneOf":[{"type":"string","maxLength":2},{"type":"integer","minimum":5}]}`, nil},
		{"readOnly left out of requests", `{"type":"object","properties":{"id":{"type":"string","readOnly":true}},"additionalProperties":false}`, func(v any) error {
			if _, ok := v.(map[string]any)["id"]; ok {
				return fmt.Errorf("request carries readOnly id: %v", v)
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var s openapi3.Schema
			if err := json.Unmarshal([]byte(tt.schema), &s); err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(context.Background()); err != nil {
				t.Fatalf("schema: %v", err)
			}
			for seed := range uint64(50) {
				v, err := mock.NewGenerator(seed, false).Value(&s, mock.Request)
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				if err := s.VisitJSON(v, openapi3.VisitAsRequest(), openapi3.EnableFormatValidation()); err != nil {
					t.Fatalf("seed %d: %v: %v", seed, v, err)
				}
				if tt.check != nil {
					if err := tt.check(v); err != nil {
						t.Fatalf("seed %d: %v", seed, err)
					}
				}
			}
		})
	}
}

// TestGeneratorReportsUnsatisfiable pins down the clear note for a schema
// no value meets.
func TestGeneratorReportsUnsatisfiable(t *testing.T) {
	t.Parallel()
	var s openapi3.Schema
	if err := json.Unmarshal([]byte(`{"type":"integer","minimum":5,"maximum":4}`), &s); err != nil {
		t.Fatal(err)
	}
	_, err := mock.NewGenerator(1, false).Value(&s, mock.Response)
	if err == nil {
		t.Fatal("no error for minimum 5, maximum 4")
	}
	if want := "add an example to the schema"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}
