package avroschema_test

import (
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/keiyaku/keiyaku/tools/internal/avroschema"
)

// largeDir holds R1.avsc, a synthetic 436 KB schema of 341 nested records
// (see its README.md).
const largeDir = "testdata/large"

// TestLargeSchema pins that the 436 KB schema of 341 nested records loads,
// each record with its self-contained schema.
func TestLargeSchema(t *testing.T) {
	t.Parallel()
	set, err := avroschema.LoadFS(t.Context(), os.DirFS("."), largeDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Records) != 341 {
		t.Fatalf("%d records, want 341", len(set.Records))
	}
	for _, r := range set.Records {
		if r.Avro == nil || r.Fingerprint == 0 || !strings.Contains(r.Schema, r.Name[strings.LastIndexByte(r.Name, '.')+1:]) {
			t.Fatalf("record %s not compiled", r.Name)
		}
	}
}

// BenchmarkLargeSchema loads the 436 KB, 341-record schema of
// TestLargeSchema (issue: the loader re-parsed every subtree, 25–33 s and
// ~3 GB on apache/avro's large_schema.avsc).
func BenchmarkLargeSchema(b *testing.B) {
	fsys := os.DirFS(".")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := avroschema.LoadFS(b.Context(), fsys, largeDir); err != nil {
			b.Fatal(err)
		}
	}
}

// TestIdenticalRedefinition pins that a named type defined identically in
// two files (as Java Avro accepts) is one type, and that each record's
// self-contained schema still defines it; a differing redefinition stays
// an error (testdata/bad/duplicate-full-name).
func TestIdenticalRedefinition(t *testing.T) {
	t.Parallel()
	money := `{"type":"record","name":"Money","doc":"Money.","fields":[{"name":"cents","type":"long","doc":"Cents."}]}`
	fsys := fstest.MapFS{
		"avro/A.avsc": {Data: []byte(`{"type":"record","name":"A","namespace":"t.v1","doc":"A.","fields":[{"name":"price","doc":"Price.","type":` + money + `}]}`)},
		"avro/B.avsc": {Data: []byte(`{"type":"record","name":"B","namespace":"t.v1","doc":"B.","fields":[{"name":"cost","doc":"Cost.","type":` + money + `},{"name":"again","doc":"Again.","type":"Money"}]}`)},
	}
	set, err := avroschema.LoadFS(t.Context(), fsys, "avro")
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Records) != 3 {
		t.Fatalf("%d records, want A, B and one Money", len(set.Records))
	}
	a, b := set.Record("t.v1.A"), set.Record("t.v1.B")
	if a.Fields[0].Type != b.Fields[0].Type || b.Fields[1].Type != b.Fields[0].Type {
		t.Error("the two definitions of Money are not one type")
	}
	if !strings.Contains(b.Schema, `"cents"`) {
		t.Errorf("B's schema does not define Money: %s", b.Schema)
	}
}
