package resilience

import (
	"errors"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// TestBreakerCountsFailuresNotClientErrors pins what the breaker counts: a
// 4xx other than 429 is the target working, so any number of them leaves it
// closed; 500s are failures (though not retried) and open it after the
// consecutive-failure limit.
func TestBreakerCountsFailuresNotClientErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		code     int
		calls    int
		wantOpen bool
	}{
		{"404s", 404, 30, false},
		{"400s", 400, 30, false},
		{"500s", 500, 5, true},
		{"429s", 429, 5, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &script{then: status(tc.code)}
			url := serve(t, s)
			c := newClient(t, WithMaxAttempts(1))
			for range tc.calls {
				resp, err := get(t.Context(), c, url)
				if err == nil { // a 429 that is not retried is an *Error
					readAll(t, resp)
				} else if errors.Is(err, ErrCircuitOpen) {
					t.Fatalf("Do: %v", err)
				}
			}
			_, err := get(t.Context(), c, url)
			if open := errors.Is(err, ErrCircuitOpen); open != tc.wantOpen {
				t.Errorf("after %d × %d: open = %v (%v), want %v", tc.calls, tc.code, open, err, tc.wantOpen)
			}
			if tc.wantOpen && s.count() != tc.calls {
				t.Errorf("server saw %d attempts, want %d: an open breaker must not touch the network", s.count(), tc.calls)
			}
		})
	}
}

// TestBreakerFailureRatio pins the ratio trip: failures that never run five
// in a row still open the breaker once half of ten attempts failed.
func TestBreakerFailureRatio(t *testing.T) {
	t.Parallel()
	var steps []step
	for range 5 {
		steps = append(steps, ok("fine"), status(500))
	}
	s := &script{steps: steps, then: ok("fine")}
	url := serve(t, s)
	c := newClient(t)
	for i := range 10 {
		resp, err := get(t.Context(), c, url)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		readAll(t, resp)
	}
	if _, err := get(t.Context(), c, url); !errors.Is(err, ErrCircuitOpen) {
		t.Errorf("after 5 failures in 10: %v, want ErrCircuitOpen", err)
	}
}

// TestBreakerStateMachine pins the whole cycle closed → open → half-open →
// closed with the default timings, each change logged and counted, and
// that a failed probe opens the breaker again.
func TestBreakerStateMachine(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var healthy atomic.Bool
		s := &script{then: func(w http.ResponseWriter, r *http.Request) {
			if healthy.Load() {
				ok("fine")(w, r)
				return
			}
			status(503)(w, r)
		}}
		m := newMeter()
		l := &logs{}
		c, err := New("member", WithTransport(servePipe(t, s)), WithMaxAttempts(1), m.opt, WithLogger(slogNew(l)))
		if err != nil {
			t.Fatal(err)
		}
		call := func() error {
			resp, err := get(t.Context(), c, pipeURL)
			if err == nil {
				readAll(t, resp)
			}
			return err
		}
		for range 5 {
			call()
		}
		if err := call(); !errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("after 5 failures: %v, want ErrCircuitOpen", err)
		}
		var e *Error
		if errors.As(call(), &e); e == nil || e.Attempts != 0 {
			t.Errorf("open breaker error %+v, want 0 attempts", e)
		}
		if s.count() != 5 {
			t.Errorf("server saw %d attempts, want 5", s.count())
		}

		time.Sleep(DefaultBreakerOpenTimeout - time.Millisecond)
		if err := call(); !errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("just before the open timeout: %v, want ErrCircuitOpen", err)
		}
		time.Sleep(2 * time.Millisecond)                                 // the breaker half-opens strictly after the timeout
		if err := call(); err == nil || errors.Is(err, ErrCircuitOpen) { // the probe fails
			t.Fatalf("probe: %v, want the target's failure", err)
		}
		if err := call(); !errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("after a failed probe: %v, want ErrCircuitOpen", err)
		}

		time.Sleep(DefaultBreakerOpenTimeout + time.Millisecond)
		healthy.Store(true)
		if err := call(); err != nil {
			t.Fatalf("probe: %v", err)
		}
		for range 3 {
			if err := call(); err != nil {
				t.Fatalf("closed again: %v", err)
			}
		}

		want := []string{"closed>open", "open>half-open", "half-open>open", "open>half-open", "half-open>closed"}
		if got := l.transitions(); !equal(got, want) {
			t.Errorf("logged transitions %v, want %v", got, want)
		}
		for _, tr := range [][2]string{{"closed", "open"}, {"open", "half-open"}, {"half-open", "open"}, {"half-open", "closed"}} {
			n := m.count(t, MetricBreakerTransitions, attribute.String("target", "member"),
				attribute.String("from", tr[0]), attribute.String("to", tr[1]))
			want := int64(1)
			if tr[0] == "open" {
				want = 2
			}
			if n != want {
				t.Errorf("%s %s→%s = %d, want %d", MetricBreakerTransitions, tr[0], tr[1], n, want)
			}
		}
		if n := m.count(t, MetricBreakerRejections); n != 4 {
			t.Errorf("%s = %d, want 4", MetricBreakerRejections, n)
		}
	})
}

