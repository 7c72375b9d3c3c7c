package generator

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"testing"
)

// kindsGolden is the package holding the golden output of testdata/kinds:
// a real package of this module, so that `go build` and the round-trip
// test compile the generated code.
const kindsGolden = "internal/kindsv1"

// TestKindsGolden pins the events code of testdata/kinds, a document with
// every Kafka key kind (a payload field, a string, an int, a long, none),
// Avro payloads inline, in a .json file outside the avro folder and in the
// avro folder (with a top-level enum and a recursive record), traits,
// correlationId, reply, security and a skipped MQTT channel with
// parameters. The output lives in internal/kindsv1, which the module
// builds; -update rewrites it.
func TestKindsGolden(t *testing.T) {
	t.Parallel()
	cfg := loadWS(t, "testdata/kinds")
	files, err := Generate(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("%d files generated, want avro and events", len(files))
	}
	for _, f := range files {
		golden := filepath.Join(kindsGolden, path.Base(f.Path))
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
}
