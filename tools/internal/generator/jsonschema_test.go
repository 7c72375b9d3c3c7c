package generator

import (
	"go/format"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
)

// TestJSONTypes pins how JSON Schema constructs map to Go: each case is a
// payload schema and snippets its declarations must hold, and the notes
// (parts typed loosely) it must give.
func TestJSONTypes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		schema string
		nodes  map[string]asyncapi.JSONNode
		typ    string   // the payload's Go type
		want   []string // snippets of the declarations, gofmt'ed
		notes  []string
	}{
		{
			name:   "required and optional",
			schema: `{"type":"object","required":["id","n"],"properties":{"id":{"type":"string"},"n":{"type":"integer","format":"int32"},"f":{"type":"number","format":"float"},"x":{"type":"number"},"ok":{"type":"boolean"}}}`,
			typ:    "Evt",
			want:   []string{"ID string `json:\"id\"`", "N int32 `json:\"n\"`", "F *float32 `json:\"f,omitempty\"`", "X *float64 `json:\"x,omitempty\"`", "Ok *bool `json:\"ok,omitempty\"`"},
		},
		{
			name:   "nullable required, type arrays and anyOf with null",
			schema: `{"type":"object","required":["a","b","c"],"properties":{"a":{"type":["string","null"]},"b":{"anyOf":[{"type":"integer"},{"type":"null"}]},"c":{"type":["string","integer"]}}}`,
			typ:    "Evt",
			want:   []string{"A *string `json:\"a\"`", "B *int64 `json:\"b\"`", "C any `json:\"c\"`"},
		},
		{
			name:   "nested objects, arrays, maps and enums named by place",
			schema: `{"type":"object","properties":{"owner":{"type":"object","properties":{"kind":{"enum":["a-b","A_B",null]}}},"items":{"type":"array","items":{"type":"object","properties":{"v":{}}}},"scores":{"type":"object","additionalProperties":{"type":"integer"}},"bag":{"type":"object"}}}`,
			typ:    "Evt",
			want: []string{
				"Owner *EvtOwner `json:\"owner,omitempty\"`", "type EvtOwner struct", "Kind *EvtOwnerKind `json:\"kind,omitempty\"`",
				"type EvtOwnerKind string", `EvtOwnerKindAB  EvtOwnerKind = "a-b"`, `EvtOwnerKindAB2 EvtOwnerKind = "A_B"`,
				"Items []EvtItemsItem `json:\"items,omitempty\"`", "type EvtItemsItem struct", "V any `json:\"v,omitempty\"`",
				"Scores map[string]int64 `json:\"scores,omitempty\"`", "Bag map[string]any `json:\"bag,omitempty\"`",
			},
		},
		{
			name:   "a $ref names its type, and a different schema of that name is numbered",
			schema: `{"type":"object","properties":{"a":{"type":"object","properties":{"x":{"type":"string"}}},"b":{"type":"object","properties":{"y":{"type":"string"}}}}}`,
			nodes:  map[string]asyncapi.JSONNode{"": {Ref: "Top"}, "/properties/a": {Ref: "Thing"}, "/properties/b": {Ref: "Thing"}},
			typ:    "Top",
			want:   []string{"A *Thing `json:\"a,omitempty\"`", "B *Thing2 `json:\"b,omitempty\"`", "type Thing struct", "type Thing2 struct", "Thing is the JSON Schema object Thing."},
		},
		{
			name:   "date-time, and dates stay strings",
			schema: `{"type":"object","required":["at"],"properties":{"at":{"type":"string","format":"date-time"},"day":{"type":"string","format":"date"}}}`,
			typ:    "Evt",
			want:   []string{"At time.Time `json:\"at\"`", "Day *string `json:\"day,omitempty\"`"},
		},
		{
			name:   "allOf of objects is one struct",
			schema: `{"allOf":[{"type":"object","required":["a"],"properties":{"a":{"type":"string"}}},{"properties":{"b":{"type":"string"}}}],"properties":{"c":{"type":"integer"}}}`,
			typ:    "Evt",
			want:   []string{"A string `json:\"a\"`", "B *string `json:\"b,omitempty\"`", "C *int64 `json:\"c,omitempty\"`"},
		},
		{
			name:   "oneOf of schemas is raw, oneOf of constraints is ignored",
			schema: `{"type":"object","oneOf":[{"required":["a"]},{"required":["b"]}],"properties":{"a":{"type":"string"},"b":{"type":"string"},"u":{"oneOf":[{"type":"string"},{"type":"integer"}]}}}`,
			typ:    "Evt",
			want:   []string{"type Evt struct", "U json.RawMessage `json:\"u,omitempty\"`"},
			notes:  []string{"payload at /properties/u: oneOf of 2 schemas"},
		},
		{
			name:   "property names that are not Go names, and ones json cannot tag",
			schema: `{"type":"object","properties":{"user-id":{"type":"string"},"user_id":{"type":"string"},"@type":{"type":"string"},"2fa":{"type":"boolean"},"a\"b":{"type":"string"},"Deprecated":{"type":"boolean","description":"old"}}}`,
			typ:    "Evt",
			want:   []string{"Type *string `json:\"@type,omitempty\"`", "X2fa *bool `json:\"2fa,omitempty\"`", "UserID *string `json:\"user-id,omitempty\"`", "UserID2 *string `json:\"user_id,omitempty\"`", "// Deprecated holds: old"},
			notes:  []string{`property "a\"b" cannot be named in a json struct tag`},
		},
		{
			name:   "a payload that is not an object is an alias",
			schema: `{"type":"array","items":{"type":"string","format":"date-time"}}`,
			typ:    "Evt",
			want:   []string{"type Evt = []time.Time"},
		},
		{
			name:   "a payload that is an enum",
			schema: `{"type":"string","enum":["on","off"]}`,
			typ:    "Evt",
			want:   []string{"type Evt string", `EvtOn  Evt = "on"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			msg := &asyncapi.Message{Name: "evt", Payload: &asyncapi.Schema{JSON: []byte(tc.schema), Nodes: tc.nodes}}
			jt := newJSONTypes(map[string]bool{})
			typ, err := jt.payload(msg)
			if err != nil {
				t.Fatal(err)
			}
			if typ != tc.typ {
				t.Errorf("payload type %s, want %s", typ, tc.typ)
			}
			src, err := format.Source(append([]byte("package p\n\n"), jt.code()...))
			if err != nil {
				t.Fatalf("%v\n%s", err, jt.code())
			}
			for _, w := range tc.want {
				if !strings.Contains(string(src), w) {
					t.Errorf("no %q in\n%s", w, src)
				}
			}
			if len(jt.notes) != len(tc.notes) {
				t.Fatalf("notes %+v, want %q", jt.notes, tc.notes)
			}
			for i, n := range tc.notes {
				if got := jt.notes[i].What + ": " + jt.notes[i].Why; !strings.Contains(got, n) {
					t.Errorf("note %q, want it to contain %q", got, n)
				}
			}
		})
	}
}

// TestJSONTypesAvoidTaken pins that a JSON type takes no name the
// package's other code declares (the OpenAPI types, the generated
// Publisher): it is numbered instead.
func TestJSONTypesAvoidTaken(t *testing.T) {
	t.Parallel()
	jt := newJSONTypes(map[string]bool{"Publisher": true})
	msg := &asyncapi.Message{Name: "publisher", Payload: &asyncapi.Schema{JSON: []byte(`{"type":"object","properties":{"a":{"type":"string"}}}`)}}
	if typ, err := jt.payload(msg); err != nil || typ != "Publisher2" {
		t.Errorf("payload type %q, %v; want Publisher2", typ, err)
	}
}
