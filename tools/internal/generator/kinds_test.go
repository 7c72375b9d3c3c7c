package generator

import (
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
	goldenPackage(t, "testdata/kinds", kindsGolden)
}
