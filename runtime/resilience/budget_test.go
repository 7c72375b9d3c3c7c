package resilience

import (
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestBudgetBoundsLoadOnDeadTarget pins the promise of the retry budget:
// against a target failing every request, over 1,200 calls from 8
// goroutines, the target sees at most 1.1× the calls — not 3× — with the
// default budget and the breaker off, and the refused retries are reported
// as ErrBudgetExhausted.
func TestBudgetBoundsLoadOnDeadTarget(t *testing.T) {
	t.Parallel()
	const workers, perWorker = 8, 150
	const calls = workers * perWorker
	s := &script{then: status(503)}
	url := serve(t, s)
	m := newMeter()
	c := newClient(t, WithoutBreaker(), m.opt)
	var (
		mu        sync.Mutex
		exhausted int
		wg        sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for range perWorker {
				_, err := get(t.Context(), c, url)
				if err == nil {
					t.Error("Do succeeded against a dead target")
					return
				}
				if errors.Is(err, ErrBudgetExhausted) {
					mu.Lock()
					exhausted++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	attempts := s.count()
	t.Logf("%d calls, %d attempts, %d refused retries", calls, attempts, exhausted)
	if attempts > calls*11/10 {
		t.Errorf("target saw %d attempts for %d calls, want at most %d", attempts, calls, calls*11/10)
	}
	if attempts <= calls {
		t.Errorf("target saw %d attempts for %d calls: the budget allowed no retry at all", attempts, calls)
	}
	if exhausted == 0 || int64(exhausted) != m.count(t, MetricBudgetExhausted) {
		t.Errorf("%d calls ended with ErrBudgetExhausted, metric %d; want the same, more than 0",
			exhausted, m.count(t, MetricBudgetExhausted))
	}
}

// TestBudgetWindow pins the budget's arithmetic: retries ≤ max(ratio ×
// calls, floor) over the window, and both calls and retries leave the window
// as it slides.
func TestBudgetWindow(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		ratio, min   float64
		calls        int
		wantRetries  int
		afterWindow  int // retries allowed after the window passed, no new calls
		afterRefresh int // retries allowed after `calls` new calls
	}{
		{"ratio binds", 0.1, 1, 200, 20, 10, 20},
		{"floor binds", 0.1, 2, 50, 20, 20, 20},
		{"no floor", 0.5, 0, 10, 5, 0, 5},
		{"nothing", 0, 0, 100, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				b := newBudget(tc.ratio, tc.min, 10*time.Second)
				for range tc.calls {
					b.call()
				}
				if got := drain(b); got != tc.wantRetries {
					t.Errorf("retries allowed: %d, want %d", got, tc.wantRetries)
				}
				time.Sleep(10 * time.Second)
				if got := drain(b); got != tc.afterWindow {
					t.Errorf("after the window: %d, want %d", got, tc.afterWindow)
				}
				time.Sleep(10 * time.Second)
				for range tc.calls {
					b.call()
				}
				if got := drain(b); got != tc.afterRefresh {
					t.Errorf("after new calls: %d, want %d", got, tc.afterRefresh)
				}
			})
		})
	}
}

// TestBudgetSlides pins that the window slides in tenths: calls made 5s ago
// still count, calls made 10s ago no longer do.
func TestBudgetSlides(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := newBudget(1, 0, 10*time.Second)
		b.call()
		time.Sleep(5 * time.Second)
		b.call()
		time.Sleep(5 * time.Second) // the first call left the window
		if got := drain(b); got != 1 {
			t.Errorf("retries allowed: %d, want 1", got)
		}
	})
}

// drain takes retries from b until it refuses, and returns how many it got.
func drain(b *budget) int {
	n := 0
	for b.retry() {
		n++
		if n > 1e6 {
			break
		}
	}
	return n
}
