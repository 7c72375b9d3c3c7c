package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/httpserver"
	"github.com/keiyaku/keiyaku/runtime/sqldb"
	"github.com/keiyaku/keiyaku/runtime/telemetry"
	"github.com/keiyaku/keiyaku/runtime/telemetry/export"
)

// The environment variables [LoadEnv] reads, besides the OTEL_* ones of
// runtime/telemetry.
const (
	EnvListenAddr             = "LISTEN_ADDR"
	EnvDatabaseURL            = "DATABASE_URL"
	EnvDataDir                = "DATA_DIR"
	EnvKafkaBrokers           = "KAFKA_BROKERS"
	EnvKafkaTLS               = "KAFKA_TLS"
	EnvKafkaTLSCAFile         = "KAFKA_TLS_CA_FILE"
	EnvKafkaTLSCertFile       = "KAFKA_TLS_CERT_FILE"
	EnvKafkaTLSKeyFile        = "KAFKA_TLS_KEY_FILE"
	EnvKafkaSASLMech          = "KAFKA_SASL_MECHANISM"
	EnvKafkaSASLUser          = "KAFKA_SASL_USERNAME"
	EnvKafkaSASLPassword      = "KAFKA_SASL_PASSWORD"
	EnvSchemaRegistryURL      = "SCHEMA_REGISTRY_URL"
	EnvSchemaRegistryUser     = "SCHEMA_REGISTRY_USERNAME"
	EnvSchemaRegistryPassword = "SCHEMA_REGISTRY_PASSWORD"
	EnvSchemaRegistryCAFile   = "SCHEMA_REGISTRY_TLS_CA_FILE"
	EnvLogLevel               = "LOG_LEVEL"
	EnvMetricsAddr            = "METRICS_ADDR"
	// Consumer group membership, client id and processed-event retention.
	EnvKafkaClientID          = "KAFKA_CLIENT_ID"
	EnvKafkaSessionTimeout    = "KAFKA_SESSION_TIMEOUT"
	EnvKafkaHeartbeatInterval = "KAFKA_HEARTBEAT_INTERVAL"
	EnvKafkaGroupInstanceID   = "KAFKA_GROUP_INSTANCE_ID"
	EnvProcessedRetention     = "PROCESSED_EVENTS_RETENTION"
	EnvSQLiteSync             = "SQLITE_SYNC"
	// Switches for development and contract tests.
	EnvDemoData       = "DEMO_DATA"
	EnvProviderStates = "PACT_PROVIDER_STATES"
)

// Defaults of [LoadEnv].
const (
	DefaultKafkaBrokers = "localhost:9092"
	DefaultDataDir      = "data"
)

// shutdownTimeout bounds the flush of telemetry when a process stops.
const shutdownTimeout = 10 * time.Second

