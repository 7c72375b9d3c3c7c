// Package stack runs the whole hotel-reservation reference system in one
// process, the way `make demo`, the end-to-end tests and the load
// generator need it: the embedded Kafka-protocol broker
// (runtime/events/embedded) on a real TCP port, and the member, room,
// notification and reservation services, each on its own loopback HTTP
// port with its own database and its own telemetry (a tracer provider
// with its own service.name, a Prometheus registry served at /metrics).
// The services talk to each other only as they do in production: HTTP
// over TCP for the synchronous calls, the Kafka protocol over TCP for the
// events.
//
// A [Stack] can stop and restart each part, to show and test what the
// system does when a neighbour is down:
//
//   - [Stack.Stop] cancels a service's Run and waits for it: its listener
//     and its Kafka clients go away; [Stack.Restart] builds it again with
//     New on the same address and database, and runs it;
//   - [Stack.StopBroker] closes the broker, which first writes its
//     topics, records and committed offsets to its data folder
//     ([embedded.WithDataDir]); [Stack.RestartBroker] starts it again on the
//     same address from that folder, so clients reconnect to the same
//     broker with the same data.
//
// Stack reads no environment variable and prints nothing; its caller
// decides where the logs go ([WithLogger]).
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	memberv1 "github.com/keiyaku/keiyaku/gen/member/v1"
	notificationv1 "github.com/keiyaku/keiyaku/gen/notification/v1"
	reservationv1 "github.com/keiyaku/keiyaku/gen/reservation/v1"
	roomv1 "github.com/keiyaku/keiyaku/gen/room/v1"
	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
	"github.com/keiyaku/keiyaku/runtime/outbox"
	"github.com/keiyaku/keiyaku/runtime/telemetry"
	"github.com/keiyaku/keiyaku/runtime/telemetry/export"
	"github.com/keiyaku/keiyaku/services/member"
	"github.com/keiyaku/keiyaku/services/notification"
	"github.com/keiyaku/keiyaku/services/reservation"
	"github.com/keiyaku/keiyaku/services/room"
)

// The services of the reference system, by the name they report in
// service.name and use for their SQLite file.
const (
	Member       = member.Name
	Room         = room.Name
	Notification = notification.Name
	Reservation  = reservation.Name
)

// Services lists the services in the order the stack starts them:
// the providers and consumers first, the reservation service last.
var Services = []string{Member, Room, Notification, Reservation}

// ConsumerGroups maps each consuming service to its Kafka consumer group
// (the groupId of its AsyncAPI receive operations).
var ConsumerGroups = map[string]string{
	Member:       memberv1.ConsumerGroup,
	Room:         roomv1.ConsumerGroup,
	Notification: notificationv1.ConsumerGroup,
}

// EventsTopic is the topic of the reservation events.
var EventsTopic = reservationv1.ReservationCreatedEvent.Topic

// readyTimeout bounds the wait for a service's /readyz after it starts.
const readyTimeout = 30 * time.Second

// Default relay settings of the reservation service in a stack: a broker
// that comes back is used again within about a second.
const (
	DefaultRelayBackoffMax  = time.Second
	DefaultRelaySendTimeout = 2 * time.Second
)

// Option configures [Start].
type Option func(*config)

type config struct {
	logger      *slog.Logger
	spans       sdktrace.SpanProcessor
	dsn         map[string]string
	addr        map[string]string
	neighbour   map[string]string
	pragmas     []string
	brokerAddr  string
	external    map[string]bool
	reservation []reservation.Option
	sampler     [2]string // OTEL_TRACES_SAMPLER and _ARG of every service
	errs        []error
}

// WithLogger sets the logger of the services and the broker; each service
// logs through l.With("service", name). By default logs are discarded.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l == nil {
			c.errs = append(c.errs, errors.New("nil logger"))
			return
		}
		c.logger = l
	}
}

// WithSpanProcessor adds p to the tracer provider of every service, so
// that one processor (an in-memory recorder, an exporter) sees the spans
// of the whole system. Each provider shuts p down when the stack closes.
// By default spans are made (trace ids reach logs and neighbours) and
// dropped.
func WithSpanProcessor(p sdktrace.SpanProcessor) Option {
	return func(c *config) {
		if p == nil {
			c.errs = append(c.errs, errors.New("nil span processor"))
			return
		}
		c.spans = p
	}
}

