package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sync"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/httpserver"
	"github.com/keiyaku/keiyaku/runtime/outbox"
	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

// Build returns a [Process] Start that assembles a service into a [Parts]
// with build, which creates the service's parts through the Parts it is
// given. The Parts is the service: Run runs its tasks until the process
// stops, then closes what it holds, the last opened first. When build
// fails, what it opened so far is closed, and the errors are joined.
func Build(build func(ctx context.Context, env Env, t Telemetry, parts *Parts) error) func(ctx context.Context, env Env, t Telemetry) (Runner, error) {
	return func(ctx context.Context, env Env, t Telemetry) (Runner, error) {
		parts := &Parts{}
		if err := build(ctx, env, t, parts); err != nil {
			return nil, errors.Join(err, parts.Close())
		}
		return parts, nil
	}
}

// Parts is a built service as a [Runner]: the long-running tasks a
// Process's Start assembled (HTTP server, consumers, outbox relay) and
// what to release once they stopped (Kafka clients, the database). The
// zero value is ready to use. Its constructors — [Parts.OpenDB],
// [Parts.NewProducer], [Parts.NewOutbox], [Parts.NewHTTPServer],
// [Parts.NewConsumer] — are the package's functions of the same name that
// also add what they build: its Close to what [Parts.Close] calls, its
// Run to what [Parts.Run] runs. [Build] hands a Parts to the function that
// assembles a service and closes it when that fails:
//
//	func build(ctx context.Context, env app.Env, tel app.Telemetry, parts *app.Parts) error {
//		db, err := parts.OpenDB(ctx, env.DatabaseURL, "orders", nil, tel) // closed after the tasks stopped
//		if err != nil {
//			return err
//		}
//		_, err = parts.NewHTTPServer(ctx, app.HTTPConfig{Name: "orders", Addr: env.ListenAddr, Spec: spec, API: api, DB: db}, tel) // run by parts
//		return err
//	}
//
// [Parts.Go] and [Parts.Defer] add tasks and releases of other kinds.
type Parts struct {
	tasks   []Task
	closers []func() error
	once    sync.Once
	err     error
}

// Go adds the task name to what [Parts.Run] runs.
func (p *Parts) Go(name string, run func(ctx context.Context) error) {
	p.tasks = append(p.tasks, Task{Name: name, Run: run})
}

// Defer adds release to what [Parts.Close] calls, the last added first.
func (p *Parts) Defer(release func() error) {
	p.closers = append(p.closers, release)
}

// Run runs the tasks with [Run] until ctx is done (or one of them stops),
// then closes the parts; it returns the errors of both, joined.
func (p *Parts) Run(ctx context.Context) error {
	return errors.Join(Run(ctx, p.tasks...), p.Close())
}

// Close calls the deferred functions, the last added first, and returns
// their errors joined. Run calls it; call it yourself only for parts that
// never run (a Start that fails half-way). It is idempotent.
func (p *Parts) Close() error {
	p.once.Do(func() {
		var errs []error
		for _, release := range slices.Backward(p.closers) {
			errs = append(errs, release())
		}
		p.err = errors.Join(errs...)
	})
	return p.err
}

// OpenDB is [OpenDB], and adds the database's Close to p.
func (p *Parts) OpenDB(ctx context.Context, dsn, component string, migrations fs.FS, t Telemetry, opts ...sqldb.Option) (*sqldb.DB, error) {
	db, err := OpenDB(ctx, dsn, component, migrations, t, opts...)
	if err != nil {
		return nil, err
	}
	p.Defer(db.Close)
	return db, nil
}

// NewProducer is [NewProducer], and adds the producer's Close to p.
func (p *Parts) NewProducer(cfg KafkaConfig, source string, t Telemetry) (*Producer, error) {
	producer, err := NewProducer(cfg, source, t)
	if err != nil {
		return nil, err
	}
	p.Defer(func() error { producer.Close(); return nil })
	return producer, nil
}

// NewOutbox is [NewOutbox], and adds the relay's Run to p's tasks, named
// "outbox relay".
func (p *Parts) NewOutbox(ctx context.Context, db *sqldb.DB, producer *Producer, t Telemetry, opts ...outbox.RelayOption) (*outbox.Store, *outbox.Relay, error) {
	store, relay, err := NewOutbox(ctx, db, producer, t, opts...)
	if err != nil {
		return nil, nil, err
	}
	p.Go("outbox relay", relay.Run)
	return store, relay, nil
}

// NewHTTPServer is [NewHTTPServer], and adds the server's ListenAndServe
// to p's tasks, named "http".
func (p *Parts) NewHTTPServer(ctx context.Context, cfg HTTPConfig, t Telemetry, opts ...httpserver.Option) (*httpserver.Server, error) {
	srv, err := NewHTTPServer(ctx, cfg, t, opts...)
	if err != nil {
		return nil, err
	}
	p.Go("http", srv.ListenAndServe)
	return srv, nil
}

// NewConsumer is [NewConsumer], and adds the consumer's Run to p's tasks,
// named "consumer " and the group, and its Close to what p closes.
// Register the handlers on the consumer before p runs.
func (p *Parts) NewConsumer(ctx context.Context, cfg KafkaConfig, db *sqldb.DB, group string, topics []string, t Telemetry, opts ...events.ConsumerOption) (*Consumer, error) {
	consumer, err := NewConsumer(ctx, cfg, db, group, topics, t, opts...)
	if err != nil {
		return nil, err
	}
	p.Defer(func() error { consumer.Close(); return nil })
	p.Go(fmt.Sprintf("consumer %s", group), consumer.Run)
	return consumer, nil
}
