// Package avrocompat checks a new version of an Avro schema against the
// versions before it, with the compatibility modes and the finding types
// of Confluent Schema Registry. It is the Avro half of "keiyaku breaking":
// a pure library that neither reads files nor talks to a registry.
//
// # Modes
//
// A schema evolves as a list of versions. Data written with one version
// is read with another, and the Avro "Schema Resolution" rules decide
// whether a reader schema can read what a writer schema wrote. A mode says
// which pairs must resolve when version n+1 arrives:
//
//   - BACKWARD: n+1 reads data written with n. Deploy consumers first.
//   - FORWARD: n reads data written with n+1. Deploy producers first.
//   - FULL: both.
//   - BACKWARD_TRANSITIVE, FORWARD_TRANSITIVE, FULL_TRANSITIVE: the same
//     against every earlier version, not only n.
//   - NONE: nothing is checked.
//
// Compatibility is not transitive, so the plain modes can let history
// drift: add a field with a default in v2 and drop the default in v3, and
// each step passes BACKWARD while v3 can no longer read what v1 wrote.
//
// FULL_TRANSITIVE is the sensible default for event streams. Producers and
// consumers deploy independently, so for a while old consumers read new
// events and new consumers read old ones: both directions must hold. And
// a topic keeps its history: a consumer that replays from the start of the
// topic, or a new one that joins, reads records written with every version
// ever used, so each direction must hold against all of them.
//
// # Findings
//
// [Check] walks each reader/writer pair completely and reports every
// problem, not only the first, as an [Incompatibility] with the registry's
// type name (READER_FIELD_MISSING_DEFAULT_VALUE, TYPE_MISMATCH,
// NAME_MISMATCH, MISSING_ENUM_SYMBOLS, MISSING_UNION_BRANCH,
// FIXED_SIZE_MISMATCH), a JSON pointer into the reader schema in the
// registry's format ("/fields/3/type/symbols"), and a message that says
// how to fix it.
//
// The verdict, compatible or not, is the one github.com/twmb/avro's
// CheckCompatibility and Resolve give for each pair; the tests hold the
// two to that. Where the registry and twmb/avro differ, Check follows
// twmb/avro, which decodes the data in our runtime: a changed decimal
// precision or scale is a TYPE_MISMATCH; a writer type is matched to one
// reader union branch, by full name, then short name, then promotion,
// and a problem inside that branch is reported where it is rather than as
// a MISSING_UNION_BRANCH of the whole union.
package avrocompat
