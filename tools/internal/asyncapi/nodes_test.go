package asyncapi_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
)

// TestJSONSchemaNodes pins what a JSON Schema payload keeps of its $refs,
// though they are inlined: the name of each definition a $ref led to (a
// components schema by its key, a whole file by its name), and where each
// object is written (the line of its first key), by its JSON Pointer — what the generator names Go
// types after and positions notes at.
func TestJSONSchemaNodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("address.json", `{"type": "object", "properties": {"city": {"type": "string"}}}`)
	write("asyncapi.yaml", `asyncapi: 3.0.0
info: {title: T, version: 1.0.0}
channels:
  c:
    address: t.c
    messages:
      Signed:
        payload:
          $ref: '#/components/schemas/UserSignedUp'
      Inline:
        payload:
          type: object
          properties:
            home:
              $ref: './address.json'
      Formatted:
        payload:
          schemaFormat: application/schema+json;version=draft-07
          schema:
            $ref: '#/components/schemas/Alias'
components:
  schemas:
    UserSignedUp:
      type: object
      properties:
        referrer:
          $ref: '#/components/schemas/Named'
        tags:
          type: array
          items: {$ref: '#/components/schemas/Named'}
    Named:
      type: object
      properties:
        name: {type: string}
    Alias:
      $ref: '#/components/schemas/Named'
`)
	doc, err := asyncapi.Load(t.Context(), dir, "asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := doc.Channel("c")
	for _, tc := range []struct {
		msg, ptr, ref string
		line          int
		file          string
	}{
		{"Signed", "", "UserSignedUp", 24, "asyncapi.yaml"},
		{"Signed", "/properties/referrer", "Named", 32, "asyncapi.yaml"},
		{"Signed", "/properties/tags", "", 29, "asyncapi.yaml"},
		{"Signed", "/properties/tags/items", "Named", 32, "asyncapi.yaml"},
		{"Inline", "", "", 12, "asyncapi.yaml"},
		{"Inline", "/properties/home", "address", 1, "address.json"},
		{"Formatted", "", "Named", 32, "asyncapi.yaml"},
	} {
		m := c.Message(tc.msg)
		n, ok := m.Payload.Nodes[tc.ptr]
		if !ok {
			t.Errorf("%s %q: no node", tc.msg, tc.ptr)
			continue
		}
		if n.Ref != tc.ref || n.Line != tc.line || n.File != tc.file {
			t.Errorf("%s %q: %+v, want ref %q at %s:%d", tc.msg, tc.ptr, n, tc.ref, tc.file, tc.line)
		}
	}
	if got := doc.Components.Schemas["Named"].Nodes[""].Ref; got != "Named" {
		t.Errorf("components schema Named is named %q", got)
	}
}
