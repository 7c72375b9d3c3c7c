package resilience

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// TestRetryableStatusThenSuccess pins that 429, 502, 503 and 504 are retried
// and that the caller gets the later success, not the failure.
func TestRetryableStatusThenSuccess(t *testing.T) {
	t.Parallel()
	for _, code := range []int{429, 502, 503, 504} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			t.Parallel()
			s := &script{steps: []step{status(code)}, then: ok("fine")}
			url := serve(t, s)
			m := newMeter()
			c := newClient(t, m.opt)
			resp, err := get(t.Context(), c, url)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			if resp.StatusCode != 200 || readAll(t, resp) != "fine" {
				t.Errorf("got %d, want 200 fine", resp.StatusCode)
			}
			if s.count() != 2 {
				t.Errorf("server saw %d attempts, want 2", s.count())
			}
			if a, r := m.count(t, MetricAttempts), m.count(t, MetricRetries); a != 2 || r != 1 {
				t.Errorf("metrics: %d attempts, %d retries; want 2, 1", a, r)
			}
		})
	}
}

// TestNonRetryableStatus pins that other statuses, 500 included, reach the
// caller as they came, after one attempt, with their body.
func TestNonRetryableStatus(t *testing.T) {
	t.Parallel()
	for _, code := range []int{400, 404, 409, 500, 501} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			t.Parallel()
			s := &script{then: status(code)}
			c := newClient(t)
			resp, err := get(t.Context(), c, serve(t, s))
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			if body := readAll(t, resp); resp.StatusCode != code || body != "status "+strconv.Itoa(code) {
				t.Errorf("got %d %q, want %d", resp.StatusCode, body, code)
			}
			if s.count() != 1 {
				t.Errorf("server saw %d attempts, want 1", s.count())
			}
		})
	}
}

// TestAttemptsExhausted pins that retries stop at the attempt limit with an
// *Error carrying the count, the last status and ErrAttemptsExhausted, and
// that the failed responses' bodies are closed.
func TestAttemptsExhausted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		opts     []Option
		attempts int
	}{
		{"default", nil, 3},
		{"five", []Option{WithMaxAttempts(5)}, 5},
		{"policy one", Policy{MaxAttempts: 1}.Options(), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &script{then: status(503)}
			c := newClient(t, append(tc.opts, WithoutBreaker())...)
			resp, err := get(t.Context(), c, serve(t, s))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Do = %v, %v; want an *Error", resp, err)
			}
			wantErr := ErrAttemptsExhausted
			if e.Attempts != tc.attempts || e.StatusCode != 503 || !errors.Is(err, wantErr) || e.Target != "target" || e.Method != "GET" {
				t.Errorf("error %+v (%v), want %d attempts, status 503, %v", e, err, tc.attempts, wantErr)
			}
			if s.count() != tc.attempts {
				t.Errorf("server saw %d attempts, want %d", s.count(), tc.attempts)
			}
		})
	}
}

// TestConnectionRefused pins that a refused connection is retried up to the
// limit and reported with the system error.
func TestConnectionRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	m := newMeter()
	c := newClient(t, m.opt)
	_, err = get(t.Context(), c, "http://"+addr+"/x")
	var e *Error
	if !errors.As(err, &e) || e.Attempts != 3 || e.StatusCode != 0 {
		t.Fatalf("Do error = %#v, want an *Error after 3 attempts", err)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) || !errors.Is(err, ErrAttemptsExhausted) {
		t.Errorf("error %v: want ECONNREFUSED and ErrAttemptsExhausted", err)
	}
	if n := m.count(t, MetricAttempts, attribute.String("target", "target")); n != 3 {
		t.Errorf("%s = %d, want 3", MetricAttempts, n)
	}
}

// TestResetMidBody pins that a connection reset in the middle of a buffered
// body is retried, and that without buffering the break reaches the caller's
// Read instead (the documented limit).
func TestResetMidBody(t *testing.T) {
	t.Parallel()
	t.Run("buffered", func(t *testing.T) {
		t.Parallel()
		s := &script{steps: []step{resetMidBody}, then: ok("whole body")}
		c := newClient(t)
		resp, err := get(t.Context(), c, serve(t, s))
		if err != nil {
			t.Fatalf("Do: %v", err)
		}
		if body := readAll(t, resp); body != "whole body" {
			t.Errorf("body %q, want the second attempt's", body)
		}
		if s.count() != 2 {
			t.Errorf("server saw %d attempts, want 2", s.count())
		}
	})
	t.Run("streamed", func(t *testing.T) {
		t.Parallel()
		s := &script{steps: []step{resetMidBody}, then: ok("whole body")}
		c := newClient(t, WithMaxBufferedBody(0))
		resp, err := get(t.Context(), c, serve(t, s))
		if err != nil {
			t.Fatalf("Do: %v", err)
		}
		defer resp.Body.Close()
		if _, err := io.ReadAll(resp.Body); err == nil {
			t.Error("reading the cut body succeeded")
		}
		if s.count() != 1 {
			t.Errorf("server saw %d attempts, want 1", s.count())
		}
	})
}