// WithTraceSampler sets the trace sampler of every service, as
// OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG would (see
// runtime/telemetry), e.g. ("parentbased_traceidratio", "0.1") to record
// one trace in ten; overriding the default of recording every span
// (parentbased_always_on). A bad name or argument fails [Start].
func WithTraceSampler(name, arg string) Option {
	return func(c *config) { c.sampler = [2]string{name, arg} }
}

// WithDatabaseURL sets the database of service (a postgres:// URL or a
// SQLite file), overriding the default SQLite file <dir>/<service>.db.
func WithDatabaseURL(service, dsn string) Option {
	return func(c *config) {
		if err := checkService(service); err != nil {
			c.errs = append(c.errs, err)
			return
		}
		if dsn == "" {
			c.errs = append(c.errs, fmt.Errorf("%s: empty database URL", service))
			return
		}
		c.dsn[service] = dsn
	}
}

// WithSQLitePragmas adds _pragma parameters to the default SQLite
// databases, e.g. "synchronous(FULL)" (see runtime/sqldb.Open). By
// default the settings of runtime/sqldb are kept (synchronous NORMAL in
// WAL mode: commits are not fsynced one by one).
func WithSQLitePragmas(pragmas ...string) Option {
	return func(c *config) {
		for _, p := range pragmas {
			if p == "" || strings.ContainsAny(p, "&?#") {
				c.errs = append(c.errs, fmt.Errorf("sqlite pragma %q: want name(value)", p))
				return
			}
		}
		c.pragmas = append(c.pragmas, pragmas...)
	}
}

// WithAddr sets the host:port service listens on, overriding the default
// of a port on 127.0.0.1 that the kernel picks. Either way the stack binds
// the port once at start and keeps it until Close, across restarts.
func WithAddr(service, addr string) Option {
	return func(c *config) {
		if err := checkService(service); err != nil {
			c.errs = append(c.errs, err)
			return
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			c.errs = append(c.errs, fmt.Errorf("%s: address %q: %w", service, addr, err))
			return
		}
		c.addr[service] = addr
	}
}

// WithNeighbourURL sets the base URL the reservation service calls
// service (member or room) at, overriding the default of that service's
// own address — for a proxy in between, say.
func WithNeighbourURL(service, baseURL string) Option {
	return func(c *config) {
		if service != Member && service != Room {
			c.errs = append(c.errs, fmt.Errorf("neighbour %q: the reservation service calls only %s and %s", service, Member, Room))
			return
		}
		if u, err := url.Parse(baseURL); err != nil || u.Host == "" {
			c.errs = append(c.errs, fmt.Errorf("neighbour %s: URL %q: want http://host:port", service, baseURL))
			return
		}
		c.neighbour[service] = baseURL
	}
}

// WithBrokerAddr sets the host:port of the embedded broker, overriding the
// default of a port on 127.0.0.1 that the kernel picks. Either way the
// stack binds the port once at start and keeps it until Close.
func WithBrokerAddr(addr string) Option {
	return func(c *config) {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			c.errs = append(c.errs, fmt.Errorf("broker address %q: %w", addr, err))
			return
		}
		c.brokerAddr = addr
	}
}

// WithExternal leaves services out: the stack gives them an address and a
// database ([Stack.URL], [Stack.DatabaseURL]) and the other services use
// them there, but the caller runs them itself — in another process, for
// instance, to kill it. By default the stack runs all four.
func WithExternal(services ...string) Option {
	return func(c *config) {
		for _, s := range services {
			if err := checkService(s); err != nil {
				c.errs = append(c.errs, err)
				continue
			}
			c.external[s] = true
		}
	}
}

// WithReservationOptions adds options to the reservation service, after
// the stack's own (its telemetry, and relay backoff capped at
// [DefaultRelayBackoffMax] with sends bounded by
// [DefaultRelaySendTimeout]), so they override them. By default there
// are none.
func WithReservationOptions(opts ...reservation.Option) Option {
	return func(c *config) { c.reservation = append(c.reservation, opts...) }
}

func checkService(name string) error {
	if !slices.Contains(Services, name) {
		return fmt.Errorf("unknown service %q (want one of %s)", name, strings.Join(Services, ", "))
	}
	return nil
}

// Stack is the reference system running in this process. Its methods are
// safe for concurrent use, but stopping and restarting one part is meant
// to be done by one goroutine at a time.
type Stack struct {
	dir        string
	cfg        config
	kafka      app.KafkaConfig
	brokerAddr string
	brokerPort *heldPort
	topics     []embedded.Topic

	brokerMu sync.Mutex
	broker   *embedded.Broker // nil while stopped

	procs     map[string]*proc
	shutdowns []func(context.Context) error
	http      *http.Client
}

