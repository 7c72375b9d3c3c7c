package codec_test

import (
	"errors"
	"testing"

	"github.com/keiyaku/keiyaku/runtime/events/codec"
)

// TestJSON pins the JSON codec: Encode appends the JSON of the value to
// dst; Decode reads it back, drops fields the type does not declare (a
// newer writer), and reports input it cannot read as ErrMalformed, but a
// caller's mistake (out not a pointer) as something else.
func TestJSON(t *testing.T) {
	t.Parallel()
	type event struct {
		ID    string `json:"id"`
		Count *int   `json:"count,omitempty"`
	}
	ctx := t.Context()
	var c codec.JSON
	out, err := c.Encode(ctx, []byte("key|"), nil, &event{ID: "a"})
	if err != nil || string(out) != `key|{"id":"a"}` {
		t.Fatalf("Encode = %q, %v; want the JSON appended to dst", out, err)
	}
	if _, err := c.Encode(ctx, nil, nil, func() {}); err == nil {
		t.Errorf("Encode of a func: nil error")
	}
	var got event
	if err := c.Decode(ctx, []byte(`{"id":"b","count":2,"added":"later"}`), nil, &got); err != nil || got.ID != "b" || *got.Count != 2 {
		t.Fatalf("Decode = %+v, %v", got, err)
	}
	for _, bad := range []string{``, `{"id":`, `{"id":1}`, `{"id":"x"} {}`, `[1]`} {
		if err := c.Decode(ctx, []byte(bad), nil, &got); !errors.Is(err, codec.ErrMalformed) {
			t.Errorf("Decode(%q) = %v, want ErrMalformed", bad, err)
		}
	}
	if err := c.Decode(ctx, []byte(`{}`), nil, got); err == nil || errors.Is(err, codec.ErrMalformed) {
		t.Errorf("Decode into a non-pointer = %v, want an error that is not ErrMalformed", err)
	}
	if ds, err := c.DataSchema(ctx, nil); ds != "" || err != nil {
		t.Errorf("DataSchema = %q, %v; want none", ds, err)
	}
}
