package reservation

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"slices"
	"time"

	reservationv1 "github.com/keiyaku/keiyaku/gen/reservation/v1"
	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/httpserver"
	"github.com/keiyaku/keiyaku/runtime/outbox"
	"github.com/keiyaku/keiyaku/runtime/resilience"
	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

// Name is the service name: the migration component, the default
// OTEL_SERVICE_NAME and the default SQLite file name.
const Name = "reservation"

// DefaultAddr is the listen address of the reservation service unless
// configured otherwise (the server of contracts/reservation/v1).
const DefaultAddr = ":8080"

// Source is the ce_source of the events the service publishes.
const Source = "/services/reservation"

//go:embed migrations
var migrationsFS embed.FS

// Config is where the reservation service listens and what it connects
// to.
type Config struct {
	// ListenAddr is the TCP address of the HTTP API, e.g. ":8080".
	// Required.
	ListenAddr string
	// Listener, when set, is where the HTTP API serves instead of
	// listening on ListenAddr: a port bound once by the caller and handed
	// over. The service closes it when Run ends.
	Listener net.Listener
	// DatabaseURL is the service's own database: a postgres:// URL or a
	// SQLite file (see runtime/sqldb.Open). The outbox lives there too.
	// Required.
	DatabaseURL string
	// Kafka is how to reach the brokers (and the schema registry, if
	// any) the events are published to. Required.
	Kafka app.KafkaConfig
	// MemberURL is the base URL of the member service, e.g.
	// "http://member:8081". Required.
	MemberURL string
	// RoomURL is the base URL of the room service, e.g.
	// "http://room:8082". Required.
	RoomURL string
}

// Option configures [New].
type Option func(*options)

type options struct {
	tel        app.Telemetry
	memberOpts []resilience.Option
	roomOpts   []resilience.Option
	relayOpts  []outbox.RelayOption
	now        func() time.Time
	errs       []error
}

// WithMemberClientOptions adds options to the member client, after the
// policy of keiyaku.yaml (reservationv1.MemberPolicy, last-good fallback
// for 5 minutes) and the service's telemetry, so they override both. By
// default there are none.
func WithMemberClientOptions(opts ...resilience.Option) Option {
	return func(o *options) { o.memberOpts = append(o.memberOpts, opts...) }
}

// WithRoomClientOptions adds options to the room client, after the policy
// of keiyaku.yaml (reservationv1.RoomPolicy) and the service's telemetry,
// so they override both. By default there are none.
func WithRoomClientOptions(opts ...resilience.Option) Option {
	return func(o *options) { o.roomOpts = append(o.roomOpts, opts...) }
}

// WithRelayOptions adds options to the outbox relay, after the service's
// logger and meter provider. By default the relay keeps the defaults of
// runtime/outbox.
func WithRelayOptions(opts ...outbox.RelayOption) Option {
	return func(o *options) { o.relayOpts = append(o.relayOpts, opts...) }
}

// WithClock sets the clock that stamps createdAt and cancelledAt,
// overriding the default time.Now.
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

// Service is a running reservation service: its database, HTTP API,
// clients of member and room, and outbox relay. Build it with [New], then
// call [Service.Run] once.
type Service struct {
	db       *sqldb.DB
	server   *httpserver.Server
	producer *app.Producer
	relay    *outbox.Relay
	outbox   *outbox.Store

	// parts runs the server and consumer or relay, and releases the
	// Kafka client and the database.
	parts app.Parts
}