// Env is the configuration of a service process, read from its
// environment by [LoadEnv]:
//
//	| variable                  | default                 | field                                 |
//	|---------------------------|-------------------------|---------------------------------------|
//	| LISTEN_ADDR               | the service's own port  | ListenAddr                            |
//	| DATABASE_URL              | DATA_DIR/<service>.db   | DatabaseURL: postgres://… or SQLite   |
//	| DATA_DIR                  | data                    | DataDir (for the default SQLite file) |
//	| KAFKA_BROKERS             | localhost:9092          | Kafka.Client.Brokers, comma-separated |
//	| KAFKA_TLS                 | false                   | TLS with the system roots             |
//	| KAFKA_TLS_CA_FILE         | (none)                  | TLS with these roots (PEM)            |
//	| KAFKA_TLS_CERT_FILE/_KEY_ | (none)                  | mutual TLS client certificate (PEM)   |
//	| KAFKA_SASL_MECHANISM      | (none)                  | PLAIN, SCRAM-SHA-256, SCRAM-SHA-512   |
//	| KAFKA_SASL_USERNAME/_PASSWORD | (none)              | the SASL login                        |
//	| SCHEMA_REGISTRY_URL       | (none: schema topic)    | Kafka.SchemaRegistryURL (no login in  |
//	|                           |                         | it: user info moves to the login)     |
//	| SCHEMA_REGISTRY_USERNAME/_PASSWORD | (none)         | the registry's basic-auth login       |
//	| SCHEMA_REGISTRY_TLS_CA_FILE | (system roots)        | Kafka.SchemaRegistryTLS roots (PEM)   |
//	| KAFKA_CLIENT_ID           | the service name        | Kafka.ClientID                        |
//	| KAFKA_SESSION_TIMEOUT     | 6s                      | Kafka.Group.SessionTimeout            |
//	| KAFKA_HEARTBEAT_INTERVAL  | 1.5s                    | Kafka.Group.HeartbeatInterval         |
//	| KAFKA_GROUP_INSTANCE_ID   | (none: dynamic member)  | Kafka.Group.InstanceID                |
//	| PROCESSED_EVENTS_RETENTION| 168h                    | Kafka.ProcessedRetention              |
//	| LOG_LEVEL                 | info                    | debug, info, warn or error            |
//	| METRICS_ADDR              | (none: /metrics is on   | MetricsAddr: serve /metrics on this   |
//	|                           | LISTEN_ADDR)            | address only, not on the API's        |
//	| SQLITE_SYNC               | NORMAL                  | DatabaseURL gets                      |
//	|                           |                         | _pragma=synchronous(FULL|EXTRA)       |
//	| DEMO_DATA                 | false                   | DemoData                              |
//	| PACT_PROVIDER_STATES      | false                   | ProviderStates                        |
//	| OTEL_*                    | see runtime/telemetry   | Telemetry; OTEL_SERVICE_NAME defaults |
//	|                           |                         | to the service name                   |
type Env struct {
	ListenAddr  string
	DatabaseURL string
	// DataDir is the folder of the default SQLite database; empty when
	// DATABASE_URL is set.
	DataDir   string
	Kafka     KafkaConfig
	Telemetry telemetry.Config
	LogLevel  slog.Level
	// MetricsAddr, when set, is the TCP address of a listener of its own
	// for GET /metrics (e.g. "127.0.0.1:9464", reachable by the scraper
	// only); /metrics is then not served on ListenAddr. Empty serves
	// /metrics on ListenAddr, next to the API.
	MetricsAddr string
	// DemoData asks the service to insert its demo data (DEMO_DATA): for
	// the demo and local development only. A service without demo data
	// ignores it.
	DemoData bool
	// ProviderStates asks the service to serve the Pact state change
	// endpoint (PACT_PROVIDER_STATES, see [ProviderStates]): for contract
	// tests only; [Main] logs a warning when it is on.
	ProviderStates bool
	// Getenv is the lookup Env was read with, for a service's own
	// variables (the reservation service's MEMBER_URL and ROOM_URL).
	Getenv func(string) string
}

