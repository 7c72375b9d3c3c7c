package resilience

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"testing/synctest"
	"time"
)

// These tests run in a synctest bubble over an in-memory network, so the
// default timings apply and the durations they check are fake time: exact,
// and independent of the machine's speed.

// TestAttemptTimeout pins that a slow attempt is abandoned at the attempt
// timeout and retried, and the caller gets the retry's answer.
func TestAttemptTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := &script{steps: []step{slow(time.Minute)}, then: ok("fast")}
		c, err := New("room", WithTransport(servePipe(t, s)))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		resp, err := get(t.Context(), c, pipeURL)
		if err != nil {
			t.Fatalf("Do: %v", err)
		}
		if body := readAll(t, resp); body != "fast" {
			t.Errorf("body %q, want the retry's", body)
		}
		// The first attempt ends at 2s; the backoff before retry 1 is at
		// most 100ms.
		if d := time.Since(start); d < DefaultAttemptTimeout || d > DefaultAttemptTimeout+DefaultBackoffInitial {
			t.Errorf("call took %v, want 2s plus at most one backoff", d)
		}
		if s.count() != 2 {
			t.Errorf("server saw %d attempts, want 2", s.count())
		}
	})
}

// TestCallDeadline pins the overall deadline: a target that never answers
// costs the caller 5s, not 3 × 2s, and the error says deadline.
func TestCallDeadline(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts []Option
		ctx  time.Duration // the caller's own deadline, if any
		want time.Duration
	}{
		{"default", nil, 0, DefaultTimeout},
		{"caller's deadline is shorter", nil, 3 * time.Second, 3 * time.Second},
		{"policy", Policy{Timeout: 3 * time.Second, AttemptTimeout: time.Second}.Options(), 0, 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				s := &script{then: slow(time.Hour)}
				c, err := New("room", append(tc.opts, WithTransport(servePipe(t, s)))...)
				if err != nil {
					t.Fatal(err)
				}
				ctx := t.Context()
				if tc.ctx > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.ctx)
					defer cancel()
				}
				start := time.Now()
				_, err = get(ctx, c, pipeURL)
				if d := time.Since(start); d != tc.want {
					t.Errorf("call took %v, want %v", d, tc.want)
				}
				var e *Error
				if !errors.As(err, &e) || !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("Do error %v, want an *Error with DeadlineExceeded", err)
				}
				if e.Attempts < 2 || e.Attempts > 3 || s.count() != e.Attempts {
					t.Errorf("%d attempts, server saw %d; want 2 or 3, the same", e.Attempts, s.count())
				}
			})
		})
	}
}

// TestRetryAfter pins Retry-After on 429 and 503: the client waits as told
// (seconds or HTTP date), and when told to wait longer than the deadline
// leaves, it returns that response at once instead of waiting.
func TestRetryAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		code       int
		retryAfter func(now time.Time) string
		wantWait   time.Duration
		wantStatus int
		attempts   int
	}{
		{"429 seconds", 429, func(time.Time) string { return "2" }, 2 * time.Second, 200, 2},
		{"503 seconds", 503, func(time.Time) string { return "3" }, 3 * time.Second, 200, 2},
		{"429 date", 429, func(now time.Time) string { return now.Add(3 * time.Second).UTC().Format(http.TimeFormat) }, 3 * time.Second, 200, 2},
		{"429 past date", 429, func(now time.Time) string { return now.Add(-time.Hour).UTC().Format(http.TimeFormat) }, -1, 200, 2},
		{"429 malformed", 429, func(time.Time) string { return "soon" }, -1, 200, 2},
		{"429 beyond the deadline", 429, func(time.Time) string { return "10" }, 0, 429, 1},
		{"503 beyond the deadline", 503, func(now time.Time) string { return now.Add(time.Hour).UTC().Format(http.TimeFormat) }, 0, 503, 1},
		{"429 huge", 429, func(time.Time) string { return "99999999999999999999999" }, 0, 429, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				first := func(w http.ResponseWriter, r *http.Request) {
					status(tc.code, "Retry-After", tc.retryAfter(time.Now()))(w, r)
				}
				s := &script{steps: []step{first}, then: ok("fine")}
				c, err := New("room", WithTransport(servePipe(t, s)))
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				resp, err := get(t.Context(), c, pipeURL)
				if err != nil {
					t.Fatalf("Do: %v", err)
				}
				readAll(t, resp)
				d := time.Since(start)
				switch {
				case resp.StatusCode != tc.wantStatus:
					t.Errorf("status %d, want %d", resp.StatusCode, tc.wantStatus)
				case tc.wantWait >= 0 && d != tc.wantWait:
					t.Errorf("waited %v, want %v", d, tc.wantWait)
				case tc.wantWait < 0 && d > DefaultBackoffInitial: // no usable hint: the backoff
					t.Errorf("waited %v, want at most the first backoff", d)
				}
				if tc.wantStatus == 429 && resp.Header.Get("Retry-After") == "" {
					t.Error("the returned 429 lost its Retry-After")
				}
				if s.count() != tc.attempts {
					t.Errorf("server saw %d attempts, want %d", s.count(), tc.attempts)
				}
			})
		})
	}
}

