package events

import (
	"context"
	"errors"
	"fmt"

	"github.com/keiyaku/keiyaku/runtime/events/codec"
)

// EncodeKey returns the Kafka record key of an Avro record key: v written
// with s by p's codec, in the wire format of a value — single-object
// encoding (C3 01, the CRC-64-AVRO fingerprint of s, the binary body; s is
// put in the schema store first) or, with a Schema Registry, Confluent
// framing (00, the 4-byte id of s registered under subject, the key
// subject: generated publishers pass their event type's KeySubject, the
// one the breaking gate checks, e.g. "<topic>-key"; an empty subject means
// the codec's strategy, by default [codec.RecordNameStrategy], the key
// record's full name). So a key carries its schema as a value does, and a
// reader of the key resolves a compatible older or newer version of it
// ([Envelope.DecodeKey]). Generated publishers of messages whose Kafka key
// schema is an Avro record call it. It may do I/O on the first use of s
// under subject.
func EncodeKey(ctx context.Context, p *Producer, s *codec.Schema, subject string, v any) (string, error) {
	if p == nil {
		return "", errors.New("encode key: nil producer")
	}
	if s == nil {
		return "", errors.New("encode key: nil schema")
	}
	out, err := codec.EncodeSubject(ctx, p.codec, nil, s, subject, v)
	if err != nil {
		return "", fmt.Errorf("encode key %s: %w", s.FullName(), err)
	}
	return string(out), nil
}

// DecodeKey reads the record key, an Avro record written by [EncodeKey],
// into out (a non-nil pointer) with the reader schema s, through the codec
// of the [Consumer] that delivered the envelope: a key written with another
// compatible version of its schema resolves as a value does. Errors wrap
// the codec's ([codec.ErrBadHeader] for a key that is not an encoded
// record, [codec.ErrIncompatible], …). An envelope no Consumer delivered
// ([ParseEnvelope]) has no codec and gets an error.
func (e Envelope) DecodeKey(ctx context.Context, s *codec.Schema, out any) error {
	if e.keys == nil {
		return errors.New("decode key: the envelope was not delivered by a Consumer, which holds the codec")
	}
	if err := e.keys.Decode(ctx, e.Key, s, out); err != nil {
		return fmt.Errorf("decode key: %w", err)
	}
	return nil
}
