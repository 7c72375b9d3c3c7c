package room

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"time"

	roomv1 "github.com/keiyaku/keiyaku/gen/room/v1"
	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/httpserver"
	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

// Name is the service name: the migration component, the default
// OTEL_SERVICE_NAME and the default SQLite file name.
const Name = "room"

// DefaultAddr is the listen address of the room service unless configured
// otherwise (the server of contracts/room/v1).
const DefaultAddr = ":8082"

// DefaultHoldTTL is how long an unconfirmed hold blocks a room unless
// [WithHoldTTL] says otherwise.
const DefaultHoldTTL = 15 * time.Minute

// The demo rooms, inserted when [Config.DemoData] is set, all priced in
// JPY.
const (
	// DoubleRoomID is room 0412, a double for 2 guests at 18000.00 a night.
	DoubleRoomID = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
	// SingleRoomID is room 0101, a single for 1 guest at 9500.00 a night.
	SingleRoomID = "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f"
	// TwinRoomID is room 0305, a twin for 2 guests at 16000.00 a night.
	TwinRoomID = "4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8"
	// SuiteRoomID is room 1201, a suite for 4 guests at 52000.00 a night.
	SuiteRoomID = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
)

//go:embed migrations
var migrationsFS embed.FS

// Config is where the room service listens and what it connects to.
type Config struct {
	// ListenAddr is the TCP address of the HTTP API, e.g. ":8082".
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
	// DemoData inserts the demo rooms (the constants above) that are
	// not in the database yet: for the demo, tests and local development
	// only. Default false: the migrations create no rooms.
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
	tel     app.Telemetry
	holdTTL time.Duration
	now     func() time.Time
	errs    []error
}

// WithHoldTTL sets how long a new hold blocks the room unless it is
// confirmed, overriding [DefaultHoldTTL]. d must be positive.
func WithHoldTTL(d time.Duration) Option {
	return func(o *options) {
		if d <= 0 {
			o.errs = append(o.errs, fmt.Errorf("hold ttl %v: must be positive", d))
			return
		}
		o.holdTTL = d
	}
}

// WithClock sets the clock that stamps holds and decides whether they
// expired, overriding the default time.Now. Tests use it to pass a hold's
// expiry without waiting.
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

// Service is a running room service: its database, HTTP API and event
// consumer. Build it with [New], then call [Service.Run] once.
type Service struct {
	db       *sqldb.DB
	server   *httpserver.Server
	consumer *app.Consumer

	// parts runs the server and consumer or relay, and releases the
	// Kafka client and the database.
	parts app.Parts
}

// New opens and migrates the database of cfg (with the demo rooms when
// cfg.DemoData is set),
// assembles the HTTP API (validation against contracts/room/v1,
// Idempotency-Key on POST, problem+json errors, health endpoints) and the
// consumer of the reservation events. It does not listen or consume yet:
// [Service.Run] does. On error nothing stays open.
func New(ctx context.Context, cfg Config, opts ...Option) (*Service, error) {
	o := options{holdTTL: DefaultHoldTTL, now: time.Now}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("room: nil option")
		}
		opt(&o)
	}
	if err := errors.Join(o.errs...); err != nil {
		return nil, fmt.Errorf("room: %w", err)
	}
	if cfg.ListenAddr == "" && cfg.Listener == nil {
		return nil, errors.New("room: empty listen address")
	}
	tel := o.tel.Resolved()
	migrations, err := fs.Sub(migrationsFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("room: %w", err)
	}
	s := &Service{}
	db, err := s.parts.OpenDB(ctx, cfg.DatabaseURL, Name, migrations, tel)
	if err != nil {
		return nil, fmt.Errorf("room: %w", err)
	}
	s.db = db
	if cfg.DemoData {
		if err := insertDemoData(ctx, db); err != nil {
			return nil, errors.Join(fmt.Errorf("room: %w", err), s.Close())
		}
	}
	st := &store{db: db, now: o.now}
	if err := s.assemble(ctx, cfg, tel, st, o.holdTTL); err != nil {
		return nil, errors.Join(fmt.Errorf("room: %w", err), s.Close())
	}
	return s, nil
}

func (s *Service) assemble(ctx context.Context, cfg Config, tel app.Telemetry, st *store, ttl time.Duration) error {
	spec, err := roomv1.GetSpec()
	if err != nil {
		return fmt.Errorf("load contract: %w", err)
	}
	strict := roomv1.NewStrictHandlerWithOptions(&api{store: st, holdTTL: ttl}, nil, roomv1.StrictHTTPServerOptions{
		RequestErrorHandlerFunc:  httpserver.RequestErrorHandler,
		ResponseErrorHandlerFunc: httpserver.ResponseErrorHandler(tel.Logger),
	})
	handler := roomv1.HandlerWithOptions(strict, roomv1.StdHTTPServerOptions{
		ErrorHandlerFunc: httpserver.ParamErrorHandler,
	})
	hc := app.HTTPConfig{Name: Name, Addr: cfg.ListenAddr, Listener: cfg.Listener, Spec: spec, API: handler, DB: s.db, Idempotent: true}
	if cfg.ProviderStates {
		hc.ProviderStates = s.providerStates()
	}
	s.server, err = s.parts.NewHTTPServer(ctx, hc, tel,
		// Unready while a record waits for an unwritable dead-letter topic.
		httpserver.WithReadinessCheck("consumer", func(ctx context.Context) error { return s.consumer.Ready(ctx) }))
	if err != nil {
		return err
	}
	s.consumer, err = s.parts.NewConsumer(ctx, cfg.Kafka, s.db, roomv1.ConsumerGroup, roomv1.ReceivedTopics, tel)
	if err != nil {
		return err
	}
	roomv1.RegisterEventHandler(s.consumer.Consumer, &bookings{store: st, log: tel.Logger})
	return nil
}

// Handler returns the whole HTTP handler the service serves (health
// endpoints, validation, idempotency, the API), for tests and for
// embedding.
func (s *Service) Handler() http.Handler { return s.server.Handler() }

// Run serves the HTTP API on the configured address and consumes the
// reservation events until ctx is done, then drains in-flight requests
// and events, commits, and closes the service. If one part fails, the
// other is stopped too and Run returns the error. Run may be called once.
func (s *Service) Run(ctx context.Context) error { return s.parts.Run(ctx) }

// Close releases the Kafka client and the database. Run calls it; call it
// only for a Service that is never run. It is idempotent.
func (s *Service) Close() error { return s.parts.Close() }
