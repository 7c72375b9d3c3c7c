// Command member runs the member service of the reference system.
//
// It is configured by the environment (see runtime/app.LoadEnv):
// LISTEN_ADDR (default :8081), DATABASE_URL (default data/member.db, a
// SQLite file), KAFKA_BROKERS, SCHEMA_REGISTRY_URL and the OTEL_*
// variables, DEMO_DATA (true: insert the demo members, for the demo and
// local development) and PACT_PROVIDER_STATES (true: serve the Pact state
// change endpoint, for contract tests). SIGINT or SIGTERM stop it
// gracefully.
package main

import (
	"context"

	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/services/member"
)

func main() {
	app.Serve(app.Process{
		Name:        member.Name,
		DefaultAddr: member.DefaultAddr,
		Start: func(ctx context.Context, env app.Env, tel app.Telemetry) (app.Runner, error) {
			return member.New(ctx, member.Config{
				ListenAddr:     env.ListenAddr,
				DatabaseURL:    env.DatabaseURL,
				Kafka:          env.Kafka,
				DemoData:       env.DemoData,
				ProviderStates: env.ProviderStates,
			}, member.WithTelemetry(tel))
		},
	})
}
