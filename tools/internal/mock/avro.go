package mock

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// AvroJSON returns a value of the Avro schema avsc (self-contained JSON,
// as avroschema.Record.Schema holds it) in the Avro JSON encoding with bare
// unions — what twmb/avro's Schema.DecodeJSON reads: uuid strings, dates
// as days and timestamps as milliseconds since the epoch, decimals as the
// byte string of their unscaled value, enum symbols, the first non-null
// branch of a union.
func (g *Generator) AvroJSON(avsc string) (any, error) {
	var s any
	if err := json.Unmarshal([]byte(avsc), &s); err != nil {
		return nil, fmt.Errorf("avro schema: %w", err)
	}
	a := &avroGen{g: g, named: map[string]any{}}
	return a.value(s, "", 0)
}

type avroGen struct {
	g     *Generator
	named map[string]any
}

func fullName(name, ns string) string {
	if strings.Contains(name, ".") || ns == "" {
		return name
	}
	return ns + "." + name
}

func (a *avroGen) value(s any, ns string, depth int) (any, error) {
	switch t := s.(type) {
	case string:
		if def, ok := a.named[fullName(t, ns)]; ok {
			return a.value(def, ns, depth+1)
		}
		if def, ok := a.named[t]; ok {
			return a.value(def, ns, depth+1)
		}
		return a.primitive(t, nil)
	case []any: // a union: the first branch that is not null
		for _, b := range t {
			if b != "null" {
				return a.value(b, ns, depth+1)
			}
		}
		return nil, nil
	case map[string]any:
		typ, _ := t["type"].(string)
		if n, _ := t["namespace"].(string); n != "" {
			ns = n
		}
		if name, _ := t["name"].(string); name != "" && (typ == "record" || typ == "error" || typ == "enum" || typ == "fixed") {
			a.named[fullName(name, ns)] = t
		}
		switch typ {
		case "record", "error":
			out := map[string]any{}
			fields, _ := t["fields"].([]any)
			for _, f := range fields {
				fm, _ := f.(map[string]any)
				name, _ := fm["name"].(string)
				if depth > maxDepth {
					if def, ok := fm["default"]; ok {
						out[name] = def
						continue
					}
				}
				v, err := a.value(fm["type"], ns, depth+1)
				if err != nil {
					return nil, fmt.Errorf("field %s: %w", name, err)
				}
				out[name] = v
			}
			return out, nil
		case "enum":
			symbols, _ := t["symbols"].([]any)
			if len(symbols) == 0 {
				return nil, fmt.Errorf("enum %v without symbols", t["name"])
			}
			return symbols[a.g.f.IntN(len(symbols))], nil
		case "fixed":
			size, _ := t["size"].(float64)
			if lt, _ := t["logicalType"].(string); lt == "decimal" {
				return a.decimal(t, int(size))
			}
			return a.bytes(int(size)), nil
		case "array":
			n := 1 + a.g.f.IntN(2)
			if depth > maxDepth {
				n = 0
			}
			out := make([]any, 0, n)
			for range n {
				v, err := a.value(t["items"], ns, depth+1)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
			return out, nil
		case "map":
			out := map[string]any{}
			if depth <= maxDepth {
				v, err := a.value(t["values"], ns, depth+1)
				if err != nil {
					return nil, err
				}
				out[strings.ToLower(a.g.f.Word())] = v
			}
			return out, nil
		default:
			return a.primitive(typ, t)
		}
	}
	return nil, fmt.Errorf("unsupported avro schema %v", s)
}

func (a *avroGen) primitive(typ string, t map[string]any) (any, error) {
	lt := ""
	if t != nil {
		lt, _ = t["logicalType"].(string)
	}
	day := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, a.g.f.IntN(3650))
	switch typ {
	case "null":
		return nil, nil
	case "boolean":
		return a.g.f.Bool(), nil
	case "int":
		switch lt {
		case "date":
			return float64(day.Unix() / 86400), nil
		case "time-millis":
			return float64(a.g.f.IntN(86_400_000)), nil
		}
		return float64(a.g.f.IntN(1000)), nil
	case "long":
		switch lt {
		case "timestamp-millis", "local-timestamp-millis":
			return float64(day.Add(time.Duration(a.g.f.IntN(86400)) * time.Second).UnixMilli()), nil
		case "timestamp-micros", "local-timestamp-micros":
			return float64(day.Add(time.Duration(a.g.f.IntN(86400)) * time.Second).UnixMicro()), nil
		case "time-micros":
			return float64(a.g.f.IntN(86_400_000) * 1000), nil
		}
		return float64(a.g.f.IntN(100000)), nil
	case "float", "double":
		return float64(a.g.f.IntN(100000)) / 100, nil
	case "bytes":
		switch lt {
		case "decimal":
			return a.decimal(t, 0)
		case "big-decimal":
			// The unscaled value as length-prefixed bytes, then the
			// scale, both lengths zig-zag varints (Avro 1.12).
			unscaled := big.NewInt(int64(a.g.f.IntN(1_000_000))).Bytes()
			if len(unscaled) == 0 || unscaled[0]&0x80 != 0 {
				unscaled = append([]byte{0}, unscaled...)
			}
			b := append([]byte{byte(2 * len(unscaled))}, unscaled...)
			return byteString(append(b, 2*2)), nil
		}
		return a.bytes(8), nil
	case "string":
		if lt == "uuid" {
			return a.g.f.UUID(), nil
		}
		return a.g.f.Word(), nil
	}
	return nil, fmt.Errorf("unknown avro type %q", typ)
}

// decimal returns a decimal's unscaled value as an Avro JSON byte string,
// big-endian two's complement, padded to size for a fixed.
func (a *avroGen) decimal(t map[string]any, size int) (any, error) {
	precision, _ := t["precision"].(float64)
	digits := int(min(max(precision, 1), 9))
	limit := 1
	for range digits {
		limit *= 10
	}
	b := big.NewInt(int64(a.g.f.IntN(limit))).Bytes()
	if len(b) == 0 || b[0]&0x80 != 0 {
		b = append([]byte{0}, b...)
	}
	for size > 0 && len(b) < size {
		b = append([]byte{0}, b...)
	}
	return byteString(b), nil
}

func (a *avroGen) bytes(n int) any {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(a.g.f.IntN(256))
	}
	return byteString(b)
}

// byteString is the Avro JSON form of bytes: one code point per byte.
func byteString(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}
