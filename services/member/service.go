package member

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"

	memberv1 "github.com/keiyaku/keiyaku/gen/member/v1"
	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/httpserver"
	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

// Name is the service name: the migration component, the default
// OTEL_SERVICE_NAME and the default SQLite file name.
const Name = "member"

// DefaultAddr is the listen address of the member service unless
// configured otherwise (the server of contracts/member/v1).
const DefaultAddr = ":8081"

// The demo members, inserted when [Config.DemoData] is set.
const (
	// ActiveMemberID is Hanako Yamada, active, gold tier.
	ActiveMemberID = "3f1c2a9e-8b7d-4e6f-9a01-2b3c4d5e6f70"
	// OtherActiveMemberID is Taro Suzuki, active, standard tier.
	OtherActiveMemberID = "5a7d2c1b-3e4f-4a6b-8c9d-0e1f2a3b4c5d"
	// SuspendedMemberID is Kenji Sato, suspended: may not book.
	SuspendedMemberID = "8b9c0d1e-2f3a-4b5c-9d6e-7f8a9b0c1d2e"
	// WithdrawnMemberID is Yuki Tanaka, withdrawn: may not book.
	WithdrawnMemberID = "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"
)

//go:embed migrations
var migrationsFS embed.FS

// Config is where the member service listens and what it connects to.
type Config struct {
	// ListenAddr is the TCP address of the HTTP API, e.g. ":8081".
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
	// DemoData inserts the demo members (the constants above) that are
	// not in the database yet: for the demo, tests and local development
	// only. Default false: the migrations create no members.
	DemoData bool
	// ProviderStates serves the Pact state change endpoint at POST
	// /_pact/provider-states (app.ProviderStatesPath) on the API's
	// address, so that the official Pact verifier can set up the states
	// of the committed pacts against the running service. It changes data
	// on request: for contract tests only. Default false.
	ProviderStates bool
}

// Option configures [New].
type Option func(*options)

type options struct {
	tel  app.Telemetry
	errs []error
}

// WithTelemetry sets the logger, providers, propagator and /metrics
// handler at once, overriding the defaults of [app.Telemetry] (and options
// given before it); empty fields of t keep those defaults.
func WithTelemetry(t app.Telemetry) Option {
	return func(o *options) { o.tel = t }
}

// Service is a running member service: its database, HTTP API and event
// consumer. Build it with [New], then call [Service.Run] once.
type Service struct {
	db       *sqldb.DB
	server   *httpserver.Server
	consumer *app.Consumer
	log      *slog.Logger

	// parts runs the server and consumer or relay, and releases the
	// Kafka client and the database.
	parts app.Parts
}

// New opens and migrates the database of cfg (with the demo members when
// cfg.DemoData is set),
// assembles the HTTP API (validation against contracts/member/v1,
// problem+json errors, health endpoints) and the consumer of the
// reservation events. It does not listen or consume yet: [Service.Run]
// does. On error nothing stays open.
func New(ctx context.Context, cfg Config, opts ...Option) (*Service, error) {
	var o options
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("member: nil option")
		}
		opt(&o)
	}
	if err := errors.Join(o.errs...); err != nil {
		return nil, fmt.Errorf("member: %w", err)
	}
	if cfg.ListenAddr == "" && cfg.Listener == nil {
		return nil, errors.New("member: empty listen address")
	}
	tel := o.tel.Resolved()
	migrations, err := fs.Sub(migrationsFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("member: %w", err)
	}
	s := &Service{log: tel.Logger}
	db, err := s.parts.OpenDB(ctx, cfg.DatabaseURL, Name, migrations, tel)
	if err != nil {
		return nil, fmt.Errorf("member: %w", err)
	}
	s.db = db
	if cfg.DemoData {
		if err := insertDemoData(ctx, db); err != nil {
			return nil, errors.Join(fmt.Errorf("member: %w", err), s.Close())
		}
	}
	if err := s.assemble(ctx, cfg, tel); err != nil {
		return nil, errors.Join(fmt.Errorf("member: %w", err), s.Close())
	}
	return s, nil
}

func (s *Service) assemble(ctx context.Context, cfg Config, tel app.Telemetry) error {
	spec, err := memberv1.GetSpec()
	if err != nil {
		return fmt.Errorf("load contract: %w", err)
	}
	strict := memberv1.NewStrictHandlerWithOptions(&api{db: s.db}, nil, memberv1.StrictHTTPServerOptions{
		RequestErrorHandlerFunc:  httpserver.RequestErrorHandler,
		ResponseErrorHandlerFunc: httpserver.ResponseErrorHandler(tel.Logger),
	})
	handler := memberv1.HandlerWithOptions(strict, memberv1.StdHTTPServerOptions{
		ErrorHandlerFunc: httpserver.ParamErrorHandler,
	})
	hc := app.HTTPConfig{Name: Name, Addr: cfg.ListenAddr, Listener: cfg.Listener, Spec: spec, API: handler, DB: s.db}
	if cfg.ProviderStates {
		hc.ProviderStates = s.providerStates()
	}
	s.server, err = s.parts.NewHTTPServer(ctx, hc, tel,
		// Unready while a record waits for an unwritable dead-letter topic.
		httpserver.WithReadinessCheck("consumer", func(ctx context.Context) error { return s.consumer.Ready(ctx) }))
	if err != nil {
		return err
	}
	s.consumer, err = s.parts.NewConsumer(ctx, cfg.Kafka, s.db, memberv1.ConsumerGroup, memberv1.ReceivedTopics, tel)
	if err != nil {
		return err
	}
	memberv1.RegisterEventHandler(s.consumer.Consumer, &history{db: s.db, log: tel.Logger})
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
