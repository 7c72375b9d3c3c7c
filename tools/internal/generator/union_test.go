package generator

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/keiyaku/keiyaku/tools/internal/avroschema"
	"github.com/keiyaku/keiyaku/tools/internal/config"
)

// TestUnionNames names a sum type after its record and field, and numbers
// it when that name is a record's (or an OpenAPI type's) already.
func TestUnionNames(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{"avro/Thing.avsc": {Data: []byte(`{"type": "record", "name": "Thing", "namespace": "example.u.v1", "fields": [
		{"name": "value", "type": ["null", "string", {"type": "record", "name": "ThingValue", "fields": [{"name": "a", "type": "int"}]}]},
		{"name": "other", "type": ["int", "string"]}]}`)}}
	set, err := avroschema.LoadFS(t.Context(), fsys, "avro")
	if err != nil {
		t.Fatal(err)
	}
	src, err := generateAvro(set, config.Module{Path: "contracts/u/v1"}, namer{"ThingOther": true})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"type ThingValue struct", "type ThingValue2 struct", "type ThingOther2 struct", "func (u ThingValue2) AsThingValue() (ThingValue, bool)", "func (r *Thing) AvroNatural()"} {
		if !strings.Contains(string(src), want) {
			t.Errorf("no %q in\n%s", want, src)
		}
	}
}