// LoadEnv reads the configuration of the service named name from the
// environment through getenv (main passes os.Getenv); defaultAddr is its
// listen address when LISTEN_ADDR is empty. It returns an error naming the
// variable when a value is malformed, and reads the TLS files named by the
// KAFKA_TLS_* variables.
func LoadEnv(getenv func(string) string, name, defaultAddr string) (Env, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	get := func(key, def string) string {
		if v := strings.TrimSpace(getenv(key)); v != "" {
			return v
		}
		return def
	}
	var errs []error
	env := Env{
		ListenAddr:  get(EnvListenAddr, defaultAddr),
		MetricsAddr: get(EnvMetricsAddr, ""),
		DatabaseURL: get(EnvDatabaseURL, ""),
		Telemetry:   telemetry.ConfigFromEnv(getenv),
		Getenv:      getenv,
	}
	if env.DatabaseURL == "" {
		env.DataDir = get(EnvDataDir, DefaultDataDir)
		env.DatabaseURL = filepath.Join(env.DataDir, name+".db")
	}
	// SQLite's synchronous mode, when it is not runtime/sqldb's default
	// (NORMAL: no fsync per commit in WAL mode), goes into the DSN.
	switch sync := strings.ToUpper(get(EnvSQLiteSync, "NORMAL")); sync {
	case "NORMAL":
	case "FULL", "EXTRA":
		if !sqldb.IsPostgresDSN(env.DatabaseURL) {
			sep := "?"
			if strings.Contains(env.DatabaseURL, "?") {
				sep = "&"
			}
			env.DatabaseURL += sep + "_pragma=synchronous(" + sync + ")"
		}
	default:
		errs = append(errs, fmt.Errorf("%s: %q: want NORMAL, FULL or EXTRA", EnvSQLiteSync, sync))
	}
	if env.Telemetry.ServiceName == "" {
		env.Telemetry.ServiceName = name
	}
	if err := env.LogLevel.UnmarshalText([]byte(get(EnvLogLevel, "info"))); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", EnvLogLevel, err))
	}
	for b := range strings.SplitSeq(get(EnvKafkaBrokers, DefaultKafkaBrokers), ",") {
		if b = strings.TrimSpace(b); b != "" {
			env.Kafka.Client.Brokers = append(env.Kafka.Client.Brokers, b)
		}
	}
	if len(env.Kafka.Client.Brokers) == 0 {
		errs = append(errs, fmt.Errorf("%s: no broker", EnvKafkaBrokers))
	}
	useTLS, err := strconv.ParseBool(get(EnvKafkaTLS, "false"))
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", EnvKafkaTLS, err))
	}
	ca, cert, key := get(EnvKafkaTLSCAFile, ""), get(EnvKafkaTLSCertFile, ""), get(EnvKafkaTLSKeyFile, "")
	if useTLS || ca != "" || cert != "" || key != "" {
		cfg, err := events.LoadTLS(ca, cert, key)
		if err != nil {
			errs = append(errs, fmt.Errorf("KAFKA_TLS_*: %w", err))
		}
		env.Kafka.Client.TLS = cfg
	}
	if mech := get(EnvKafkaSASLMech, ""); mech != "" {
		env.Kafka.Client.SASL = &events.SASL{
			Mechanism: mech,
			User:      get(EnvKafkaSASLUser, ""),
			Password:  getenv(EnvKafkaSASLPassword),
		}
	}
	if _, err := env.Kafka.Client.Options(); err != nil {
		errs = append(errs, fmt.Errorf("KAFKA_*: %w", err))
	}
	if reg := get(EnvSchemaRegistryURL, ""); reg != "" {
		env.Kafka.SchemaRegistryUsername = get(EnvSchemaRegistryUser, "")
		env.Kafka.SchemaRegistryPassword = getenv(EnvSchemaRegistryPassword)
		env.Kafka.SchemaRegistryURL = reg
		base, user, pass, err := registryEndpoint(env.Kafka)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvSchemaRegistryURL, err))
		}
		env.Kafka.SchemaRegistryURL, env.Kafka.SchemaRegistryUsername, env.Kafka.SchemaRegistryPassword = base, user, pass
		if ca := get(EnvSchemaRegistryCAFile, ""); ca != "" {
			cfg, err := events.LoadTLS(ca, "", "")
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", EnvSchemaRegistryCAFile, err))
			}
			env.Kafka.SchemaRegistryTLS = cfg
		}
	}
	for _, b := range []struct {
		key string
		dst *bool
	}{{EnvDemoData, &env.DemoData}, {EnvProviderStates, &env.ProviderStates}} {
		if *b.dst, err = EnvBool(getenv, b.key); err != nil {
			errs = append(errs, err)
		}
	}
	env.Kafka.ClientID = get(EnvKafkaClientID, name)
	env.Kafka.Group.InstanceID = get(EnvKafkaGroupInstanceID, "")
	env.Kafka.Group.SessionTimeout, env.Kafka.Group.HeartbeatInterval = DefaultSessionTimeout, DefaultHeartbeatInterval
	for _, d := range []struct {
		key string
		dst *time.Duration
	}{
		{EnvKafkaSessionTimeout, &env.Kafka.Group.SessionTimeout},
		{EnvKafkaHeartbeatInterval, &env.Kafka.Group.HeartbeatInterval},
		{EnvProcessedRetention, &env.Kafka.ProcessedRetention},
	} {
		if v := get(d.key, ""); v != "" {
			if *d.dst, err = parseDuration(d.key, v); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Env{}, fmt.Errorf("configuration of %s: %w", name, err)
	}
	return env, nil
}

// Get returns the service's own variable key (the reservation service's
// MEMBER_URL), trimmed, or def when it is empty.
func (e Env) Get(key, def string) string {
	if e.Getenv != nil {
		if v := strings.TrimSpace(e.Getenv(key)); v != "" {
			return v
		}
	}
	return def
}

// Duration returns the service's own variable key (the room service's
// HOLD_TTL) as a positive Go duration, def when it is empty, or an error
// naming the variable.
func (e Env) Duration(key string, def time.Duration) (time.Duration, error) {
	v := e.Get(key, "")
	if v == "" {
		return def, nil
	}
	return parseDuration(key, v)
}

