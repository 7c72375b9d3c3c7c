package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// Parts is a built service as a [Runner]: the long-running tasks a
// Process's Start assembled (HTTP server, consumers, outbox relay) and
// what to release once they stopped (Kafka clients, the database). The
// zero value is ready to use; build it in Start, then return it:
//
//	var parts app.Parts
//	parts.Defer(db.Close)
//	parts.Go("http", srv.ListenAndServe)
//	return &parts, nil
type Parts struct {
	tasks   []Task
	closers []func() error
	once    sync.Once
	err     error
}

// Go adds the task name to what [Parts.Run] runs.
func (p *Parts) Go(name string, run func(ctx context.Context) error) {
	p.tasks = append(p.tasks, Task{Name: name, Run: run})
}

// Defer adds release to what [Parts.Close] calls, the last added first.
func (p *Parts) Defer(release func() error) {
	p.closers = append(p.closers, release)
}

// Run runs the tasks with [Run] until ctx is done (or one of them stops),
// then closes the parts; it returns the errors of both, joined.
func (p *Parts) Run(ctx context.Context) error {
	return errors.Join(Run(ctx, p.tasks...), p.Close())
}

// Close calls the deferred functions, the last added first, and returns
// their errors joined. Run calls it; call it yourself only for parts that
// never run (a Start that fails half-way). It is idempotent.
func (p *Parts) Close() error {
	p.once.Do(func() {
		var errs []error
		for _, release := range slices.Backward(p.closers) {
			errs = append(errs, release())
		}
		p.err = errors.Join(errs...)
	})
	return p.err
}
