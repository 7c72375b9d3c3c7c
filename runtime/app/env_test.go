package app_test

import (
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/runtime/app"
)

// TestLoadEnv pins the process configuration a main reads: the defaults
// (the service's own port, a SQLite file per service under data/,
// localhost:9092, the service name as OTEL_SERVICE_NAME), the variables
// that override them, and an error naming the variable for a malformed
// value.
func TestLoadEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, e app.Env)
		wantErr string
	}{
		{
			name: "defaults",
			env:  nil,
			check: func(t *testing.T, e app.Env) {
				if e.ListenAddr != ":8081" || e.DatabaseURL != filepath.Join("data", "member.db") || e.DataDir != "data" {
					t.Errorf("addr %q, database %q, data dir %q", e.ListenAddr, e.DatabaseURL, e.DataDir)
				}
				if !slices.Equal(e.Kafka.Client.Brokers, []string{"localhost:9092"}) || e.Kafka.SchemaRegistryURL != "" {
					t.Errorf("kafka %+v", e.Kafka)
				}
				if e.Telemetry.ServiceName != "member" || e.LogLevel != slog.LevelInfo {
					t.Errorf("service name %q, level %v", e.Telemetry.ServiceName, e.LogLevel)
				}
			},
		},
		{
			name: "overrides",
			env: map[string]string{
				"LISTEN_ADDR": "127.0.0.1:9000", "DATABASE_URL": "postgres://db/member",
				"KAFKA_BROKERS": "k1:9092, k2:9093,", "SCHEMA_REGISTRY_URL": "http://registry:8081",
				"OTEL_SERVICE_NAME": "member-eu", "LOG_LEVEL": "debug", "MEMBER_URL": "http://m",
				"KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p",
			},
			check: func(t *testing.T, e app.Env) {
				if e.ListenAddr != "127.0.0.1:9000" || e.DatabaseURL != "postgres://db/member" || e.DataDir != "" {
					t.Errorf("addr %q, database %q, data dir %q", e.ListenAddr, e.DatabaseURL, e.DataDir)
				}
				if !slices.Equal(e.Kafka.Client.Brokers, []string{"k1:9092", "k2:9093"}) || e.Kafka.SchemaRegistryURL != "http://registry:8081" {
					t.Errorf("kafka %+v", e.Kafka)
				}
				if s := e.Kafka.Client.SASL; s == nil || s.Mechanism != "SCRAM-SHA-512" || s.User != "u" || s.Password != "p" {
					t.Errorf("sasl %+v", s)
				}
				if e.Telemetry.ServiceName != "member-eu" || e.LogLevel != slog.LevelDebug || e.Getenv("MEMBER_URL") != "http://m" {
					t.Errorf("service name %q, level %v, MEMBER_URL %q", e.Telemetry.ServiceName, e.LogLevel, e.Getenv("MEMBER_URL"))
				}
			},
		},
		{name: "data dir", env: map[string]string{"DATA_DIR": "/var/lib/keiyaku"}, check: func(t *testing.T, e app.Env) {
			if e.DatabaseURL != filepath.Join("/var/lib/keiyaku", "member.db") {
				t.Errorf("database %q", e.DatabaseURL)
			}
		}},
		{name: "sqlite sync full", env: map[string]string{"SQLITE_SYNC": "full"}, check: func(t *testing.T, e app.Env) {
			if want := filepath.Join("data", "member.db") + "?_pragma=synchronous(FULL)"; e.DatabaseURL != want {
				t.Errorf("database %q, want %q", e.DatabaseURL, want)
			}
		}},
		{name: "sqlite sync on postgres", env: map[string]string{"SQLITE_SYNC": "FULL", "DATABASE_URL": "postgres://db/member"}, check: func(t *testing.T, e app.Env) {
			if e.DatabaseURL != "postgres://db/member" {
				t.Errorf("database %q", e.DatabaseURL)
			}
		}},
		{name: "bad sqlite sync", env: map[string]string{"SQLITE_SYNC": "OFF"}, wantErr: "SQLITE_SYNC"},
		{name: "bad log level", env: map[string]string{"LOG_LEVEL": "loud"}, wantErr: "LOG_LEVEL"},
		{name: "bad broker", env: map[string]string{"KAFKA_BROKERS": "kafka"}, wantErr: "KAFKA_"},
		{name: "no broker", env: map[string]string{"KAFKA_BROKERS": " , "}, wantErr: "KAFKA_BROKERS"},
		{name: "bad tls flag", env: map[string]string{"KAFKA_TLS": "maybe"}, wantErr: "KAFKA_TLS"},
		{name: "missing ca file", env: map[string]string{"KAFKA_TLS_CA_FILE": "/nonexistent/ca.pem"}, wantErr: "KAFKA_TLS"},
		{name: "sasl without password", env: map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u"}, wantErr: "password"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, err := app.LoadEnv(func(k string) string { return tc.env[k] }, "member", ":8081")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("LoadEnv = %v, want an error naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadEnv: %v", err)
			}
			tc.check(t, e)
		})
	}
}
