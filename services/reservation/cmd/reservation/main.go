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
	"os"
	"os/signal"
	"syscall"

	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/services/reservation"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Main(ctx, os.Getenv, os.Stderr, app.Process{
		Name:        reservation.Name,
		DefaultAddr: reservation.DefaultAddr,
		Start: func(ctx context.Context, env app.Env, tel app.Telemetry) (app.Runner, error) {
			return reservation.New(ctx, reservation.Config{
				ListenAddr:  env.ListenAddr,
				DatabaseURL: env.DatabaseURL,
				Kafka:       env.Kafka,
				MemberURL:   getenv(env, "MEMBER_URL", "http://localhost:8081"),
				RoomURL:     getenv(env, "ROOM_URL", "http://localhost:8082"),
			}, reservation.WithTelemetry(tel))
		},
	})
	stop()
	os.Exit(code)
}

func getenv(env app.Env, key, def string) string {
	if v := env.Getenv(key); v != "" {
		return v
	}
	return def
}
