package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Option configures a [Server].
type Option func(*config)

type config struct {
	addr              string
	listener          net.Listener
	readHeaderTimeout time.Duration
	readTimeout       time.Duration
	writeTimeout      time.Duration
	idleTimeout       time.Duration
	maxHeaderBytes    int
	maxBodyBytes      int64
	shutdownTimeout   time.Duration
	readinessTimeout  time.Duration
	checks            []check
	logger            *slog.Logger
}

type check struct {
	name string
	fn   func(context.Context) error
}

// WithAddr sets the TCP address [Server.ListenAndServe] listens on,
// overriding the default ":8080".
func WithAddr(addr string) Option {
	return func(c *config) { c.addr = addr }
}

// WithListener makes [Server.ListenAndServe] serve on ln instead of
// listening on the address of [WithAddr]: the caller binds the port (or
// inherits it from a parent process) and hands it over. The Server takes
// ownership of ln and closes it when it stops. By default ListenAndServe
// listens on the address of WithAddr.
func WithListener(ln net.Listener) Option {
	return func(c *config) { c.listener = ln }
}

// WithReadHeaderTimeout bounds the time to read the request headers,
// overriding the default 5s. It must be positive: it is what stops clients
// that send headers byte by byte (slowloris).
func WithReadHeaderTimeout(d time.Duration) Option {
	return func(c *config) { c.readHeaderTimeout = d }
}

// WithReadTimeout bounds the time to read a whole request, body included,
// overriding the default 30s. Zero means no bound; it must not be
// negative.
func WithReadTimeout(d time.Duration) Option {
	return func(c *config) { c.readTimeout = d }
}

// WithWriteTimeout bounds the time from the end of the request headers to
// the end of the response, overriding the default 30s. Zero means no
// bound; it must not be negative.
func WithWriteTimeout(d time.Duration) Option {
	return func(c *config) { c.writeTimeout = d }
}

// WithIdleTimeout bounds how long a keep-alive connection waits for the
// next request, overriding the default 2m. Zero means the read timeout is
// used, as in net/http; it must not be negative.
func WithIdleTimeout(d time.Duration) Option {
	return func(c *config) { c.idleTimeout = d }
}

// WithMaxHeaderBytes bounds the size of the request line and headers,
// overriding the default 64 KiB. It must be positive. Larger requests are
// answered 431 by net/http.
func WithMaxHeaderBytes(n int) Option {
	return func(c *config) { c.maxHeaderBytes = n }
}

// WithMaxBodyBytes bounds the size of a request body, overriding the
// default 1 MiB. It must be positive. A request that declares a larger
// Content-Length is answered 413 at once; a chunked body that grows past
// the limit fails to read with an [http.MaxBytesError], which [Validator],
// [Idempotency] and [RequestErrorHandler] answer 413.
func WithMaxBodyBytes(n int64) Option {
	return func(c *config) { c.maxBodyBytes = n }
}

// WithShutdownTimeout bounds how long [Server.Run] waits for in-flight
// requests once its context is done, overriding the default 10s. It must
// be positive. Connections still active after it are closed.
func WithShutdownTimeout(d time.Duration) Option {
	return func(c *config) { c.shutdownTimeout = d }
}

// WithReadinessCheck adds a check that /readyz runs, for example a
// database ping. The server is ready when every check returns nil within
// the readiness timeout. Names must be unique and non-empty; they are
// shown to the caller of /readyz when their check fails, errors are only
// logged. fn must return soon after ctx is done: /readyz answers at the
// timeout without waiting for it. There are no checks by default.
func WithReadinessCheck(name string, fn func(ctx context.Context) error) Option {
	return func(c *config) { c.checks = append(c.checks, check{name: name, fn: fn}) }
}

// WithReadinessTimeout bounds each run of the readiness checks, overriding
// the default 2s. It must be positive. A check still running after it
// fails.
func WithReadinessTimeout(d time.Duration) Option {
	return func(c *config) { c.readinessTimeout = d }
}

// WithLogger sets the logger for panics, failed readiness checks, failed
// shutdowns and net/http's own errors, overriding the default that
// discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// Paths of the health endpoints that [Server] serves before the API.
const (
	LivenessPath  = "/healthz"
	ReadinessPath = "/readyz"
)

// Server is an HTTP server for one service's API, with the safety every
// service needs. Build it with [New] and start it with [Server.Run] or
// [Server.ListenAndServe]; a Server runs once.
//
// Requests go through, in order:
//
//  1. panic recovery: a panic in a handler is logged with its stack and
//     answered 500 with a generic problem — no stack, no panic value to
//     the client. If the response had already started, the connection is
//     aborted instead, so the client cannot mistake a cut response for a
//     whole one;
//  2. the body limit (see [WithMaxBodyBytes]): 413 problem;
//  3. the health endpoints: GET or HEAD /healthz answers 200 whenever the
//     server serves (liveness); GET or HEAD /readyz runs the readiness
//     checks and answers 200, or 503 with a problem naming the failed
//     checks, and 503 from the moment shutdown begins;
//  4. the handler given to New — typically [Chain] of [Validator],
//     [Idempotency] and the generated handler.
//
// The http.Server underneath bounds header time, read and write time,
// idle connections and header size (see the options). A Server is safe
// for concurrent use.
type Server struct {
	cfg      config
	srv      *http.Server
	handler  http.Handler
	stopping atomic.Bool
	started  sync.Once
}

