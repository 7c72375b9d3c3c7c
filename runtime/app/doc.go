// Package app assembles a Keiyaku service process from the runtime
// packages, so that the reference services and their mains do not repeat
// the plumbing: telemetry, the database and its migrations, the HTTP
// server around a generated strict handler, the Kafka producer with its
// transactional outbox, and the idempotent event consumer.
//
// A service's main is one call to [Serve], which reads the environment
// with [LoadEnv], sets up telemetry, builds the service with the
// Process's Start and runs it until SIGINT or SIGTERM ([Main] is the same
// for tests: no signals, no exit). [Build] makes the Start from a function
// that assembles the service into a [Parts]; each constructor of Parts
// adds what it builds, to run or to close, and what was opened is closed
// again, the last first, when the service stops or the assembly fails:
//
//	func main() { app.Serve(app.Process{Name: "orders", DefaultAddr: ":8080", Start: app.Build(build)}) }
//
//	func build(ctx context.Context, env app.Env, tel app.Telemetry, parts *app.Parts) error {
//		db, err := parts.OpenDB(ctx, env.DatabaseURL, "orders", migrations, tel)
//		...
//		producer, err := parts.NewProducer(env.Kafka, "/services/orders", tel)
//		store, _, err := parts.NewOutbox(ctx, db, producer, tel) // runs the relay
//		publisher := ordersv1.NewPublisher(producer.Events())
//		...
//		_, err = parts.NewHTTPServer(ctx, app.HTTPConfig{
//			Name: "orders", Addr: env.ListenAddr, Spec: spec, API: api, DB: db, Idempotent: true,
//		}, tel)
//		...
//		consumer, err := parts.NewConsumer(ctx, env.Kafka, db, ordersv1.ConsumerGroup, ordersv1.ReceivedTopics, tel)
//		...
//		ordersv1.RegisterEventHandler(consumer.Consumer, handler)
//		return nil
//	}
//
// A Start may also return a service's own [Runner], as the reference
// services do (their New builds into a Parts of their own, for tests and
// the demo). The package-level [OpenDB], [NewProducer], [NewOutbox],
// [NewHTTPServer], [NewConsumer] and [Run] are the same constructors for a
// service that manages its parts itself. Everything else in this package
// takes its configuration as values and never reads the environment.
//
// # Telemetry without globals
//
// Every constructor takes a [Telemetry]: the logger, tracer provider,
// meter provider, propagator and metrics handler of one service. Nothing
// here uses OpenTelemetry's globals, so several services can run in one
// process (the demo) with their own service names. [SetupTelemetry] builds
// a Telemetry with runtime/telemetry/export.
//
// # Delivery
//
// [Producer] encodes events without talking to Kafka: the writer schema of
// a single-object encoded event is put into the schema topic by
// [Producer.Send], before the first record that uses it is produced. A
// service can therefore write events into its outbox (runtime/outbox) in
// the transaction of its state change while Kafka is down; the relay sends
// them when it is back. [NewConsumer] builds a consumer whose handlers run
// in the database transaction that records the event id
// (runtime/sqldb.NewProcessed), so a redelivered event changes nothing.
package app
