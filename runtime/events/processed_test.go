package events_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/keiyaku/keiyaku/runtime/events"
)

// TestMemoryProcessed pins the Processed contract on the in-memory
// implementation: fn runs once per id; a failed fn records nothing and the
// next call runs it again; a second call with the same id waits while the
// first runs and then reports done without running fn; different ids do
// not wait for each other.
func TestMemoryProcessed(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		m := events.NewMemoryProcessed()
		var runs atomic.Int32
		ok := func(context.Context) error { runs.Add(1); return nil }

		done, err := m.Process(ctx, "a", func(context.Context) error { runs.Add(1); return errors.New("boom") })
		if done || err == nil || err.Error() != "boom" {
			t.Fatalf("failing fn: done=%v err=%v, want false, boom", done, err)
		}
		if done, err := m.Process(ctx, "a", ok); done || err != nil {
			t.Fatalf("after a failure: done=%v err=%v, want fn to run", done, err)
		}
		if done, err := m.Process(ctx, "a", ok); !done || err != nil {
			t.Fatalf("after success: done=%v err=%v, want done", done, err)
		}
		if runs.Load() != 2 {
			t.Fatalf("fn ran %d times, want 2", runs.Load())
		}

		// Two calls for "b" at once, and one for "c" meanwhile.
		release := make(chan struct{})
		var bRuns atomic.Int32
		slow := func(context.Context) error { bRuns.Add(1); <-release; return nil }
		results := make(chan bool, 2)
		go func() { d, _ := m.Process(ctx, "b", slow); results <- d }()
		synctest.Wait() // the first call is inside fn
		go func() { d, _ := m.Process(ctx, "b", slow); results <- d }()
		synctest.Wait() // the second call is blocked behind it
		if done, err := m.Process(ctx, "c", ok); done || err != nil {
			t.Fatalf("other id while b runs: done=%v err=%v", done, err)
		}
		if len(results) != 0 {
			t.Fatal("a call for b returned while fn was still running")
		}
		close(release)
		first, second := <-results, <-results
		if first || !second || bRuns.Load() != 1 {
			t.Fatalf("concurrent calls: done %v then %v, fn ran %d times; want false, true, 1", first, second, bRuns.Load())
		}
	})
}

// TestMemoryProcessedBounded pins that the memory set is bounded: past its
// size the oldest ids are forgotten (and would run again) while the newest
// are remembered.
func TestMemoryProcessedBounded(t *testing.T) {
	t.Parallel()
	m, err := events.NewMemoryProcessedSize(3)
	must(t, err)
	ctx := t.Context()
	noop := func(context.Context) error { return nil }
	for i := range 5 {
		if _, err := m.Process(ctx, fmt.Sprint(i), noop); err != nil {
			t.Fatal(err)
		}
	}
	if m.Len() != 3 {
		t.Fatalf("Len = %d, want 3", m.Len())
	}
	for id, want := range map[string]bool{"0": false, "1": false, "2": true, "3": true, "4": true} {
		// Check without recording: a failing fn records nothing.
		done, _ := m.Process(ctx, id, func(context.Context) error { return errors.New("probe") })
		if done != want {
			t.Errorf("id %s remembered = %v, want %v", id, done, want)
		}
	}
}

// TestMemoryProcessedBadInput pins errors instead of panics for bad input.
func TestMemoryProcessedBadInput(t *testing.T) {
	t.Parallel()
	if _, err := events.NewMemoryProcessedSize(0); err == nil || !strings.Contains(err.Error(), "size 0") {
		t.Errorf("size 0: err = %v", err)
	}
	m := events.NewMemoryProcessed()
	if _, err := m.Process(t.Context(), "", func(context.Context) error { return nil }); err == nil {
		t.Error("empty id: no error")
	}
	if _, err := m.Process(t.Context(), "x", nil); err == nil {
		t.Error("nil fn: no error")
	}
}
