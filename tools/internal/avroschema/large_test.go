package avroschema_test

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/keiyaku/keiyaku/tools/internal/avroschema"
)

var largeDepth = 4

// largeSchema writes one .avsc of nested records, like apache/avro's
// large_schema.avsc: a tree of records, each with a few documented
// primitive fields and up to fanout nested record fields, depth levels
// deep. It returns the schema and its record count.
func largeSchema(depth, fanout, fields int) (string, int) {
	var b strings.Builder
	n := 0
	var rec func(level int)
	rec = func(level int) {
		n++
		fmt.Fprintf(&b, `{"type":"record","name":"R%d","doc":"Record %d, level %d of a large nested schema.","fields":[`, n, n, level)
		for i := range fields {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"name":"f%d","type":["null","string"],"default":null,"doc":"Field %d: a nullable string with a doc long enough to weigh like a real one."}`, i, i)
		}
		if level < depth {
			for i := range fanout {
				fmt.Fprintf(&b, `,{"name":"child%d","doc":"A nested record.","type":`, i)
				rec(level + 1)
				b.WriteString("}")
			}
		}
		b.WriteString("]}")
	}
	rec(0)
	return b.String(), n
}

// TestLargeSchema pins that a ~400 KB schema of 341 nested records loads,
// each record with its self-contained schema.
func TestLargeSchema(t *testing.T) {
	t.Parallel()
	src, n := largeSchema(largeDepth, 4, 8)
	if n < 300 || len(src) < 350_000 {
		t.Fatalf("synthetic schema has %d records, %d bytes", n, len(src))
	}
	fsys := fstest.MapFS{"avro/Large.avsc": {Data: []byte(src)}}
	set, err := avroschema.LoadFS(t.Context(), fsys, "avro")
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Records) != n {
		t.Fatalf("%d records, want %d", len(set.Records), n)
	}
	for _, r := range set.Records {
		if r.Avro == nil || r.Fingerprint == 0 || !strings.Contains(r.Schema, r.Name[strings.LastIndexByte(r.Name, '.')+1:]) {
			t.Fatalf("record %s not compiled", r.Name)
		}
	}
}

// BenchmarkLargeSchema loads the ~400 KB, 341-record schema of
// TestLargeSchema (issue: the loader re-parsed every subtree, 25–33 s and
// ~3 GB on apache/avro's large_schema.avsc).
func BenchmarkLargeSchema(b *testing.B) {
	src, n := largeSchema(largeDepth, 4, 8)
	fsys := fstest.MapFS{"avro/Large.avsc": {Data: []byte(src)}}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	b.ReportMetric(float64(n), "records")
	for b.Loop() {
		if _, err := avroschema.LoadFS(b.Context(), fsys, "avro"); err != nil {
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
