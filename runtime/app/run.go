package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Task is one long-running part of a service: its HTTP server, event
// consumer or outbox relay.
type Task struct {
	// Name identifies the task in errors.
	Name string
	// Run works until its context is done and returns nil after a clean
	// stop, or stops early with an error.
	Run func(ctx context.Context) error
}

// Run runs tasks concurrently until ctx is done, then waits for all of
// them to stop. When one task returns before ctx is done — with an error
// or not — the others are stopped too (their context is cancelled): a
// service with a dead part must not pretend to be up. Run returns the
// errors of the tasks, each prefixed with its name and joined, or nil
// when every task stopped cleanly after ctx was done.
func Run(ctx context.Context, tasks ...Task) error {
	for i, t := range tasks {
		if t.Run == nil {
			return fmt.Errorf("run: task %d (%q) has no Run", i, t.Name)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, t := range tasks {
		wg.Go(func() {
			err := t.Run(ctx)
			stoppedEarly := ctx.Err() == nil
			cancel()
			switch {
			case err != nil:
				err = fmt.Errorf("%s: %w", t.Name, err)
			case stoppedEarly:
				err = fmt.Errorf("%s: stopped before the service was stopped", t.Name)
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
