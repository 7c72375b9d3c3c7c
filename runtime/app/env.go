package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/sqldb"
	"github.com/keiyaku/keiyaku/runtime/telemetry"
)

// The environment variables [LoadEnv] reads, besides the OTEL_* ones of
// runtime/telemetry.
const (
	EnvListenAddr        = "LISTEN_ADDR"
	EnvDatabaseURL       = "DATABASE_URL"
	EnvDataDir           = "DATA_DIR"
	EnvKafkaBrokers      = "KAFKA_BROKERS"
	EnvKafkaTLS          = "KAFKA_TLS"
	EnvKafkaTLSCAFile    = "KAFKA_TLS_CA_FILE"
	EnvKafkaTLSCertFile  = "KAFKA_TLS_CERT_FILE"
	EnvKafkaTLSKeyFile   = "KAFKA_TLS_KEY_FILE"
	EnvKafkaSASLMech     = "KAFKA_SASL_MECHANISM"
	EnvKafkaSASLUser     = "KAFKA_SASL_USERNAME"
	EnvKafkaSASLPassword = "KAFKA_SASL_PASSWORD"
	EnvSchemaRegistryURL = "SCHEMA_REGISTRY_URL"
	EnvLogLevel          = "LOG_LEVEL"
	EnvSQLiteSync        = "SQLITE_SYNC"
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
//	| SCHEMA_REGISTRY_URL       | (none: schema topic)    | Kafka.SchemaRegistryURL               |
//	| LOG_LEVEL                 | info                    | debug, info, warn or error            |
//	| SQLITE_SYNC               | NORMAL                  | DatabaseURL gets                      |
//	|                           |                         | _pragma=synchronous(FULL|EXTRA)       |
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
	env.Kafka.SchemaRegistryURL = get(EnvSchemaRegistryURL, "")
	if err := errors.Join(errs...); err != nil {
		return Env{}, fmt.Errorf("configuration of %s: %w", name, err)
	}
	return env, nil
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
	tel, shutdown, err := SetupTelemetry(ctx, env.Telemetry, logger, telemetry.WithGlobal(true))
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
