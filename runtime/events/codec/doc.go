// Package codec writes and reads event values as Avro binary behind a schema
// header, the value format of every Keiyaku Kafka record.
//
// Two Avro wire formats are supported, both implementing [Codec]:
//
//   - [SingleObject] (the default): Avro single-object encoding, the bytes
//     C3 01, the 8-byte little-endian CRC-64-AVRO fingerprint of the writer
//     schema's Parsing Canonical Form, then the Avro binary body.
//   - [Confluent] (when a Schema Registry is configured): the byte 00, the
//     4-byte big-endian registry schema id, then the Avro binary body. The
//     writer schema is registered under the subject the producer gives
//     ([EncodeSubject]: a generated event type's Subject or KeySubject, the
//     subject the breaking gate checks), else under the one
//     [WithSubjectNameStrategy] names (default [RecordNameStrategy]).
//
// [JSON], the third implementation, writes the JSON of a value with no
// header: the values of events whose contract describes their payload with
// a JSON Schema. It needs no schema and no store.
//
// # Schema evolution without redeploying
//
// A consumer is built against one version of a schema (the reader schema,
// [Schema] in generated code). Records may carry data written with a newer
// or older version (the writer schema). Decode finds the writer schema from
// the header, resolves it against the reader with Avro schema resolution
// ([avro.Resolve]: reader-only fields take their defaults, writer-only fields
// are skipped, types are promoted), caches the resolved pair, and decodes.
// A writer that the reader cannot resolve is reported as [ErrIncompatible].
//
// With a registry, the registry supplies the writer schema by id. Without
// one, a [SchemaStore] makes writer schemas findable by fingerprint: a
// producer Puts its writer schema before the first record that uses it
// ([SingleObject.Encode] does this once per schema and process), and a
// consumer Gets it on the first record carrying an unknown fingerprint. In
// production the store is a [TopicStore]: a compacted Kafka topic
// (default "_keiyaku_schemas") keyed by the 16-hex-digit fingerprint whose
// values are the schema JSON. Because the producer's Put is acknowledged by
// all in-sync replicas before the record that uses the schema is produced,
// every consumer that sees such a record finds its schema in the topic.
// [MemoryStore] serves tests and single-process setups.
//
// Fingerprints hash the Parsing Canonical Form, which drops logical types,
// defaults and docs. Two schemas that differ only there share a fingerprint,
// so a writer that changes, say, a decimal's scale without any other change
// is decoded as if it were the reader. The breaking-change gate must reject
// such changes; the codec cannot see them.
//
// # Hostile input
//
// Decode never panics and never allocates in proportion to a length the
// input claims rather than carries: twmb/avro bounds every string, bytes,
// array and map length by the bytes that remain. Every decode failure is
// reported with one of [ErrBadHeader] (wrong magic byte, truncated header),
// [ErrUnknownSchema] (fingerprint or id not found), [ErrIncompatible] or
// [ErrMalformed] (a body that is truncated, out of range, or followed by
// trailing bytes), so callers can route poison records with [errors.Is].
//
// # Go types for logical types
//
// Generated code and hand-written event structs use these Go types, which
// round-trip exactly through twmb/avro:
//
//	uuid (string)          string ("8a1c…-…", lower case as written)
//	date (int)             time.Time (UTC midnight; the time of day is dropped)
//	timestamp-millis       time.Time (UTC; sub-millisecond precision is dropped)
//	timestamp-micros       time.Time (UTC; sub-microsecond precision is dropped)
//	decimal (bytes/fixed)  *big.Rat (exact; a value with more fractional digits
//	                       than the scale is an encode error, never rounded)
//	["null", T]            *T (nil is null)
//
// Money is a decimal with precision 12 and scale 2 held in a *big.Rat; a
// float64 field would round.
package codec
