package codec_test

import (
	"encoding/json"
	"testing"

	"github.com/keiyaku/keiyaku/runtime/events/codec"
)

// BenchmarkCodec compares the single-object codec with raw twmb/avro (the
// floor: the codec adds a 10-byte header and a fingerprint check) and with
// encoding/json on one realistic event of eleven fields: two uuids, two
// dates, a timestamp, decimal money, an optional note.
//
//	go test -run '^$' -bench BenchmarkCodec ./runtime/events/codec/
func BenchmarkCodec(b *testing.B) {
	s := mustSchema(b, createdV1)
	in := sampleV1()
	c := newSingleObject(b, codec.NewMemoryStore())
	ctx := b.Context()

	soData, err := c.Encode(ctx, nil, s, &in)
	if err != nil {
		b.Fatal(err)
	}
	avroData, err := s.Avro().Encode(&in)
	if err != nil {
		b.Fatal(err)
	}
	jsonData, err := json.Marshal(&in)
	if err != nil {
		b.Fatal(err)
	}

	impls := []struct {
		name   string
		encode func(dst []byte) ([]byte, error)
		decode func(data []byte, out *ReservationCreatedV1) error
		data   []byte
	}{
		{
			name:   "codec",
			encode: func(dst []byte) ([]byte, error) { return c.Encode(ctx, dst, s, &in) },
			decode: func(data []byte, out *ReservationCreatedV1) error { return c.Decode(ctx, data, s, out) },
			data:   soData,
		},
		{
			name:   "avro",
			encode: func(dst []byte) ([]byte, error) { return s.Avro().AppendEncode(dst, &in) },
			decode: func(data []byte, out *ReservationCreatedV1) error { _, err := s.Avro().Decode(data, out); return err },
			data:   avroData,
		},
		{
			name:   "json",
			encode: func([]byte) ([]byte, error) { return json.Marshal(&in) },
			decode: func(data []byte, out *ReservationCreatedV1) error { return json.Unmarshal(data, out) },
			data:   jsonData,
		},
	}
	for _, im := range impls {
		b.Run(im.name+"/encode", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(im.data)))
			buf := make([]byte, 0, 256)
			for b.Loop() {
				if _, err := im.encode(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(im.name+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(im.data)))
			for b.Loop() {
				var out ReservationCreatedV1
				if err := im.decode(im.data, &out); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(im.name+"/roundtrip", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(im.data)))
			buf := make([]byte, 0, 256)
			for b.Loop() {
				data, err := im.encode(buf[:0])
				if err != nil {
					b.Fatal(err)
				}
				var out ReservationCreatedV1
				if err := im.decode(data, &out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