// parseDuration parses the value v of the variable key as a positive
// duration.
func parseDuration(key, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: %q is not a positive duration (e.g. 6s, 168h)", key, v)
	}
	return d, nil
}

// EnvBool reads the boolean variable name through getenv (a service's own
// variable, e.g. DEMO_DATA): false when it is empty, else what
// strconv.ParseBool makes of it, or an error naming the variable.
func EnvBool(getenv func(string) string, name string) (bool, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s: %q is not true or false", name, v)
	}
	return b, nil
}

// Runner is a service built by a [Process]: Run serves until ctx is done,
// then shuts down gracefully and releases what the service holds.
type Runner interface {
	Run(ctx context.Context) error
}

// Process describes a service binary for [Main].
type Process struct {
	// Name is the service name: the default OTEL_SERVICE_NAME and the
	// name of the default SQLite file.
	Name string
	// DefaultAddr is the listen address when LISTEN_ADDR is empty.
	DefaultAddr string
	// Start builds the service from env, reporting through t.
	Start func(ctx context.Context, env Env, t Telemetry) (Runner, error)
}

// Main runs a service process and returns its exit code: it reads the
// environment through getenv ([LoadEnv]), logs JSON with trace ids to
// stderr, sets up telemetry (installed as OpenTelemetry's globals: one
// service per process), builds the service with p.Start and runs it until
// ctx is done (main cancels it on SIGINT or SIGTERM), then flushes the
// telemetry. It returns 0 after a clean stop, 2 for a configuration error
// and 1 for any other failure.
func Main(ctx context.Context, getenv func(string) string, stderr io.Writer, p Process) int {
	if p.Start == nil || p.Name == "" {
		fmt.Fprintln(stderr, "app: process without name or Start")
		return 2
	}
	env, err := LoadEnv(getenv, p.Name, p.DefaultAddr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	logger := telemetry.NewLogger(stderr, env.LogLevel).With(slog.String("service", env.Telemetry.ServiceName))
	if env.DataDir != "" {
		if err := os.MkdirAll(env.DataDir, 0o750); err != nil {
			logger.Error("cannot create the data folder", "dir", env.DataDir, "error", err)
			return 1
		}
	}
	tel, shutdown, err := SetupTelemetry(ctx, env.Telemetry, logger, export.WithGlobal(true))
	if err != nil {
		logger.Error("bad telemetry configuration", "error", err)
		return 2
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		if err := shutdown(sctx); err != nil {
			logger.Warn("telemetry shutdown", "error", err)
		}
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var metricsDone <-chan error
	if env.MetricsAddr != "" {
		// /metrics on a listener of its own, and not on the API's.
		metricsDone, err = serveMetrics(ctx, env.MetricsAddr, tel)
		if err != nil {
			logger.Error("cannot serve metrics", "addr", env.MetricsAddr, "error", err)
			return 1
		}
		tel.Metrics = nil
	}
	code := runService(ctx, p, env, tel, logger)
	cancel()
	if metricsDone != nil {
		if err := <-metricsDone; err != nil {
			logger.Warn("metrics server", "error", err)
		}
	}
	return code
}

// runService builds the service with p.Start and runs it until ctx is done.
func runService(ctx context.Context, p Process, env Env, tel Telemetry, logger *slog.Logger) int {
	if env.ProviderStates {
		logger.Warn(EnvProviderStates + " is on: POST " + ProviderStatesPath + " changes data on request; for contract tests only")
	}
	svc, err := p.Start(ctx, env, tel)
	if err != nil {
		logger.Error("service failed to start", "error", err)
		return 1
	}
	logger.Info("service started", "addr", env.ListenAddr, "brokers", strings.Join(env.Kafka.Client.Brokers, ","))
	if err := svc.Run(ctx); err != nil {
		logger.Error("service stopped with an error", "error", err)
		return 1
	}
	logger.Info("service stopped")
	return 0
}

// serveMetrics listens on addr and serves t.Metrics at GET /metrics (and
// the health endpoints of runtime/httpserver) until ctx is done; the
// channel gets the server's error once it stopped.
func serveMetrics(ctx context.Context, addr string, t Telemetry) (<-chan error, error) {
	if t.Metrics == nil {
		return nil, errors.New("no metrics handler")
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+MetricsPath, t.Metrics)
	srv, err := httpserver.New(mux, httpserver.WithLogger(t.Resolved().Logger.With("server", "metrics")))
	if err != nil {
		return nil, err
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	return done, nil
}