// defaultWriteTimeout is the default of [WithWriteTimeout].
const defaultWriteTimeout = 30 * time.Second

// New returns a Server that serves handler behind recovery, the body limit
// and the health endpoints. It returns an error if handler is nil or an
// option is out of range.
func New(handler http.Handler, opts ...Option) (*Server, error) {
	if handler == nil {
		return nil, errors.New("httpserver: nil handler")
	}
	cfg := config{
		addr:              ":8080",
		readHeaderTimeout: 5 * time.Second,
		readTimeout:       30 * time.Second,
		writeTimeout:      defaultWriteTimeout,
		idleTimeout:       2 * time.Minute,
		maxHeaderBytes:    64 << 10,
		maxBodyBytes:      1 << 20,
		shutdownTimeout:   10 * time.Second,
		readinessTimeout:  2 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("httpserver: %w", err)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg}
	s.handler = recoverPanics(cfg.logger, limitBody(cfg.maxBodyBytes, s.health(handler)))
	s.srv = &http.Server{
		Addr:              cfg.addr,
		Handler:           s.handler,
		ReadHeaderTimeout: cfg.readHeaderTimeout,
		ReadTimeout:       cfg.readTimeout,
		WriteTimeout:      cfg.writeTimeout,
		IdleTimeout:       cfg.idleTimeout,
		MaxHeaderBytes:    cfg.maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(cfg.logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

func (c *config) validate() error {
	switch {
	case c.readHeaderTimeout <= 0:
		return fmt.Errorf("read header timeout %v is not positive", c.readHeaderTimeout)
	case c.readTimeout < 0:
		return fmt.Errorf("read timeout %v is negative", c.readTimeout)
	case c.writeTimeout < 0:
		return fmt.Errorf("write timeout %v is negative", c.writeTimeout)
	case c.idleTimeout < 0:
		return fmt.Errorf("idle timeout %v is negative", c.idleTimeout)
	case c.maxHeaderBytes <= 0:
		return fmt.Errorf("max header bytes %d is not positive", c.maxHeaderBytes)
	case c.maxBodyBytes <= 0:
		return fmt.Errorf("max body bytes %d is not positive", c.maxBodyBytes)
	case c.shutdownTimeout <= 0:
		return fmt.Errorf("shutdown timeout %v is not positive", c.shutdownTimeout)
	case c.readinessTimeout <= 0:
		return fmt.Errorf("readiness timeout %v is not positive", c.readinessTimeout)
	}
	seen := make(map[string]bool, len(c.checks))
	for _, ch := range c.checks {
		switch {
		case ch.name == "":
			return errors.New("readiness check with an empty name")
		case ch.fn == nil:
			return fmt.Errorf("readiness check %q is nil", ch.name)
		case seen[ch.name]:
			return fmt.Errorf("readiness check %q added twice", ch.name)
		}
		seen[ch.name] = true
	}
	return nil
}

// Handler returns the whole chain the server serves: recovery, body
// limit, health endpoints, then the handler given to [New]. It is meant
// for tests and for embedding in another server; it reports shutdown on
// /readyz only when the Server itself runs.
func (s *Server) Handler() http.Handler { return s.handler }

// ListenAndServe listens on the address set by [WithAddr] (or takes the
// listener of [WithListener]) and calls [Server.Run].
func (s *Server) ListenAndServe(ctx context.Context) error {
	if s.cfg.listener != nil {
		return s.Run(ctx, s.cfg.listener)
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.addr)
	if err != nil {
		return fmt.Errorf("httpserver: listen: %w", err)
	}
	return s.Run(ctx, ln)
}

// Run serves connections accepted on ln until ctx is done, then shuts down
// gracefully: /readyz starts answering 503, ln is closed so no new
// connection is accepted, idle connections are closed, and Run waits for
// in-flight requests to finish, up to the shutdown timeout (see
// [WithShutdownTimeout]). Connections still active then are closed.
//
// Run takes ownership of ln and closes it. It returns nil after a clean
// shutdown, an error wrapping context.DeadlineExceeded when in-flight
// requests outlived the shutdown timeout, or the error that stopped
// serving (ln failing, for example). A Server runs once: a second call to
// Run or ListenAndServe returns an error and closes ln.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	first := false
	s.started.Do(func() { first = true })
	if !first {
		_ = ln.Close()
		return errors.New("httpserver: server already started")
	}
	served := make(chan error, 1)
	go func() { served <- s.srv.Serve(ln) }()
	s.cfg.logger.InfoContext(ctx, "http server listening", "addr", ln.Addr().String())
	select {
	case err := <-served:
		s.stopping.Store(true)
		return fmt.Errorf("httpserver: serve: %w", err)
	case <-ctx.Done():
	}
	s.stopping.Store(true)
	s.cfg.logger.InfoContext(ctx, "http server shutting down", "addr", ln.Addr().String(), "timeout", s.cfg.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.shutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	<-served // http.ErrServerClosed, at once
	if err != nil {
		closeErr := s.srv.Close()
		s.cfg.logger.ErrorContext(ctx, "http server shutdown timed out; connections closed", "error", err)
		return errors.Join(fmt.Errorf("httpserver: shutdown: %w", err), closeErr)
	}
	return nil
}
