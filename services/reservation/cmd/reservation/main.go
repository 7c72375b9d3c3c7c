// Command reservation runs the reservation service of the reference
// system.
//
// It is configured by the environment (see runtime/app.LoadEnv):
// LISTEN_ADDR (default :8080), DATABASE_URL (default data/reservation.db,
// a SQLite file), KAFKA_BROKERS, SCHEMA_REGISTRY_URL, the OTEL_*
// variables, and the base URLs of its neighbours, MEMBER_URL (default
// http://localhost:8081) and ROOM_URL (default http://localhost:8082).
// SIGINT or SIGTERM stop it gracefully.
package main

import (
	"context"

	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/services/reservation"
)

func main() {
	app.Serve(app.Process{
		Name:        reservation.Name,
		DefaultAddr: reservation.DefaultAddr,
		Start: func(ctx context.Context, env app.Env, tel app.Telemetry) (app.Runner, error) {
			return reservation.New(ctx, reservation.Config{
				ListenAddr:  env.ListenAddr,
				DatabaseURL: env.DatabaseURL,
				Kafka:       env.Kafka,
				MemberURL:   env.Get("MEMBER_URL", "http://localhost:8081"),
				RoomURL:     env.Get("ROOM_URL", "http://localhost:8082"),
			}, reservation.WithTelemetry(tel))
		},
	})
}
