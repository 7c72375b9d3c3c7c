package notification

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"time"

	notificationv1 "github.com/keiyaku/keiyaku/gen/notification/v1"
	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/httpserver"
	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

// Name is the service name: the migration component, the default
// OTEL_SERVICE_NAME and the default SQLite file name.
const Name = "notification"

// DefaultAddr is the listen address of the notification service unless
// configured otherwise (the server of contracts/notification/v1).
const DefaultAddr = ":8083"

//go:embed migrations
var migrationsFS embed.FS

// Config is where the notification service listens and what it connects
// to.
type Config struct {
	// ListenAddr is the TCP address of the HTTP API, e.g. ":8083".
	// Required.
	ListenAddr string
	// Listener, when set, is where the HTTP API serves instead of
	// listening on ListenAddr: a port bound once by the caller and handed
	// over. The service closes it when Run ends.
	Listener net.Listener
	// DatabaseURL is the service's own database: a postgres:// URL or a
	// SQLite file (see runtime/sqldb.Open). Required.
	DatabaseURL string
	// Kafka is how to reach the brokers (and the schema registry, if
	// any) the reservation events come from. Required.
	Kafka app.KafkaConfig
}

// Option configures [New].
type Option func(*options)

type options struct {
	tel  app.Telemetry
	now  func() time.Time
	errs []error
}

// WithClock sets the clock that stamps sentAt, overriding the default
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now == nil {
			o.errs = append(o.errs, errors.New("nil clock"))
			return
		}
		o.now = now
	}
}

// WithTelemetry sets the logger, providers, propagator and /metrics
// handler at once, overriding the defaults of [app.Telemetry] (and options
// given before it); empty fields of t keep those defaults.
func WithTelemetry(t app.Telemetry) Option {
	return func(o *options) { o.tel = t }
}

// Service is a running notification service: its database, HTTP API and
// event consumer. Build it with [New], then call [Service.Run] once.
type Service struct {
	db       *sqldb.DB
	server   *httpserver.Server
	consumer *app.Consumer

	// parts runs the server and consumer or relay, and releases the
	// Kafka client and the database.
	parts app.Parts
}

// New opens and migrates the database of cfg, assembles the HTTP API
// (validation against contracts/notification/v1, problem+json errors,
// health endpoints) and the consumer of the reservation events. It does
// not listen or consume yet: [Service.Run] does. On error nothing stays
// open.
func New(ctx context.Context, cfg Config, opts ...Option) (*Service, error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("notification: nil option")
		}
		opt(&o)
	}
	if err := errors.Join(o.errs...); err != nil {
		return nil, fmt.Errorf("notification: %w", err)
	}
	if cfg.ListenAddr == "" && cfg.Listener == nil {
		return nil, errors.New("notification: empty listen address")
	}
	tel := o.tel.Resolved()
	migrations, err := fs.Sub(migrationsFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("notification: %w", err)
	}
	s := &Service{}
	db, err := s.parts.OpenDB(ctx, cfg.DatabaseURL, Name, migrations, tel)
	if err != nil {
		return nil, fmt.Errorf("notification: %w", err)
	}
	s.db = db
	if err := s.assemble(ctx, cfg, tel, o.now); err != nil {
		return nil, errors.Join(fmt.Errorf("notification: %w", err), s.Close())
	}
	return s, nil
}

func (s *Service) assemble(ctx context.Context, cfg Config, tel app.Telemetry, now func() time.Time) error {
	spec, err := notificationv1.GetSpec()
	if err != nil {
		return fmt.Errorf("load contract: %w", err)
	}
	strict := notificationv1.NewStrictHandlerWithOptions(&api{db: s.db}, nil, notificationv1.StrictHTTPServerOptions{
		RequestErrorHandlerFunc:  httpserver.RequestErrorHandler,
		ResponseErrorHandlerFunc: httpserver.ResponseErrorHandler(tel.Logger),
	})
	handler := notificationv1.HandlerWithOptions(strict, notificationv1.StdHTTPServerOptions{
		ErrorHandlerFunc: httpserver.ParamErrorHandler,
	})
	s.server, err = s.parts.NewHTTPServer(ctx, app.HTTPConfig{
		Name: Name, Addr: cfg.ListenAddr, Listener: cfg.Listener, Spec: spec, API: handler, DB: s.db,
	}, tel,
		// Unready while a record waits for an unwritable dead-letter topic.
		httpserver.WithReadinessCheck("consumer", func(ctx context.Context) error { return s.consumer.Ready(ctx) }))
	if err != nil {
		return err
	}
	s.consumer, err = s.parts.NewConsumer(ctx, cfg.Kafka, s.db, notificationv1.ConsumerGroup, notificationv1.ReceivedTopics, tel)
	if err != nil {
		return err
	}
	notificationv1.RegisterEventHandler(s.consumer.Consumer, &mailer{db: s.db, now: now, log: tel.Logger})
	return nil
}

// Handler returns the whole HTTP handler the service serves (health
// endpoints, validation, the API), for tests and for embedding.
func (s *Service) Handler() http.Handler { return s.server.Handler() }

// Run serves the HTTP API on the configured address and consumes the
// reservation events until ctx is done, then drains in-flight requests
// and events, commits, and closes the service. If one part fails, the
// other is stopped too and Run returns the error. Run may be called once.
func (s *Service) Run(ctx context.Context) error { return s.parts.Run(ctx) }

// Close releases the Kafka client and the database. Run calls it; call it
// only for a Service that is never run. It is idempotent.
func (s *Service) Close() error { return s.parts.Close() }
