package codec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// JSON is the [Codec] of events whose contract describes their payload with
// a JSON Schema: the value is the JSON of the event (encoding/json, the
// struct's json tags), with no schema header. It needs no schema: Encode
// and Decode ignore theirs (generated JSON event types have none, and a
// nil one is fine), and DataSchema returns "". Decode reads fields the
// event type does not declare and drops them, so a reader built against an
// older contract reads the values of a producer that added a field. JSON
// is safe for concurrent use; its zero value is ready.
type JSON struct{}

var _ Codec = JSON{}

// Encode appends the JSON of v to dst.
func (JSON) Encode(_ context.Context, dst []byte, _ *Schema, v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return dst, fmt.Errorf("encode json %T: %w", v, err)
	}
	return append(dst, data...), nil
}

// Decode reads one JSON value, the whole of data, into out, a non-nil
// pointer. Invalid JSON, trailing bytes and a value that does not fit out
// (a string where out has a number) are errors wrapping [ErrMalformed].
func (JSON) Decode(_ context.Context, data []byte, _ *Schema, out any) error {
	if err := json.Unmarshal(data, out); err != nil {
		if _, ok := errors.AsType[*json.InvalidUnmarshalError](err); ok {
			return fmt.Errorf("decode json: out must be a non-nil pointer, not %T", out)
		}
		return fmt.Errorf("decode json %T: %w: %w", out, ErrMalformed, err)
	}
	return nil
}

// DataSchema returns "": a JSON value has no writer schema to point at.
func (JSON) DataSchema(context.Context, *Schema) (string, error) { return "", nil }
