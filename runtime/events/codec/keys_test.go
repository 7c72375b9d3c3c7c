package codec_test

import (
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