// TestLongBodyStreams pins that a body longer than the buffer reaches the
// caller whole, and that LastGood still remembers it once read to the end.
func TestLongBodyStreams(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("0123456789abcdef", 256) // 4 KiB
	s := &script{steps: []step{ok(long)}, then: status(503)}
	url := serve(t, s)
	c := newClient(t, WithMaxBufferedBody(1024), WithFallback(nil, LastGood(time.Hour, 10)))
	resp, err := get(t.Context(), c, url)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if _, ok := resp.Body.(*streamBody); !ok {
		t.Errorf("body is %T, want a stream", resp.Body)
	}
	if body := readAll(t, resp); body != long {
		t.Fatalf("body has %d bytes, want %d", len(body), len(long))
	}
	resp, err = get(t.Context(), c, url)
	if err != nil {
		t.Fatalf("Do after failure: %v", err)
	}
	if !IsFallback(resp) || readAll(t, resp) != long {
		t.Errorf("fallback %v with a different body", resp.Header)
	}
}

// dedup is a server that applies each POST once per Idempotency-Key: it
// stores the body, and answers the first attempt of each request with a 503
// after storing (the answer is lost, not the work).
type dedup struct {
	mu       sync.Mutex
	attempts int
	bodies   []string          // every body received
	stored   map[string]string // key → stored result
	keyless  int               // results stored for requests without a key
}

func (d *dedup) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.attempts++
	d.bodies = append(d.bodies, string(body))
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		d.keyless++
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if res, ok := d.stored[key]; ok {
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, res)
		return
	}
	d.stored[key] = "created " + string(body)
	w.WriteHeader(http.StatusServiceUnavailable)
}

// TestPostIdempotency pins that a POST is retried only with an
// Idempotency-Key and a replayable body, that a retry replays the same
// body, and that the deduplicating server then stores a single result.
func TestPostIdempotency(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		key        string
		body       func() io.Reader
		wantStatus int // 0: an error
		attempts   int
	}{
		{"no key", "", func() io.Reader { return strings.NewReader("a") }, 503, 1},
		{"key", "k1", func() io.Reader { return bytes.NewReader([]byte("a")) }, 201, 2},
		{"key, body not replayable", "k2", func() io.Reader { return io.MultiReader(strings.NewReader("a")) }, 503, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := &dedup{stored: map[string]string{}}
			c := newClient(t)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, serve(t, d), tc.body())
			if err != nil {
				t.Fatal(err)
			}
			if tc.key != "" {
				req.Header.Set("Idempotency-Key", tc.key)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			body := readAll(t, resp)
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status %d %q, want %d", resp.StatusCode, body, tc.wantStatus)
			}
			d.mu.Lock()
			defer d.mu.Unlock()
			if d.attempts != tc.attempts {
				t.Errorf("server saw %d attempts, want %d", d.attempts, tc.attempts)
			}
			for i, b := range d.bodies {
				if b != "a" {
					t.Errorf("attempt %d sent body %q, want %q", i+1, b, "a")
				}
			}
			if n := len(d.stored) + d.keyless; n != 1 {
				t.Errorf("server stored %d results, want 1", n)
			}
			if tc.wantStatus == 201 && body != "created a" {
				t.Errorf("body %q, want the stored result", body)
			}
		})
	}
}

// TestPostWithoutKeyNotRetriedOnReset pins that a POST without a key whose
// connection breaks is not sent again: the server may have applied it.
func TestPostWithoutKeyNotRetriedOnReset(t *testing.T) {
	t.Parallel()
	s := &script{then: resetMidBody}
	c := newClient(t)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, serve(t, s), strings.NewReader("x"))
	_, err := c.Do(req)
	var e *Error
	if !errors.As(err, &e) || e.Attempts != 1 {
		t.Fatalf("Do error = %v, want an *Error after 1 attempt", err)
	}
	if s.count() != 1 {
		t.Errorf("server saw %d attempts, want 1", s.count())
	}
}

// TestInFlightDuplicateRetried pins that a 409 with Retry-After answering a
// request with an Idempotency-Key (the server still processes an earlier
// attempt with the key, as runtime/httpserver answers) is waited out and
// retried, while a 409 without Retry-After, or without a key, is the
// server's answer. Found by the reference system's reliability test: a
// hold that outlived its attempt timeout turned into "room taken".
func TestInFlightDuplicateRetried(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		key        string
		retryAfter string
		wantStatus int
		attempts   int
	}{
		{"key and Retry-After", "k1", "0", 201, 2},
		{"no Retry-After", "k2", "", 409, 1},
		{"no key", "", "0", 409, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			attempts := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				attempts++
				n := attempts
				mu.Unlock()
				if n == 1 {
					if tc.retryAfter != "" {
						w.Header().Set("Retry-After", tc.retryAfter)
					}
					w.WriteHeader(http.StatusConflict)
					return
				}
				w.WriteHeader(http.StatusCreated)
			}))
			t.Cleanup(srv.Close)
			c := newClient(t)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, strings.NewReader("a"))
			if err != nil {
				t.Fatal(err)
			}
			if tc.key != "" {
				req.Header.Set("Idempotency-Key", tc.key)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			readAll(t, resp)
			mu.Lock()
			defer mu.Unlock()
			if resp.StatusCode != tc.wantStatus || attempts != tc.attempts {
				t.Errorf("status %d after %d attempts, want %d after %d", resp.StatusCode, attempts, tc.wantStatus, tc.attempts)
			}
		})
	}
}
