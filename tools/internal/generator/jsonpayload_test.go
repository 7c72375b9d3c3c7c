package generator

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
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
	cfg := loadWS(t, "testdata/jsonpayload")
	files, err := Generate(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("%d files generated, want avro (the record key) and events", len(files))
	}
	for _, f := range files {
		golden := filepath.Join(jsonGolden, path.Base(f.Path))
		if *update {
			if err := os.WriteFile(golden, f.Content, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if !bytes.Equal(want, f.Content) {
			t.Errorf("%s differs from %s; run go test -update and review the diff", f.Path, golden)
		}
	}
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