// New opens and migrates the database of cfg (with the outbox and
// idempotency tables), builds the member and room clients with the call
// policies of keiyaku.yaml, the Kafka producer (idempotent, acks=all) and
// the outbox relay, and assembles the HTTP API (validation against
// contracts/reservation/v1, Idempotency-Key on POST, problem+json errors,
// health endpoints). It does not listen or publish yet: [Service.Run]
// does. On error nothing stays open.
func New(ctx context.Context, cfg Config, opts ...Option) (*Service, error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("reservation: nil option")
		}
		opt(&o)
	}
	if err := errors.Join(o.errs...); err != nil {
		return nil, fmt.Errorf("reservation: %w", err)
	}
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("reservation: %w", err)
	}
	tel := o.tel.Resolved()
	migrations, err := fs.Sub(migrationsFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("reservation: %w", err)
	}
	s := &Service{}
	db, err := s.parts.OpenDB(ctx, cfg.DatabaseURL, Name, migrations, tel)
	if err != nil {
		return nil, fmt.Errorf("reservation: %w", err)
	}
	s.db = db
	if err := s.assemble(ctx, cfg, tel, o); err != nil {
		return nil, errors.Join(fmt.Errorf("reservation: %w", err), s.Close())
	}
	return s, nil
}

func (c Config) check() error {
	if c.ListenAddr == "" && c.Listener == nil {
		return errors.New("empty listen address")
	}
	for _, u := range []struct{ name, url string }{{"member", c.MemberURL}, {"room", c.RoomURL}} {
		p, err := url.Parse(u.url)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("%s URL %q: want http(s)://host[:port]", u.name, u.url)
		}
	}
	return nil
}

func (s *Service) assemble(ctx context.Context, cfg Config, tel app.Telemetry, o options) error {
	var err error
	if s.producer, err = s.parts.NewProducer(cfg.Kafka, Source, tel); err != nil {
		return err
	}
	if s.outbox, s.relay, err = s.parts.NewOutbox(ctx, s.db, s.producer, tel, o.relayOpts...); err != nil {
		return err
	}
	members, err := reservationv1.NewMemberClient(cfg.MemberURL, slices.Concat(tel.ClientOptions(), o.memberOpts)...)
	if err != nil {
		return err
	}
	rooms, err := reservationv1.NewRoomClient(cfg.RoomURL, slices.Concat(tel.ClientOptions(), o.roomOpts)...)
	if err != nil {
		return err
	}
	spec, err := reservationv1.GetSpec()
	if err != nil {
		return fmt.Errorf("load contract: %w", err)
	}
	a := &api{
		db: s.db, outbox: s.outbox, relay: s.relay,
		events:  reservationv1.NewPublisher(s.producer.Events()),
		members: members, rooms: rooms, now: o.now, log: tel.Logger,
	}
	strict := reservationv1.NewStrictHandlerWithOptions(a, nil, reservationv1.StrictHTTPServerOptions{
		RequestErrorHandlerFunc:  httpserver.RequestErrorHandler,
		ResponseErrorHandlerFunc: httpserver.ResponseErrorHandler(tel.Logger),
	})
	handler := reservationv1.HandlerWithOptions(strict, reservationv1.StdHTTPServerOptions{
		ErrorHandlerFunc: httpserver.ParamErrorHandler,
	})
	s.server, err = s.parts.NewHTTPServer(ctx, app.HTTPConfig{
		Name: Name, Addr: cfg.ListenAddr, Listener: cfg.Listener, Spec: spec, API: handler, DB: s.db, Idempotent: true,
	}, tel)
	if err != nil {
		return err
	}
	return nil
}

// Handler returns the whole HTTP handler the service serves (health
// endpoints, validation, idempotency, the API), for tests and for
// embedding. Events written through it are published only while
// [Service.Run] runs the relay.
func (s *Service) Handler() http.Handler { return s.server.Handler() }

// Run serves the HTTP API on the configured address and runs the outbox
// relay until ctx is done, then drains in-flight requests, stops the relay
// (events not yet published stay in the outbox for the next run) and
// closes the service. If one part fails, the other is stopped too and Run
// returns the error. Run may be called once.
func (s *Service) Run(ctx context.Context) error { return s.parts.Run(ctx) }

// Close releases the Kafka client and the database. Run calls it; call it
// only for a Service that is never run. It is idempotent.
func (s *Service) Close() error { return s.parts.Close() }
