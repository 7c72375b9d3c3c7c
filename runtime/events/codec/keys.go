package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
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

// RecordKey returns the Kafka record key of an Avro record key: v written
// with s in Avro single-object encoding (C3 01, the schema's CRC-64-AVRO
// fingerprint, the binary body), so that a reader knows its schema without
// a registry. Generated publishers of messages whose Kafka key schema is
// an Avro record use it.
func RecordKey(s *Schema, v any) (string, error) {
	if s == nil {
		return "", errors.New("record key: nil schema")
	}
	ev, err := encodable(v)
	if err != nil {
		return "", fmt.Errorf("record key %s: %w", s.name, err)
	}
	out, err := s.avro.AppendSingleObject(nil, ev)
	if err != nil {
		return "", fmt.Errorf("record key %s: %w", s.name, err)
	}
	return string(out), nil
}
