package codec_test

import (
	"encoding/binary"
	"testing"

	"github.com/keiyaku/keiyaku/runtime/events/codec"
)

// TestIntKeys pins the key bytes of int and long keys to those of Kafka's
// IntegerSerializer and LongSerializer (big-endian, two's complement), so
// that a Java consumer reads the same key.
func TestIntKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		got, want string
	}{
		{codec.Int32Key(1), "\x00\x00\x00\x01"},
		{codec.Int32Key(-1), "\xff\xff\xff\xff"},
		{codec.Int32Key(0x01020304), "\x01\x02\x03\x04"},
		{codec.Int64Key(1), "\x00\x00\x00\x00\x00\x00\x00\x01"},
		{codec.Int64Key(-2), "\xff\xff\xff\xff\xff\xff\xff\xfe"},
	} {
		if tc.got != tc.want {
			t.Errorf("key % x, want % x", tc.got, tc.want)
		}
	}
}

// TestRecordKey pins that an Avro record key is single-object encoded with
// its own schema: the header carries the key schema's fingerprint and the
// body decodes back.
func TestRecordKey(t *testing.T) {
	t.Parallel()
	s := codec.MustSchema(`{"type":"record","name":"Key","namespace":"t","fields":[{"name":"id","type":"string"},{"name":"shard","type":"int"}]}`)
	type key struct {
		ID    string `avro:"id"`
		Shard int32  `avro:"shard"`
	}
	k, err := codec.RecordKey(s, &key{ID: "a", Shard: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(k) < 10 || k[0] != 0xc3 || k[1] != 0x01 || binary.LittleEndian.Uint64([]byte(k[2:10])) != s.Fingerprint() {
		t.Fatalf("key % x is not single-object encoded with the key schema", k)
	}
	var back key
	if _, err := s.Avro().Decode([]byte(k[10:]), &back); err != nil || back.ID != "a" || back.Shard != 3 {
		t.Fatalf("decoded %+v, %v", back, err)
	}
	if _, err := codec.RecordKey(nil, &key{}); err == nil {
		t.Error("nil schema accepted")
	}
	if _, err := codec.RecordKey(s, 42); err == nil {
		t.Error("an int accepted as a record key")
	}
}
