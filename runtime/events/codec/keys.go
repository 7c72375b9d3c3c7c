package codec

import (
	"encoding/binary"
)

// Int32Key returns the Kafka record key of an int key as Kafka's
// IntegerSerializer writes it: 4 bytes, big-endian. Generated publishers
// of messages whose Kafka key schema is an int use it.
func Int32Key(v int32) string {
	return string(binary.BigEndian.AppendUint32(nil, uint32(v)))
}

// Int64Key returns the Kafka record key of a long key as Kafka's
// LongSerializer writes it: 8 bytes, big-endian. Generated publishers of
// messages whose Kafka key schema is a long use it.
func Int64Key(v int64) string {
	return string(binary.BigEndian.AppendUint64(nil, uint64(v)))
}
