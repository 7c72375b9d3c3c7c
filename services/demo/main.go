// Command demo runs the hotel-reservation reference system on one machine
// with nothing to install, plays a scenario and tells what happens:
//
//	go run ./services/demo        # or: make demo
//
// One process starts the embedded Kafka-protocol broker on a real TCP
// port and the member, room, notification and reservation services, each
// on its own loopback HTTP port with its own SQLite file in a temporary
// folder and its own tracer provider; the services talk over TCP only
// (HTTP and the Kafka protocol). The scenario books rooms, follows the
// events to the three consumers, then stops the member service, the room
// service and the broker in turn, and shows what the system does about
// it; it ends with the timeline of one reservation's trace across the
// four services. Every claim the narration makes is checked: when
// something does not behave as told, the demo says what and exits 1.
//
// Flags:
//
//	-v      also print the services' logs (JSON) to stderr
//	-keep   keep the data folder (SQLite files, broker data) at the end
//
// SIGINT or SIGTERM stop everything at any point and remove the data
// folder (exit status 130).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/keiyaku/keiyaku/runtime/telemetry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run plays the demo and returns the exit status: 0 when every step
// behaved as told, 1 when one did not, 2 for bad flags, 130 when ctx was
// cancelled (a signal).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	verbose := fs.Bool("v", false, "also print the services' logs (JSON) to stderr")
	keep := fs.Bool("keep", false, "keep the data folder (SQLite files, broker data) at the end")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "demo: unexpected arguments %q\n", fs.Args())
		return 2
	}
	dir, err := os.MkdirTemp("", "keiyaku-demo-")
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 1
	}
	book := &logbook{}
	if *verbose {
		book.echo = telemetry.NewLogger(stderr, slog.LevelInfo).Handler()
	}
	d := newDemo(stdout, dir, book)
	err = d.play(ctx)
	if *keep {
		d.out.say("data kept in %s", dir)
	} else if rerr := os.RemoveAll(dir); rerr != nil {
		err = errors.Join(err, fmt.Errorf("remove %s: %w", dir, rerr))
	} else {
		d.out.say("data folder %s removed", dir)
	}
	err = errors.Join(err, d.out.err)
	switch {
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "demo: interrupted: everything is stopped and the data folder removed")
		return 130
	case err != nil:
		fmt.Fprintf(stderr, "demo: FAILED: %v\n", err)
		return 1
	}
	return 0
}
