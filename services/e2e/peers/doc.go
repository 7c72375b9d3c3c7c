// Package peers holds conformance tests of Keiyaku's wire formats against
// real tools that Keiyaku did not write, so that "works with clients we
// did not write" is checked in CI rather than by hand:
//
//   - kcat (librdkafka) reads an event the generated publisher wrote to
//     the embedded broker — key, CloudEvents binary headers, traceparent,
//     Avro single-object value — and produces records the generated
//     consumer must accept, or dead-letter without stopping;
//   - promtool checks the Prometheus exposition of every service of the
//     reference system after some traffic;
//   - psql reads, with plain SQL, the transactional outbox and the
//     processed-events table a booking left in PostgreSQL.
//
// The tests build only with the tag "peers" (`make peer-test` installs the
// tools and runs them). Under the tag, a missing tool — or a missing
// KEIYAKU_TEST_POSTGRES_DSN for the psql test — fails the test: a
// conformance check that silently skips checks nothing.
package peers