// proc is one service: how to build it, and its current run.
type proc struct {
	name, addr, dsn string
	port            *heldPort // bound from Start to Close
	tel             app.Telemetry
	build           func(ctx context.Context) (app.Runner, error)

	mu      sync.Mutex
	cancel  context.CancelFunc // nil while stopped
	done    chan struct{}
	runErr  error // what the last run returned
	stopped bool  // the last run was stopped by Stop or Close
}

// Start starts the broker and the four services, keeping their files in
// dir (which must exist and which Start does not remove): the SQLite
// databases <service>.db and the broker's data folder kafka/. It returns
// once every service answers /readyz. ctx bounds the start only; the
// system runs until [Stack.Close]. On error nothing stays running.
func Start(ctx context.Context, dir string, opts ...Option) (*Stack, error) {
	cfg := config{
		logger:    slog.New(slog.DiscardHandler),
		dsn:       map[string]string{},
		addr:      map[string]string{},
		neighbour: map[string]string{},
		external:  map[string]bool{},
	}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("stack: nil option")
		}
		o(&cfg)
	}
	if err := errors.Join(cfg.errs...); err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	if dir == "" {
		return nil, errors.New("stack: empty data folder")
	}
	s := &Stack{dir: dir, cfg: cfg, procs: map[string]*proc{}, http: &http.Client{Timeout: 5 * time.Second}}
	if err := s.start(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("stack: %w", err), s.Close(context.WithoutCancel(ctx)))
	}
	return s, nil
}

func (s *Stack) start(ctx context.Context) error {
	var err error
	if s.brokerPort, err = holdPort(s.cfg.brokerAddr, true); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	s.brokerAddr = s.brokerPort.Addr()
	for _, m := range []map[string]int32{reservationv1.TopicPartitions, memberv1.TopicPartitions, roomv1.TopicPartitions, notificationv1.TopicPartitions} {
		for _, name := range slices.Sorted(maps.Keys(m)) {
			if !slices.ContainsFunc(s.topics, func(t embedded.Topic) bool { return t.Name == name }) {
				s.topics = append(s.topics, embedded.Topic{Name: name, Partitions: max(m[name], 1)})
			}
		}
	}
	if err := s.RestartBroker(ctx); err != nil {
		return err
	}
	s.kafka = app.KafkaConfig{Client: events.ClientConfig{Brokers: []string{s.brokerAddr}}}

	for _, name := range Services {
		p := &proc{name: name, dsn: s.cfg.dsn[name]}
		s.procs[name] = p
		// An external service's process accepts on the port itself
		// ([Stack.ListenerFile]); for the others the stack hands a
		// listener to each run.
		if p.port, err = holdPort(s.cfg.addr[name], !s.cfg.external[name]); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		p.addr = p.port.Addr()
		if p.dsn == "" {
			p.dsn = filepath.Join(s.dir, name+".db")
			for i, pr := range s.cfg.pragmas {
				sep := "&"
				if i == 0 {
					sep = "?"
				}
				p.dsn += sep + "_pragma=" + url.QueryEscape(pr)
			}
		}
	}
	for _, name := range Services {
		p := s.procs[name]
		topts := []export.Option{}
		if s.cfg.spans != nil {
			topts = append(topts, export.WithSpanProcessor(s.cfg.spans))
		}
		logger := s.cfg.logger.With(slog.String("service", name))
		tcfg := telemetry.Config{ServiceName: name, Sampler: s.cfg.sampler[0], SamplerArg: s.cfg.sampler[1]}
		tel, shutdown, err := app.SetupTelemetry(ctx, tcfg, logger, topts...)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		s.shutdowns = append(s.shutdowns, shutdown)
		p.tel = tel
		p.build = s.builder(p)
		if s.cfg.external[name] {
			continue
		}
		if err := s.run(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// builder returns the New of p's service with the stack's configuration.
func (s *Stack) builder(p *proc) func(ctx context.Context) (app.Runner, error) {
	switch p.name {
	case Member:
		return func(ctx context.Context) (app.Runner, error) {
			return member.New(ctx, member.Config{Listener: p.port.Listener(), DatabaseURL: p.dsn, Kafka: s.kafka, DemoData: true}, member.WithTelemetry(p.tel))
		}
	case Room:
		return func(ctx context.Context) (app.Runner, error) {
			return room.New(ctx, room.Config{Listener: p.port.Listener(), DatabaseURL: p.dsn, Kafka: s.kafka, DemoData: true}, room.WithTelemetry(p.tel))
		}
	case Notification:
		return func(ctx context.Context) (app.Runner, error) {
			return notification.New(ctx, notification.Config{Listener: p.port.Listener(), DatabaseURL: p.dsn, Kafka: s.kafka}, notification.WithTelemetry(p.tel))
		}
	default:
		return func(ctx context.Context) (app.Runner, error) {
			opts := append([]reservation.Option{
				reservation.WithTelemetry(p.tel),
				reservation.WithRelayOptions(
					outbox.WithBackoff(outbox.DefaultBackoffInitial, DefaultRelayBackoffMax),
					outbox.WithSendTimeout(DefaultRelaySendTimeout)),
			}, s.cfg.reservation...)
			return reservation.New(ctx, reservation.Config{
				Listener: p.port.Listener(), DatabaseURL: p.dsn, Kafka: s.kafka,
				MemberURL: s.neighbourURL(Member), RoomURL: s.neighbourURL(Room),
			}, opts...)
		}
	}
}

func (s *Stack) neighbourURL(name string) string {
	if u := s.cfg.neighbour[name]; u != "" {
		return u
	}
	return s.URL(name)
}

// run builds p's service, runs it in the background and waits until it
// answers /readyz.
func (s *Stack) run(ctx context.Context, p *proc) error {
	p.mu.Lock()
	if p.cancel != nil {
		p.mu.Unlock()
		return fmt.Errorf("%s: already running", p.name)
	}
	svc, err := p.build(ctx)
	if err != nil {
		p.port.Detach()
		p.mu.Unlock()
		return err
	}
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	p.cancel, p.done, p.runErr, p.stopped = cancel, done, nil, false
	p.mu.Unlock()
	go func() {
		defer close(done)
		err := svc.Run(rctx)
		p.mu.Lock()
		p.runErr = err
		p.mu.Unlock()
	}()
	return s.waitReady(ctx, p.name, done)
}

// waitReady polls GET /readyz of name until it answers 200, its run ends,
// or ctx or readyTimeout ends first.
func (s *Stack) waitReady(ctx context.Context, name string, done <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL(name)+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := s.http.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("%s: stopped while starting: %w", name, s.procs[name].lastErr())
		case <-ctx.Done():
			return fmt.Errorf("%s: not ready: %w", name, ctx.Err())
		case <-tick.C:
		}
	}
}

func (p *proc) lastErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.runErr
}

