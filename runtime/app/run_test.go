package app_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keiyaku/keiyaku/runtime/app"
)

// untilDone is a task that works until its context is done.
func untilDone(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// TestRun pins how a service's parts live and die together: all stop
// when the context is done (nil when they stop cleanly); a part that
// fails, or stops on its own, stops the others and is reported by name;
// a task without Run is refused.
func TestRun(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	tests := []struct {
		name    string
		tasks   []app.Task
		cancel  bool // cancel the context once the tasks run
		wantErr []string
		wantIs  error
	}{
		{
			name:   "clean stop",
			tasks:  []app.Task{{Name: "a", Run: untilDone}, {Name: "b", Run: untilDone}},
			cancel: true,
		},
		{
			name:    "one fails",
			tasks:   []app.Task{{Name: "http", Run: untilDone}, {Name: "consumer", Run: func(context.Context) error { return boom }}},
			wantErr: []string{"consumer: boom"},
			wantIs:  boom,
		},
		{
			name:    "one stops on its own",
			tasks:   []app.Task{{Name: "http", Run: untilDone}, {Name: "relay", Run: func(context.Context) error { return nil }}},
			wantErr: []string{"relay: stopped before the service was stopped"},
		},
		{
			name: "errors while stopping are joined",
			tasks: []app.Task{
				{Name: "a", Run: func(ctx context.Context) error { <-ctx.Done(); return errors.New("drain a") }},
				{Name: "b", Run: func(ctx context.Context) error { <-ctx.Done(); return errors.New("drain b") }},
			},
			cancel:  true,
			wantErr: []string{"a: drain a", "b: drain b"},
		},
		{
			name:    "task without Run",
			tasks:   []app.Task{{Name: "a", Run: untilDone}, {Name: "nothing"}},
			wantErr: []string{`task 1 ("nothing") has no Run`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// In a bubble, the cancel comes once every task is blocked
			// on its context, without waiting for real time.
			var err error
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				if tc.cancel {
					time.AfterFunc(time.Second, cancel)
				}
				err = app.Run(ctx, tc.tasks...)
			})
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Run = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Run = nil, want %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Run = %q, want it to contain %q", err, w)
				}
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("Run = %v, want it to wrap %v", err, tc.wantIs)
			}
		})
	}
}

// TestParts pins a built service's life: Run runs its tasks, then
// releases what was deferred, the last added first and once only, and
// reports a failing task and a failing release together.
func TestParts(t *testing.T) {
	t.Parallel()
	var order []string
	release := func(name string, err error) func() error {
		return func() error { order = append(order, name); return err }
	}
	closeErr := errors.New("close db")
	var p app.Parts
	p.Defer(release("db", closeErr))
	p.Defer(release("kafka", nil))
	p.Go("http", func(context.Context) error { return errors.New("bind") })
	err := p.Run(t.Context())
	if err == nil || !errors.Is(err, closeErr) || !strings.Contains(err.Error(), "http: bind") {
		t.Errorf("Run = %v, want the task's and the release's errors", err)
	}
	if err := p.Close(); !errors.Is(err, closeErr) {
		t.Errorf("Close after Run = %v, want the same error again", err)
	}
	if want := []string{"kafka", "db"}; !slices.Equal(order, want) {
		t.Errorf("released %v, want %v (last deferred first, once)", order, want)
	}
}
