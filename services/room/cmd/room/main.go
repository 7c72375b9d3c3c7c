// Command room runs the room service of the reference system.
//
// It is configured by the environment (see runtime/app.LoadEnv):
// LISTEN_ADDR (default :8082), DATABASE_URL (default data/room.db, a
// SQLite file), KAFKA_BROKERS, SCHEMA_REGISTRY_URL, the OTEL_* variables,
// and HOLD_TTL, how long an unconfirmed hold blocks a room (a Go duration,
// default 15m), DEMO_DATA (true: insert the demo rooms, for the demo and
// local development) and PACT_PROVIDER_STATES (true: serve the Pact state
// change endpoint, for contract tests). SIGINT or SIGTERM stop it
// gracefully.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/services/room"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Main(ctx, os.Getenv, os.Stderr, app.Process{
		Name:        room.Name,
		DefaultAddr: room.DefaultAddr,
		Start: func(ctx context.Context, env app.Env, tel app.Telemetry) (app.Runner, error) {
			opts := []room.Option{room.WithTelemetry(tel)}
			if v := env.Getenv("HOLD_TTL"); v != "" {
				ttl, err := time.ParseDuration(v)
				if err != nil {
					return nil, fmt.Errorf("HOLD_TTL: %w", err)
				}
				opts = append(opts, room.WithHoldTTL(ttl))
			}
			demo, err := app.EnvBool(env.Getenv, "DEMO_DATA")
			if err != nil {
				return nil, err
			}
			states, err := app.EnvBool(env.Getenv, "PACT_PROVIDER_STATES")
			if err != nil {
				return nil, err
			}
			if states {
				tel.Resolved().Logger.Warn("PACT_PROVIDER_STATES is on: POST /_pact/provider-states changes data on request; for contract tests only")
			}
			return room.New(ctx, room.Config{
				ListenAddr:     env.ListenAddr,
				DatabaseURL:    env.DatabaseURL,
				Kafka:          env.Kafka,
				DemoData:       demo,
				ProviderStates: states,
			}, opts...)
		},
	})
	stop()
	os.Exit(code)
}
