package codec_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/keiyaku/keiyaku/runtime/events/codec"
)

// classified reports whether err is one of the decode error classes the
// Codec documents.
func classified(err error) bool {
	return errors.Is(err, codec.ErrBadHeader) || errors.Is(err, codec.ErrUnknownSchema) ||
		errors.Is(err, codec.ErrIncompatible) || errors.Is(err, codec.ErrMalformed)
}

// fuzzTarget is a reader schema and a fresh Go value to decode into.
type fuzzTarget struct {
	schema *codec.Schema
	out    func() any
}

// fuzzSetup encodes valid values of every fixture schema with producer and
// returns them as seeds, with the hostile table under the first header.
func fuzzSetup(f *testing.F, producer codec.Codec, m mode) []fuzzTarget {
	v1, v2 := mustSchema(f, createdV1), mustSchema(f, createdV2)
	guests, pr := mustSchema(f, createdGuestsString), mustSchema(f, probe)
	sample := sampleV1()
	for _, tc := range []struct {
		s *codec.Schema
		v any
	}{
		{v1, &sample},
		{v2, &ReservationCreatedV2{ReservationCreatedV1: sample, Channel: "app", Coupon: ptr("X")}},
		{guests, map[string]any{"reservation_id": "r", "member_id": "m", "room_id": "", "hotel_code": "",
			"check_in": 1, "check_out": 2, "guests": "two", "total": "1.00", "currency": "", "created_at": 0}},
		{pr, &Probe{S: "s", A: []int64{1, -2}, M: map[string]string{"k": "v"}, U: ptr("u"), N: []any{nil, nil}}},
	} {
		data, err := producer.Encode(f.Context(), nil, tc.s, tc.v)
		if err != nil {
			f.Fatalf("Encode seed: %v", err)
		}
		f.Add(data)
	}
	header := probeHeader(f, producer, pr)
	for _, tc := range hostileCases() {
		f.Add(cat(tc.header(m, header), tc.body))
	}
	return []fuzzTarget{
		{v1, func() any { return new(ReservationCreatedV1) }},
		{v2, func() any { return new(ReservationCreatedV2) }},
		{pr, func() any { return new(Probe) }},
	}
}

// fuzzDecode is the property both fuzz targets check: Decode never panics;
// every failure carries a documented error class; and a value that decodes
// re-encodes to bytes that decode and re-encode to the same bytes.
func fuzzDecode(t *testing.T, c codec.Codec, targets []fuzzTarget, data []byte) {
	ctx := t.Context()
	for _, tg := range targets {
		out := tg.out()
		err := c.Decode(ctx, data, tg.schema, out)
		if err != nil {
			if !classified(err) && !errors.Is(err, context.Canceled) {
				t.Fatalf("Decode(% x) into %s: unclassified error %v", data, tg.schema.FullName(), err)
			}
			continue
		}
		enc1, err := c.Encode(ctx, nil, tg.schema, out)
		if err != nil {
			// The decoder is lenient where the encoder is strict (say, a
			// decimal with more digits than its precision): not a defect.
			continue
		}
		again := tg.out()
		if err := c.Decode(ctx, enc1, tg.schema, again); err != nil {
			t.Fatalf("re-encoded value % x does not decode: %v", enc1, err)
		}
		enc2, err := c.Encode(ctx, nil, tg.schema, again)
		if err != nil || !bytes.Equal(enc1, enc2) {
			t.Fatalf("encoding is not stable: % x then % x (%v)", enc1, enc2, err)
		}
	}
}

// FuzzDecodeSingleObject pins hostile-input safety of the registry-free
// codec (run: go test -fuzz=FuzzDecodeSingleObject -fuzztime=30s).
func FuzzDecodeSingleObject(f *testing.F) {
	c := newSingleObject(f, codec.NewMemoryStore())
	targets := fuzzSetup(f, c, modes()[0])
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, c, targets, data) })
}

// FuzzDecodeConfluent pins hostile-input safety of the registry codec
// against a loopback registry (run: go test -fuzz=FuzzDecodeConfluent
// -fuzztime=30s).
func FuzzDecodeConfluent(f *testing.F) {
	c := newConfluent(f, newRegistry(f).URL())
	targets := fuzzSetup(f, c, modes()[1])
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, c, targets, data) })
}
