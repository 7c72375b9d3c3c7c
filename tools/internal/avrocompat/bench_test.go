package avrocompat_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/avrocompat"
)

// benchVersions builds 5 versions of a record that reaches 30 fields: v1
// has 26 fields of every kind (primitives, unions, an enum, a fixed, arrays
// and maps of records, a nested record), and each later version adds one
// field with a default, so every pair is compatible and each walk covers
// the whole schema.
func benchVersions(b *testing.B) []avrocompat.Version {
	b.Helper()
	type obj = map[string]any
	fld := func(name string, typ any) obj { return obj{"name": name, "type": typ} }
	kinds := []func(i int) any{
		func(int) any { return "int" },
		func(int) any { return "long" },
		func(int) any { return "string" },
		func(int) any { return "double" },
		func(int) any { return "boolean" },
		func(int) any { return "bytes" },
		func(int) any { return []any{"null", "string"} },
		func(i int) any {
			return obj{"type": "enum", "name": fmt.Sprintf("Status%d", i), "symbols": []string{"HELD", "CONFIRMED", "CANCELLED"}}
		},
		func(i int) any { return obj{"type": "fixed", "name": fmt.Sprintf("Token%d", i), "size": 16} },
		func(i int) any {
			return obj{"type": "array", "items": obj{"type": "record", "name": fmt.Sprintf("Line%d", i),
				"fields": []any{fld("sku", "string"), fld("qty", "int")}}}
		},
		func(i int) any {
			return obj{"type": "map", "values": obj{"type": "record", "name": fmt.Sprintf("Rate%d", i),
				"fields": []any{fld("amount", "long"), fld("currency", "string")}}}
		},
		func(i int) any {
			return obj{"type": "record", "name": fmt.Sprintf("Address%d", i),
				"fields": []any{fld("city", "string"), obj{"name": "zip", "type": []any{"null", "string"}, "default": nil}}}
		},
	}
	var fields []any
	for i := range 26 {
		fields = append(fields, fld(fmt.Sprintf("f%d", i), kinds[i%len(kinds)](i)))
	}
	var vs []avrocompat.Version
	for v := 1; v <= 5; v++ {
		if v > 1 {
			fields = append(fields, obj{"name": fmt.Sprintf("added%d", v), "type": "long", "default": 0})
		}
		raw, err := json.Marshal(obj{"type": "record", "name": "Reservation", "namespace": "hotel.v1", "fields": fields})
		if err != nil {
			b.Fatal(err)
		}
		vs = append(vs, avrocompat.Version{Label: fmt.Sprintf("v%d", v), Schema: string(raw)})
	}
	return vs
}

// BenchmarkCheck measures a FULL_TRANSITIVE check of v5 of a 30-field
// record against v1..v4: five parses and eight complete walks.
func BenchmarkCheck(b *testing.B) {
	vs := benchVersions(b)
	found, err := avrocompat.Check(avrocompat.FullTransitive, vs[:4], vs[4])
	if err != nil || len(found) != 0 {
		b.Fatalf("Check = %v, %v; want compatible", found, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := avrocompat.Check(avrocompat.FullTransitive, vs[:4], vs[4]); err != nil {
			b.Fatal(err)
		}
	}
}
