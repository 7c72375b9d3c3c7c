package generator

import (
	"strings"
	"testing"
)

// jsonGolden is the package holding the golden output of
// testdata/jsonpayload: a real package of this module, so that `go build`
// and the round-trip test compile the generated code.
const jsonGolden = "internal/jsonv1"

// TestJSONPayloadGolden pins the events code of testdata/jsonpayload, a
// JSON-only Kafka document: JSON Schema payloads (required and optional
// properties, arrays, string enums, nested objects, $refs to components
// and to a file, date-time, allOf, oneOf, additionalProperties, a string
// payload) with every kind of Kafka key (a payload property, a header, a
// string, an int, an Avro record, none). The output lives in
// internal/jsonv1, which the module builds; -update rewrites it.
func TestJSONPayloadGolden(t *testing.T) {
	t.Parallel()
	files := goldenPackage(t, "testdata/jsonpayload", jsonGolden)
	// The oneOf is the one part not typed, and lint is told so.
	var notes []string
	for _, f := range files {
		for _, s := range f.Skipped {
			notes = append(notes, s.What+": "+s.Why)
		}
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "message AuditEntry: payload at /properties/detail") || !strings.Contains(notes[0], "oneOf of 2 schemas: generated as json.RawMessage") {
		t.Errorf("notes %q, want one for the oneOf of AuditEntry", notes)
	}
}
