package app

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// Serve is the whole body of a service's main: it runs p with [Main] on
// the process's environment, logging to stderr, until SIGINT or SIGTERM
// asks it to stop gracefully, then exits the process with Main's code (0
// after a clean stop, 2 for a configuration error, 1 for any other
// failure). It does not return.
//
//	func main() {
//		app.Serve(app.Process{Name: "orders", DefaultAddr: ":8080", Start: orders.Start})
//	}
func Serve(p Process) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Getenv, os.Stderr, p)
	stop()
	os.Exit(code)
}
