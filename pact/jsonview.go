package pact

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/twmb/avro"
)

// maxViewDepth bounds the nesting JSONView follows, so that a hostile
// schema cannot exhaust the stack.
const maxViewDepth = 64

// JSONView returns the JSON view of v, a value of the Avro schema s: Avro's
// JSON encoding (bare unions, dates as days, timestamps as milliseconds)
// except that a decimal is a JSON number with exactly its scale's digits
// after the point (36000.00) instead of a string of raw bytes, so that a
// pact is readable and its matchers can type it. The view decodes back
// with s.DecodeJSON. It returns an error when v does not fit s.
func JSONView(s *avro.Schema, v any) ([]byte, error) {
	if s == nil {
		return nil, errors.New("json view: nil schema")
	}
	raw, err := s.EncodeJSON(v)
	if err != nil {
		return nil, fmt.Errorf("json view: %w", err)
	}
	var schema any
	if err := json.Unmarshal([]byte(s.String()), &schema); err != nil {
		return nil, fmt.Errorf("json view: schema: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var val any
	if err := dec.Decode(&val); err != nil {
		return nil, fmt.Errorf("json view: %w", err)
	}
	val, err = decimals(schema, val, map[string]any{}, 0)
	if err != nil {
		return nil, fmt.Errorf("json view: %w", err)
	}
	return json.Marshal(val)
}

// decimals rewrites the decimals of val, an Avro JSON value of schema, as
// JSON numbers. named collects the named types seen, for references.
func decimals(schema, val any, named map[string]any, depth int) (any, error) {
	if depth > maxViewDepth {
		return nil, fmt.Errorf("schema nested deeper than %d", maxViewDepth)
	}
	switch sc := schema.(type) {
	case string:
		if t, ok := named[sc]; ok {
			return decimals(t, val, named, depth+1)
		}
		return val, nil
	case []any: // a union: bare values; a record branch is the only one with fields
		for _, branch := range sc {
			if m, ok := val.(map[string]any); ok && isRecord(branch, named) {
				return decimals(branch, m, named, depth+1)
			}
		}
		return val, nil
	case map[string]any:
		if name, ok := sc["name"].(string); ok {
			named[name] = sc
			if ns, ok := sc["namespace"].(string); ok {
				named[ns+"."+name] = sc
			}
		}
		switch sc["type"] {
		case "record":
			m, ok := val.(map[string]any)
			if !ok {
				return val, nil
			}
			fields, _ := sc["fields"].([]any)
			for _, f := range fields {
				fm, _ := f.(map[string]any)
				name, _ := fm["name"].(string)
				if fv, ok := m[name]; ok {
					nv, err := decimals(fm["type"], fv, named, depth+1)
					if err != nil {
						return nil, err
					}
					m[name] = nv
				}
			}
			return m, nil
		case "array":
			a, ok := val.([]any)
			if !ok {
				return val, nil
			}
			for i := range a {
				nv, err := decimals(sc["items"], a[i], named, depth+1)
				if err != nil {
					return nil, err
				}
				a[i] = nv
			}
			return a, nil
		case "map":
			m, ok := val.(map[string]any)
			if !ok {
				return val, nil
			}
			for k := range m {
				nv, err := decimals(sc["values"], m[k], named, depth+1)
				if err != nil {
					return nil, err
				}
				m[k] = nv
			}
			return m, nil
		case "bytes", "fixed":
			if sc["logicalType"] != "decimal" {
				return val, nil
			}
			s, ok := val.(string)
			if !ok {
				return val, nil
			}
			scale, _ := sc["scale"].(float64)
			return decimalNumber(s, int(scale))
		default:
			if inner, ok := sc["type"].(map[string]any); ok {
				return decimals(inner, val, named, depth+1)
			}
		}
	}
	return val, nil
}

func isRecord(schema any, named map[string]any) bool {
	if s, ok := schema.(string); ok {
		schema = named[s]
	}
	m, ok := schema.(map[string]any)
	return ok && m["type"] == "record"
}

// decimalNumber turns the Avro JSON form of a decimal (each byte of the
// two's-complement big-endian unscaled value as one code point) into a
// JSON number with scale digits after the point.
func decimalNumber(s string, scale int) (json.Number, error) {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return "", fmt.Errorf("decimal %q: code point %U is no byte", s, r)
		}
		b = append(b, byte(r))
	}
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 { // negative: subtract 2^(8·len)
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	r := new(big.Rat).SetFrac(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil))
	return json.Number(r.FloatString(scale)), nil
}