// URL returns the base URL of service, "http://127.0.0.1:port".
func (s *Stack) URL(service string) string {
	p, ok := s.procs[service]
	if !ok {
		return ""
	}
	return "http://" + p.addr
}

// Addr returns the host:port service listens on.
func (s *Stack) Addr(service string) string {
	if p, ok := s.procs[service]; ok {
		return p.addr
	}
	return ""
}

// ListenerFile returns a duplicate of the listening socket of service, a
// service left out with [WithExternal]: the stack binds its port at start
// and keeps it bound until Close, and the process that runs the service
// serves on this file (exec.Cmd.ExtraFiles, then net.FileListener), so a
// killed and restarted process never has to bind the port again. The
// caller closes the file.
func (s *Stack) ListenerFile(service string) (*os.File, error) {
	p, ok := s.procs[service]
	if !ok {
		return nil, checkService(service)
	}
	if !s.cfg.external[service] {
		return nil, fmt.Errorf("%s: not external: the stack serves it", service)
	}
	return p.port.File()
}

// DatabaseURL returns the database of service.
func (s *Stack) DatabaseURL(service string) string {
	if p, ok := s.procs[service]; ok {
		return p.dsn
	}
	return ""
}

// Telemetry returns the telemetry of service: its logger, its tracer and
// meter providers, its /metrics handler.
func (s *Stack) Telemetry(service string) app.Telemetry {
	if p, ok := s.procs[service]; ok {
		return p.tel
	}
	return app.Telemetry{}
}

// Kafka returns how to reach the broker.
func (s *Stack) Kafka() app.KafkaConfig { return s.kafka }

// BrokerAddr returns the host:port of the embedded broker; it stays the
// same across [Stack.StopBroker] and [Stack.RestartBroker].
func (s *Stack) BrokerAddr() string { return s.brokerAddr }

