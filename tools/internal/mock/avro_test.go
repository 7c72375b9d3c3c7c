package mock_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/avro"

	"github.com/keiyaku/keiyaku/tools/internal/mock"
)

// TestAvroJSONEncodes is the event generator's promise on schemas it did
// not shape (the Apache Avro test schemas in testdata) and on this
// repository's: for every seed, the generated value is read by
// twmb/avro's DecodeJSON and encodes to Avro binary with the schema —
// what the mock's publisher does with it.
func TestAvroJSONEncodes(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/real-world-avro/*.avsc")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	checked := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		schema, err := avro.Parse(string(data))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for seed := range uint64(20) {
			v, err := mock.NewGenerator(seed, false).AvroJSON(string(data))
			if err != nil {
				t.Errorf("%s seed %d: %v", filepath.Base(file), seed, err)
				continue
			}
			raw, _ := json.Marshal(v)
			var native any
			if err := schema.DecodeJSON(raw, &native); err != nil {
				t.Errorf("%s seed %d: %s does not decode: %v", filepath.Base(file), seed, raw, err)
				continue
			}
			if _, err := schema.Encode(native); err != nil {
				t.Errorf("%s seed %d: %s does not encode: %v", filepath.Base(file), seed, raw, err)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("nothing checked")
	}
	t.Logf("%d generated values encoded", checked)
}