// TestBreakerOpenServesLastGood pins the fallback path: once the breaker is
// open, a GET gets the last good answer to its URL, marked as a fallback,
// without touching the network; a URL never answered well gets the error.
func TestBreakerOpenServesLastGood(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := &script{steps: []step{ok(`{"id":1,"active":true}`)}, then: status(503)}
		m := newMeter()
		c, err := New("member", WithTransport(servePipe(t, s)), m.opt,
			WithFallback(nil, LastGood(time.Minute, 100)))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := get(t.Context(), c, pipeURL+"/members/1")
		if err != nil || IsFallback(resp) {
			t.Fatalf("first call: %v, %v", resp, err)
		}
		readAll(t, resp)

		// Two calls of three failed attempts open the breaker (5 in a row);
		// both are answered by the fallback.
		for range 3 {
			resp, err := get(t.Context(), c, pipeURL+"/members/1")
			if err != nil {
				t.Fatalf("call while failing: %v", err)
			}
			if body := readAll(t, resp); !IsFallback(resp) || body != `{"id":1,"active":true}` || resp.StatusCode != 200 {
				t.Errorf("got %d %q %v, want the last good answer", resp.StatusCode, body, resp.Header)
			}
			if v := resp.Header.Get(FallbackHeader); v != FallbackLastGood {
				t.Errorf("%s = %q, want %q", FallbackHeader, v, FallbackLastGood)
			}
		}
		hits := s.count()
		time.Sleep(30 * time.Second)
		resp, err = get(t.Context(), c, pipeURL+"/members/1")
		if err != nil || !IsFallback(resp) {
			t.Fatalf("open breaker: %v, %v; want the fallback", resp, err)
		}
		if got := resp.Header.Get("Age"); got == "" {
			t.Error("no Age header on the fallback")
		}
		readAll(t, resp)
		if _, err := get(t.Context(), c, pipeURL+"/members/2"); !errors.Is(err, ErrCircuitOpen) {
			t.Errorf("URL without a good answer: %v, want ErrCircuitOpen", err)
		}
		if n := m.count(t, MetricFallbacks, attribute.String("fallback", FallbackLastGood)); n != 4 {
			t.Errorf("%s = %d, want 4", MetricFallbacks, n)
		}
		if s.count() > hits+1 { // at most the half-open probe reached it
			t.Errorf("server saw %d attempts while the breaker was open", s.count()-hits)
		}
	})
}

// TestRoundTripper pins that the client works as an http.Client transport
// and that its errors survive the *url.Error wrapping.
func TestRoundTripper(t *testing.T) {
	t.Parallel()
	s := &script{steps: []step{status(500)}, then: ok("fine")}
	url0 := serve(t, s)
	c := newClient(t, WithMaxAttempts(1), WithBreaker(BreakerSettings{ConsecutiveFailures: 1}))
	hc := &http.Client{Transport: c.RoundTripper()}
	resp, err := hc.Get(url0)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	readAll(t, resp)
	_, err = hc.Get(url0)
	var ue *url.Error
	var e *Error
	if !errors.As(err, &ue) || !errors.As(err, &e) || !errors.Is(err, ErrCircuitOpen) {
		t.Errorf("Get error %v, want a *url.Error around an *Error with ErrCircuitOpen", err)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
