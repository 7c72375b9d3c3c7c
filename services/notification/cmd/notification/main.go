// Command notification runs the notification service of the reference system.
//
// It is configured by the environment (see runtime/app.LoadEnv):
// LISTEN_ADDR (default :8083), DATABASE_URL (default data/notification.db, a
// SQLite file), KAFKA_BROKERS, SCHEMA_REGISTRY_URL and the OTEL_*
// variables. SIGINT or SIGTERM stop it gracefully.
package main

import (
	"context"

	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/services/notification"
)

func main() {
	app.Serve(app.Process{
		Name:        notification.Name,
		DefaultAddr: notification.DefaultAddr,
		Start: func(ctx context.Context, env app.Env, tel app.Telemetry) (app.Runner, error) {
			return notification.New(ctx, notification.Config{
				ListenAddr:  env.ListenAddr,
				DatabaseURL: env.DatabaseURL,
				Kafka:       env.Kafka,
			}, notification.WithTelemetry(tel))
		},
	})
}
