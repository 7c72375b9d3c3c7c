package codec

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// TestBoundedCache pins that the cache never holds more than its bound and
// keeps the entry just put.
func TestBoundedCache(t *testing.T) {
	t.Parallel()
	c := newBoundedCache[int, int](10)
	for i := range 100 {
		c.put(i, i*i)
		if v, ok := c.get(i); !ok || v != i*i {
			t.Fatalf("get(%d) = %d, %v right after put", i, v, ok)
		}
		if n := c.len(); n > 10 {
			t.Fatalf("len = %d after %d puts, bound 10", n, i+1)
		}
	}
	c.put(99, 0) // overwrite: no growth, new value
	if v, _ := c.get(99); v != 0 || c.len() != 10 {
		t.Errorf("overwrite: get = %d, len = %d", v, c.len())
	}
}

// TestFlightShares pins that concurrent callers for one key share one call
// and all receive its result.
func TestFlightShares(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var f flight[string, int]
		var calls atomic.Int32
		release := make(chan struct{})
		results := make(chan int, 5)
		for range 5 {
			go func() {
				v, err := f.do(t.Context(), "k", func(context.Context) (int, error) {
					calls.Add(1)
					<-release
					return 42, nil
				})
				if err != nil {
					t.Error(err)
				}
				results <- v
			}()
		}
		synctest.Wait() // every caller is running fn or waiting on it
		close(release)
		for range 5 {
			if v := <-results; v != 42 {
				t.Errorf("result = %d, want 42", v)
			}
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("fn ran %d times, want 1", n)
		}
	})
}

// TestFlightLeaderGivesUp pins that a leader whose context ends does not
// fail the waiters: a waiter with a live context runs the call again.
func TestFlightLeaderGivesUp(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var f flight[string, int]
		var calls atomic.Int32
		leaderCtx, cancelLeader := context.WithCancel(t.Context())
		fn := func(ctx context.Context) (int, error) {
			if calls.Add(1) == 1 {
				<-ctx.Done() // the leader's call lasts until its caller gives up
				return 0, ctx.Err()
			}
			return 7, nil
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			if _, err := f.do(leaderCtx, "k", fn); err == nil {
				t.Error("leader succeeded after its context was canceled")
			}
		})
		synctest.Wait()
		var got int
		var gotErr error
		wg.Go(func() { got, gotErr = f.do(t.Context(), "k", fn) })
		synctest.Wait() // the waiter is blocked on the leader's call
		cancelLeader()
		wg.Wait()
		if gotErr != nil || got != 7 {
			t.Errorf("waiter got %d, %v; want 7, nil", got, gotErr)
		}
	})
}
