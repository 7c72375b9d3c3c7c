// Package app assembles a Keiyaku service process from the runtime
// packages, so that the reference services and their mains do not repeat
// the plumbing: telemetry, the database and its migrations, the HTTP
// server around a generated strict handler, the Kafka producer with its
// transactional outbox, and the idempotent event consumer.
//
// A service package uses the parts it needs in its New:
//
//	db, err := app.OpenDB(ctx, cfg.DatabaseURL, "room", migrations, tel)
//	srv, err := app.NewHTTPServer(ctx, app.HTTPConfig{
//		Name: "room", Addr: cfg.ListenAddr, Spec: spec, API: api, DB: db, Idempotent: true,
//	}, tel)
//	cons, err := app.NewConsumer(ctx, cfg.Kafka, db, roomv1.ConsumerGroup, roomv1.ReceivedTopics, tel)
//	roomv1.RegisterEventHandler(cons.Consumer, handler)
//
// and, to publish events through a transactional outbox:
//
//	producer, err := app.NewProducer(cfg.Kafka, "/services/reservation", tel)
//	store, relay, err := app.NewOutbox(ctx, db, producer, tel)
//	publisher := reservationv1.NewPublisher(producer.Events())
//
// Its Run hands the long-running parts to [Run]:
//
//	return app.Run(ctx, app.Task{Name: "http", Run: srv.ListenAndServe}, app.Task{Name: "consumer", Run: cons.Run})
//
// A service's main is one call to [Serve], which reads the environment
// with [LoadEnv], sets up telemetry, builds the service with the
// Process's Start and runs it until SIGINT or SIGTERM ([Main] is the same
// for tests: no signals, no exit):
//
//	func main() { app.Serve(app.Process{Name: "orders", DefaultAddr: ":8080", Start: start}) }
//
// Start returns a [Runner]: the service's own type, or the [Parts] it
// assembled (tasks to run, what to close after them, the last first).
// Everything else in this package takes its configuration as values and
// never reads the environment.
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
