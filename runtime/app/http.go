package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/keiyaku/keiyaku/runtime/httpserver"
	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

// MetricsPath is where [NewHTTPServer] serves [Telemetry.Metrics].
const MetricsPath = "/metrics"

// HTTPConfig describes the HTTP API of one service for [NewHTTPServer].
type HTTPConfig struct {
	// Name is the service name, the operation name of server spans.
	Name string
	// Addr is the TCP address to listen on, e.g. ":8081"; empty keeps
	// the default of runtime/httpserver (":8080").
	Addr string
	// Listener, when set, is where the server serves instead of listening
	// on Addr (a port bound once by the caller and handed over); the
	// server closes it when it stops.
	Listener net.Listener
	// Spec is the service's OpenAPI document (the generated GetSpec());
	// every request is validated against it. Required.
	Spec *openapi3.T
	// API is the generated handler: HandlerWithOptions around
	// NewStrictHandlerWithOptions, with the error hooks of
	// runtime/httpserver. Required.
	API http.Handler
	// DB is checked by /readyz and, with Idempotent, holds the
	// idempotency records. Required.
	DB *sqldb.DB
	// Idempotent makes POST and PATCH requests with an Idempotency-Key
	// replayable, with records kept in DB (sqldb.NewIdempotencyStore).
	Idempotent bool
	// ProviderStates, when set, is served at POST [ProviderStatesPath],
	// outside the contract's validation: the Pact state change endpoint
	// (see [ProviderStates]). For contract tests only; default none.
	ProviderStates http.Handler
}

// NewHTTPServer assembles the HTTP server of a service. A request goes
// through, outermost first: panic recovery, the 1 MiB body limit and the
// /healthz and /readyz endpoints (runtime/httpserver.Server; /readyz pings
// the database), GET /metrics when t.Metrics is set, the server span and
// metrics of t, validation against cfg.Spec (problem+json 400, 404, 405),
// the Idempotency-Key middleware when cfg.Idempotent, and cfg.API.
//
// opts are passed to httpserver.New after the address and logger, so they
// may override them. NewHTTPServer creates the idempotency tables when
// needed; it does not listen: call ListenAndServe or Run on the result.
func NewHTTPServer(ctx context.Context, cfg HTTPConfig, t Telemetry, opts ...httpserver.Option) (*httpserver.Server, error) {
	switch {
	case cfg.Spec == nil:
		return nil, errors.New("new http server: nil OpenAPI document")
	case cfg.API == nil:
		return nil, errors.New("new http server: nil API handler")
	case cfg.DB == nil:
		return nil, errors.New("new http server: nil database")
	}
	t = t.Resolved()
	validate, err := httpserver.Validator(cfg.Spec)
	if err != nil {
		return nil, fmt.Errorf("new http server: %w", err)
	}
	middlewares := []func(http.Handler) http.Handler{validate}
	if cfg.Idempotent {
		store, err := sqldb.NewIdempotencyStore(ctx, cfg.DB)
		if err != nil {
			return nil, fmt.Errorf("new http server: idempotency store: %w", err)
		}
		idem, err := httpserver.Idempotency(store, httpserver.WithIdempotencyLogger(t.Logger))
		if err != nil {
			return nil, fmt.Errorf("new http server: %w", err)
		}
		middlewares = append(middlewares, idem)
	}
	api := t.Handler(httpserver.Chain(cfg.API, middlewares...), cfg.Name)
	if t.Metrics != nil {
		api = withPath(MetricsPath, t.Metrics, api, http.MethodGet, http.MethodHead)
	}
	if cfg.ProviderStates != nil {
		api = withPath(ProviderStatesPath, cfg.ProviderStates, api, http.MethodPost)
	}
	base := []httpserver.Option{
		httpserver.WithLogger(t.Logger),
		httpserver.WithReadinessCheck("db", cfg.DB.PingContext),
	}
	if cfg.Addr != "" {
		base = append(base, httpserver.WithAddr(cfg.Addr))
	}
	if cfg.Listener != nil {
		base = append(base, httpserver.WithListener(cfg.Listener))
	}
	srv, err := httpserver.New(api, append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("new http server: %w", err)
	}
	return srv, nil
}

// withPath serves the requests for path with one of methods with h and
// everything else with next. It matches the raw path itself rather than
// through a ServeMux, which would redirect unclean paths before the
// validator can refuse them.
func withPath(path string, h, next http.Handler, methods ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == path && slices.Contains(methods, r.Method) {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
