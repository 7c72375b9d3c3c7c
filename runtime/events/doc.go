// Package events publishes and consumes the typed events of Keiyaku
// services on Kafka, with franz-go.
//
// Generated code declares one [Type] per message payload of a service's
// contracts (an Avro record, or a JSON Schema) and thin typed wrappers around [Publish], [NewRecord] and
// [Handle]; services use those. Everything below holds for any Kafka
// protocol broker: Apache Kafka, Redpanda, or the embedded broker of
// package runtime/events/embedded that `make demo` runs.
//
// # Wire format
//
// One event is one Kafka record:
//
//   - key: the aggregate id, from [Type.Key] (e.g. the reservation id).
//     Records with the same key go to the same partition, so their order is
//     kept end to end. A key that is an Avro record is written like a
//     value, with its own schema, by the producer's codec ([EncodeKey]) and
//     read with [Envelope.DecodeKey].
//   - value: Avro binary behind a schema header, written by a
//     [codec.Codec]: single-object encoding (C3 01 + the 8-byte
//     little-endian CRC-64-AVRO fingerprint of the writer schema) by
//     default, or Confluent framing (00 + the 4-byte big-endian schema id)
//     when a Schema Registry is configured.
//   - headers: the CloudEvents 1.0 Kafka protocol binding in binary mode —
//     ce_specversion "1.0", ce_id (a UUIDv7, unique per event: the
//     deduplication key), ce_type (the Avro full name, e.g.
//     "hotel.reservation.v1.ReservationCreated"), ce_source (the producing
//     service, e.g. "/services/reservation"), ce_time (RFC 3339, UTC,
//     milliseconds), content-type "application/avro" and ce_dataschema (the
//     writer schema: "urn:avro:fingerprint:<16 hex>" or the registry URL of
//     the schema id) — plus the W3C trace context, traceparent and
//     tracestate (and baggage if the propagator writes it).
//
// An event type whose [Type.ContentType] is [ContentTypeJSON] (a contract
// whose payload is a JSON Schema) differs in the value and two headers
// only: the value is the JSON of the event ([codec.JSON], encoding/json)
// with no schema header, content-type is "application/json", ce_type is
// the type's Name (the AsyncAPI message name), and there is no
// ce_dataschema. Avro and JSON event types may share a producer, a
// consumer and a topic.
//
// A consumer built against one version of a schema reads records written
// with any version its schema can resolve (Avro schema resolution): adding a
// field with a default does not require redeploying consumers.
//
// # Producing
//
// [Publish] encodes an event, adds the headers, injects the caller's trace
// context (under a "send <topic>" producer span) and waits for the broker:
// a nil error means all in-sync replicas have the record. The client must be
// idempotent with acks=all ([ProducerClientOptions]; [NewProducer] checks),
// so retries inside franz-go neither lose nor duplicate records. A
// transactional outbox uses [NewRecord] to build the record inside the
// database transaction that changes the state, stores it, and hands it to
// [Producer.Send] later; a record sent twice keeps its ce_id, so consumers
// deduplicate it.
//
// # Consuming and delivery guarantees
//
// A [Consumer] reads with a consumer group and hands every event to the
// handler registered for its ce_type. Delivery is at least once:
//
//   - an offset is committed only after its record is finished: handled
//     successfully, copied to the dead-letter topic, or skipped (a type
//     with no handler);
//   - the records of one partition are handled one at a time, in offset
//     order, so the order per key holds; different partitions are handled
//     concurrently ([WithConcurrency], default 8);
//   - rebalances wait until everything queued is finished and committed,
//     so a partition is never handled by two members at once;
//   - on shutdown (Run's context done) the consumer stops polling, lets the
//     handlers in flight finish, commits and leaves the group; after a
//     crash, the records after the last commit are delivered again.
//
// Redelivery makes handlers see an event more than once. With
// [WithIdempotency], each handler call runs through a [Processed] keyed by
// ce_id, which records the id in the same transaction as the handler's
// writes (database-backed implementations pass the transaction in the
// handler's context): a redelivered event then changes nothing — effectively
// once. [NewMemoryProcessed] serves tests and in-memory handlers.
//
// A record that is not an event of this format (a missing or repeated
// CloudEvents attribute, a content type other than Avro or JSON, or not
// the one of its event type) or whose value cannot be decoded (bad header,
// malformed Avro or JSON, a writer schema the reader cannot resolve, a
// writer schema still unknown after 5 tries) is poison: it goes
// to the dead-letter topic at once. An event of a type no handler is
// registered for is committed without a handler call and logged at debug
// level, so an old consumer survives a new event type on its topic.
//
// # Retries and the dead-letter topic
//
// A handler that returns an error (or panics) is called again after an
// exponential backoff with jitter ([WithRetryBackoff], 100ms doubling up to
// 5s) — by default until it succeeds ([WithMaxAttempts] bounds it): a
// database that is down for a minute delays the events, it does not
// dead-letter them. Meanwhile the record's partition is paused and rewound
// to it, nothing after it is committed, the other partitions go on, and
// the group may rebalance (a record waits in place only until the next
// commit window). A handler that knows no retry can help returns
// [Permanent](err); the record then goes to the dead-letter topic at once.
//
// The dead-letter topic is per consumer group — "<topic>.<group>.dlq"
// ([DeadLetterTopic]) unless [WithDeadLetterTopic] says otherwise — so a
// record poison to three groups is not copied three times into one topic.
// The copy keeps the original key, value and headers and adds:
//
//	keiyaku_dlq_error             the last error (at most 1 KiB)
//	keiyaku_dlq_topic             the original topic
//	keiyaku_dlq_partition         the original partition (decimal)
//	keiyaku_dlq_offset            the original offset (decimal)
//	keiyaku_dlq_attempts          handler calls made (1 for a record that could not be read)
//	keiyaku_dlq_group             the consumer group
//	keiyaku_dlq_first_error_time  when the first attempt failed (RFC 3339, UTC)
//
// and the partition moves on. The record keeps its trace context and
// ce_id, so re-driving it to the original topic after a fix ("keiyaku dlq
// replay", or [ParseDeadLetter] and [DeadLetter.Replay]) is safe with an
// idempotent handler.
//
// If the copy to the dead-letter topic fails (the topic was deleted or
// recreated on a cluster that does not create topics on first use, the
// broker is down), the write is retried with the same capped backoff, the
// partition waits with the record uncommitted, and [Consumer.Ready]
// returns an error — for a service's /readyz — until a write succeeds; the
// failure is logged at error level once and counted in
// keiyaku.events.dead_letter_failures. The consumer never stops because of
// a record.
//
// # Group membership
//
// A member that dies without leaving the group (SIGKILL, a lost host)
// keeps its partitions until the session timeout passes: 45s by default in
// franz-go and Kafka. [GroupConfig] sets the session timeout, the
// heartbeat and static membership (group.instance.id) and names the
// client; the reference services use 6s.
//
// # Telemetry
//
// The consumer span ("process <topic>", kind consumer) is a child of the
// trace context in the record's headers, so one trace id runs from the
// request that published the event through every consumer; handlers get
// it in their context. A record carrying traceparent more than once is
// invalid under W3C trace context and starts a new trace. Spans, the
// propagator and metrics come from the global OpenTelemetry providers
// unless [WithTracerProvider], [WithPropagator] and [WithMeterProvider] say
// otherwise. With the global tracer provider and no SDK installed, the
// consumer starts no span (one would record nothing): the handler's
// context carries the producer's span context from the headers all the
// same, and an SDK installed later (otel.SetTracerProvider) traces from
// the next batch of records on. keiyaku.events.consumed is added once per
// batch a partition worker handles, not once per record. Counters: keiyaku.events.published, keiyaku.events.consumed,
// keiyaku.events.retried, keiyaku.events.dead_lettered,
// keiyaku.events.dead_letter_failures and keiyaku.events.skipped; gauge:
// keiyaku.events.consumer_lag per group, topic and partition (the high
// watermark of the last fetch minus the position after the last processed
// record). Logs go to the [WithLogger] logger only.
//
// # Connecting to a real Kafka
//
// Libraries do not read the environment; main does, and builds a
// [ClientConfig]:
//
//	cfg := events.ClientConfig{Brokers: strings.Split(os.Getenv("KAFKA_BROKERS"), ",")}
//	if ca := os.Getenv("KAFKA_TLS_CA"); ca != "" {
//		tlsCfg, err := events.LoadTLS(ca, os.Getenv("KAFKA_TLS_CERT"), os.Getenv("KAFKA_TLS_KEY"))
//		// handle err
//		cfg.TLS = tlsCfg
//	}
//	if user := os.Getenv("KAFKA_SASL_USER"); user != "" {
//		cfg.SASL = &events.SASL{
//			Mechanism: os.Getenv("KAFKA_SASL_MECHANISM"), // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
//			User:      user,
//			Password:  os.Getenv("KAFKA_SASL_PASSWORD"),
//		}
//	}
//	conn, err := cfg.Options()
//	// handle err
//	pc, err := kgo.NewClient(append(conn, events.ProducerClientOptions()...)...)
//	cc, err := kgo.NewClient(append(conn, events.ConsumerClientOptions("notification", "hotel.reservation.v1")...)...)
//
// [LoadTLS] reads PEM files: the CA that signs the brokers' certificates
// (the system roots when empty) and, for mutual TLS, a client certificate
// and key. Use SASL over TLS: PLAIN sends the password as is.
//
// On a cluster that does not create topics on first use, create each
// topic and its "<topic>.<group>.dlq" beforehand, and for single-object mode the
// compacted schema topic "_keiyaku_schemas" (codec.TopicStore.EnsureTopic
// does it). With a Schema Registry (SCHEMA_REGISTRY_URL), use
// codec.NewConfluent instead of codec.NewSingleObject; nothing else
// changes.
package events
