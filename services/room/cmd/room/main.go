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

	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/services/room"
)

func main() {
	app.Serve(app.Process{
		Name:        room.Name,
		DefaultAddr: room.DefaultAddr,
		Start: func(ctx context.Context, env app.Env, tel app.Telemetry) (app.Runner, error) {
			ttl, err := env.Duration("HOLD_TTL", room.DefaultHoldTTL)
			if err != nil {
				return nil, err
			}
			return room.New(ctx, room.Config{
				ListenAddr:     env.ListenAddr,
				DatabaseURL:    env.DatabaseURL,
				Kafka:          env.Kafka,
				DemoData:       env.DemoData,
				ProviderStates: env.ProviderStates,
			}, room.WithTelemetry(tel), room.WithHoldTTL(ttl))
		},
	})
}
