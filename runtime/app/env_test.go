package app_test

import (
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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
				if e.DemoData || e.ProviderStates {
					t.Errorf("demo data %v, provider states %v: want both off", e.DemoData, e.ProviderStates)
				}
				if d, err := e.Duration("HOLD_TTL", time.Minute); d != time.Minute || err != nil {
					t.Errorf("Duration of an unset variable: %v, %v; want the default", d, err)
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
				"DEMO_DATA": "true", "PACT_PROVIDER_STATES": "1", "HOLD_TTL": " 90s ", "BAD_TTL": "-1s",
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
				if !e.DemoData || !e.ProviderStates {
					t.Errorf("demo data %v, provider states %v: want both on", e.DemoData, e.ProviderStates)
				}
				if d, err := e.Duration("HOLD_TTL", time.Minute); d != 90*time.Second || err != nil {
					t.Errorf("Duration(HOLD_TTL=90s) = %v, %v", d, err)
				}
				if _, err := e.Duration("BAD_TTL", time.Minute); err == nil || !strings.Contains(err.Error(), "BAD_TTL") {
					t.Errorf("Duration(BAD_TTL=-1s): %v, want an error naming it", err)
				}
				if got := e.Get("MEMBER_URL", "x"); got != "http://m" {
					t.Errorf("Get(MEMBER_URL) = %q", got)
				}
				if got := e.Get("ROOM_URL", "http://r"); got != "http://r" {
					t.Errorf("Get(ROOM_URL) = %q, want the default", got)
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
		{name: "registry login in its own variables", env: map[string]string{
			"SCHEMA_REGISTRY_URL": "https://registry:8081", "SCHEMA_REGISTRY_USERNAME": "svc", "SCHEMA_REGISTRY_PASSWORD": "s3cret",
		}, check: func(t *testing.T, e app.Env) {
			k := e.Kafka
			if k.SchemaRegistryURL != "https://registry:8081" || k.SchemaRegistryUsername != "svc" || k.SchemaRegistryPassword != "s3cret" {
				t.Errorf("registry %q login %q/%q", k.SchemaRegistryURL, k.SchemaRegistryUsername, k.SchemaRegistryPassword)
			}
		}},
		// A login still written into the URL works, but leaves the URL: the
		// URL is what reaches ce_dataschema headers and error text.
		{name: "registry login moved out of the URL", env: map[string]string{"SCHEMA_REGISTRY_URL": "https://svc:s3cret@registry:8081/"}, check: func(t *testing.T, e app.Env) {
			k := e.Kafka
			if k.SchemaRegistryURL != "https://registry:8081/" || k.SchemaRegistryUsername != "svc" || k.SchemaRegistryPassword != "s3cret" {
				t.Errorf("registry %q login %q/%q", k.SchemaRegistryURL, k.SchemaRegistryUsername, k.SchemaRegistryPassword)
			}
		}},
		{name: "registry login given twice", env: map[string]string{"SCHEMA_REGISTRY_URL": "https://svc:s3cret@registry", "SCHEMA_REGISTRY_PASSWORD": "other"}, wantErr: "given twice"},
		{name: "registry url not absolute", env: map[string]string{"SCHEMA_REGISTRY_URL": "registry:8081"}, wantErr: "SCHEMA_REGISTRY_URL"},
		{name: "registry ca missing", env: map[string]string{"SCHEMA_REGISTRY_URL": "https://r", "SCHEMA_REGISTRY_TLS_CA_FILE": "/nonexistent/ca.pem"}, wantErr: "SCHEMA_REGISTRY_TLS_CA_FILE"},
		{name: "consumer group", env: map[string]string{
			"KAFKA_CLIENT_ID": "member-eu-1", "KAFKA_SESSION_TIMEOUT": "9s", "KAFKA_HEARTBEAT_INTERVAL": "2s",
			"KAFKA_GROUP_INSTANCE_ID": "member-0", "PROCESSED_EVENTS_RETENTION": "336h",
		}, check: func(t *testing.T, e app.Env) {
			g := e.Kafka.Group
			if e.Kafka.ClientID != "member-eu-1" || g.SessionTimeout != 9*time.Second || g.HeartbeatInterval != 2*time.Second ||
				g.InstanceID != "member-0" || e.Kafka.ProcessedRetention != 336*time.Hour {
				t.Errorf("kafka %+v", e.Kafka)
			}
		}},
		{name: "client id defaults to the service", env: nil, check: func(t *testing.T, e app.Env) {
			if e.Kafka.ClientID != "member" {
				t.Errorf("client id %q, want the service name", e.Kafka.ClientID)
			}
			if g := e.Kafka.Group; g.SessionTimeout != app.DefaultSessionTimeout || g.HeartbeatInterval != app.DefaultHeartbeatInterval {
				t.Errorf("group %+v, want the services' 6s session and 1.5s heartbeat", g)
			}
		}},
		{name: "bad session timeout", env: map[string]string{"KAFKA_SESSION_TIMEOUT": "6"}, wantErr: "KAFKA_SESSION_TIMEOUT"},
		{name: "bad retention", env: map[string]string{"PROCESSED_EVENTS_RETENTION": "-1h"}, wantErr: "PROCESSED_EVENTS_RETENTION"},
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
				if strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("the error shows the registry password: %v", err)
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