// Topics returns the topics the broker was started with (besides the
// schema topic).
func (s *Stack) Topics() []embedded.Topic { return slices.Clone(s.topics) }

// Dir returns the data folder.
func (s *Stack) Dir() string { return s.dir }

// Running reports whether service is running (started and not stopped,
// and its Run has not returned).
func (s *Stack) Running(service string) bool {
	p, ok := s.procs[service]
	if !ok {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cancel == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Stop stops service: its Run's context is cancelled and Stop waits, at
// most until ctx ends, for it to drain, close its listener, its Kafka
// clients and its database. It returns what Run returned; stopping a
// service that is not running is an error.
func (s *Stack) Stop(ctx context.Context, service string) error {
	p, ok := s.procs[service]
	if !ok {
		return checkService(service)
	}
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	if cancel == nil {
		p.mu.Unlock()
		return fmt.Errorf("stop %s: not running", service)
	}
	p.stopped = true
	p.mu.Unlock()
	cancel()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("stop %s: %w", service, ctx.Err())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cancel = nil
	if p.runErr != nil {
		return fmt.Errorf("stop %s: %w", service, p.runErr)
	}
	return nil
}

// Restart builds service again with New on the same address, database and
// telemetry, runs it and waits until it answers /readyz. The service must
// be stopped (or have stopped on its own).
func (s *Stack) Restart(ctx context.Context, service string) error {
	p, ok := s.procs[service]
	if !ok {
		return checkService(service)
	}
	p.mu.Lock()
	if p.cancel != nil {
		select {
		case <-p.done:
			p.cancel = nil // it stopped on its own
		default:
			p.mu.Unlock()
			return fmt.Errorf("restart %s: still running", service)
		}
	}
	p.mu.Unlock()
	if err := s.run(ctx, p); err != nil {
		return fmt.Errorf("restart %s: %w", service, err)
	}
	return nil
}

// StopBroker closes the embedded broker: it writes its state to its data
// folder and closes its listener; connected clients see their connections
// drop and retry. Stopping a stopped broker does nothing.
func (s *Stack) StopBroker() {
	s.brokerMu.Lock()
	defer s.brokerMu.Unlock()
	if s.broker != nil {
		s.broker.Close()
		s.broker = nil
	}
}

// RestartBroker starts the broker on its address from its data folder:
// the topics, records and committed offsets it had when it stopped.
func (s *Stack) RestartBroker(ctx context.Context) error {
	s.brokerMu.Lock()
	defer s.brokerMu.Unlock()
	if s.broker != nil {
		return errors.New("restart broker: still running")
	}
	b, err := embedded.Start(ctx,
		embedded.WithListener(s.brokerPort.Listener()),
		embedded.WithTopics(s.topics...),
		embedded.WithDataDir(filepath.Join(s.dir, "kafka")),
		embedded.WithLogger(s.cfg.logger.With(slog.String("service", "broker"))))
	if err != nil {
		s.brokerPort.Detach()
		return fmt.Errorf("start broker on %s: %w", s.brokerAddr, err)
	}
	s.broker = b
	return nil
}

// Err returns the errors of the services that stopped on their own —
// whose Run returned while nobody stopped them — or nil.
func (s *Stack) Err() error {
	var errs []error
	for _, name := range Services {
		p := s.procs[name]
		if p == nil {
			continue
		}
		p.mu.Lock()
		if p.cancel != nil && !p.stopped {
			select {
			case <-p.done:
				errs = append(errs, fmt.Errorf("%s stopped on its own: %v", name, p.runErr))
			default:
			}
		}
		p.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Close stops the services (the reservation service first, so that its
// relay stops before the broker), then the broker, and flushes the
// telemetry, waiting at most until ctx ends. It returns the errors of
// services that stopped with one, and leaves dir in place. Close is
// idempotent.
func (s *Stack) Close(ctx context.Context) error {
	var errs []error
	for _, name := range slices.Backward(Services) {
		p := s.procs[name]
		if p == nil {
			continue
		}
		p.mu.Lock()
		running := p.cancel != nil
		p.mu.Unlock()
		if running {
			if err := s.Stop(ctx, name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	s.StopBroker()
	for _, p := range s.procs {
		if p.port != nil {
			_ = p.port.Close()
		}
	}
	if s.brokerPort != nil {
		_ = s.brokerPort.Close()
	}
	for _, shutdown := range s.shutdowns {
		if err := shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("telemetry: %w", err))
		}
	}
	s.shutdowns = nil
	return errors.Join(errs...)
}