// TestCallerCancellation pins that cancelling the request's context stops
// the call at once — during an attempt or during the wait before a retry —
// with context.Canceled, no further attempt and no fallback.
func TestCallerCancellation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		first step
	}{
		{"during an attempt", slow(time.Hour)},
		{"during the wait", status(429, "Retry-After", "3")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				s := &script{steps: []step{tc.first}, then: ok("fine")}
				c, err := New("room", WithTransport(servePipe(t, s)),
					WithFallback(nil, Static(200, nil, []byte("fallback"))))
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(t.Context())
				time.AfterFunc(time.Second, cancel)
				start := time.Now()
				resp, err := get(ctx, c, pipeURL)
				if d := time.Since(start); d != time.Second {
					t.Errorf("Do returned after %v, want 1s", d)
				}
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Do = %v, %v; want context.Canceled and no fallback", resp, err)
				}
				synctest.Wait()
				if s.count() != 1 {
					t.Errorf("server saw %d attempts, want 1", s.count())
				}
			})
		})
	}
}

// TestCancelledCallDoesNotTripBreaker pins that calls the caller cancels,
// or sends with an expired context, are not failures of the target: they
// do not open the breaker, and an expired call sends nothing.
func TestCancelledCallDoesNotTripBreaker(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := &script{then: slow(time.Hour)}
		c, err := New("room", WithTransport(servePipe(t, s)), WithBreaker(BreakerSettings{ConsecutiveFailures: 2}))
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			ctx, cancel := context.WithTimeout(t.Context(), 0)
			cancel()
			_, _ = get(ctx, c, pipeURL)
			ctx, cancel = context.WithCancel(t.Context())
			time.AfterFunc(100*time.Millisecond, cancel)
			_, _ = get(ctx, c, pipeURL)
		}
		if st := c.breaker.State(); st.String() != "closed" {
			t.Errorf("breaker %v after cancelled calls, want closed", st)
		}
		if s.count() != 5 {
			t.Errorf("server saw %d attempts, want 5 (none for expired contexts)", s.count())
		}
	})
}

// TestStreamedBodyWithinAttemptTimeout pins that the caller's reading of a
// body longer than the buffer is still bounded by the attempt timeout: a
// target that stalls mid-stream cannot hold the caller forever.
func TestStreamedBodyWithinAttemptTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		stall := func(w http.ResponseWriter, r *http.Request) {
			w.Write(make([]byte, 2048))
			http.NewResponseController(w).Flush()
			select {
			case <-time.After(time.Hour):
			case <-r.Context().Done():
			}
		}
		s := &script{then: stall}
		c, err := New("room", WithTransport(servePipe(t, s)), WithMaxBufferedBody(1024))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		resp, err := get(t.Context(), c, pipeURL)
		if err != nil {
			t.Fatalf("Do: %v", err)
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if !errors.Is(err, context.DeadlineExceeded) || n != 2048 {
			t.Errorf("read %d bytes, %v; want 2048 and DeadlineExceeded", n, err)
		}
		if d := time.Since(start); d != DefaultAttemptTimeout {
			t.Errorf("read ended after %v, want %v", d, DefaultAttemptTimeout)
		}
	})
}
