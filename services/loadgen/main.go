// Command loadgen puts load on the reservation service of the reference
// system and reports what it sustains:
//
//	go run ./services/loadgen -embedded -duration 10s -concurrency 32
//	go run ./services/loadgen -target http://localhost:8080 -brokers localhost:9092
//
// Each of -concurrency workers sends POST /reservations back to back for
// -duration, each request with a fresh Idempotency-Key and its own
// (room, night) so that none is refused as taken (409): the seeded rooms
// in turn, one night each, from -start on. It then prints the requests
// per second, the latency percentiles, the outbox lag (the
// keiyaku_outbox_lag_seconds histogram the reservation service exports at
// /metrics: time from the commit of a reservation to the broker's
// acknowledgement of its event) and the lag of the three consumer groups
// sampled during the run, and how long they took to drain once the load
// stopped.
//
// -embedded starts the whole system in this process first (the stack of
// `make demo`: embedded broker, four services on loopback, SQLite files in
// a temporary folder, removed at the end) on SQLite's synchronous=NORMAL,
// the default of runtime/sqldb (commits are not fsynced, which in WAL mode
// is safe against corruption and process crashes but can lose the last
// commits on power loss); -sqlite-sync FULL fsyncs every commit;
// -postgres postgres://… puts the four databases on PostgreSQL instead,
// one schema each; -trace-ratio sets the share of traces the services
// record (0.1 by default, parent-based, as a production deployment would
// sample; 1 records every span). Without -embedded, -target names a running
// reservation service and -brokers, optionally, its Kafka for the consumer
// lag.
//
// SIGINT or SIGTERM stop the run early; the report covers what was done.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses the flags, runs the load and prints the report; it returns
// the exit status: 0, 1 when the run failed (no answer at all, a system
// that did not start), 2 for bad flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cfg config
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.bind(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := cfg.check(fs.NArg()); err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 2
	}
	rep, err := load(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	if err := rep.write(stdout); err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	return 0
}
