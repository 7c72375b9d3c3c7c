package resilience

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestNewRejectsBadOptions pins that New reports every out-of-range setting
// as an error naming it, instead of panicking or running with nonsense.
func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"attempt timeout", []Option{WithAttemptTimeout(0)}, "attempt timeout"},
		{"timeout", []Option{WithTimeout(-time.Second)}, "timeout -1s"},
		{"no attempts", []Option{WithMaxAttempts(0)}, "max attempts 0"},
		{"unlimited attempts", []Option{WithMaxAttempts(1000)}, "max attempts 1000"},
		{"backoff", []Option{WithBackoff(time.Second, time.Millisecond)}, "backoff"},
		{"budget ratio", []Option{WithRetryBudget(2, 10, time.Second)}, "ratio 2"},
		{"budget NaN", []Option{WithRetryBudget(math.NaN(), 10, time.Second)}, "ratio NaN"},
		{"budget minimum", []Option{WithRetryBudget(0.1, -1, time.Second)}, "minimum -1"},
		{"budget window", []Option{WithRetryBudget(0.1, 1, time.Millisecond)}, "window 1ms"},
		{"breaker ratio", []Option{WithBreaker(BreakerSettings{FailureRatio: 1.5})}, "failure ratio"},
		{"breaker probes", []Option{WithBreaker(BreakerSettings{HalfOpenProbes: -1})}, "probes"},
		{"breaker window", []Option{WithBreaker(BreakerSettings{Window: time.Nanosecond})}, "breaker window"},
		{"buffer", []Option{WithMaxBufferedBody(-1)}, "buffered body"},
		{"nil fallback", []Option{WithFallback(nil, nil)}, "fallback 0: nil"},
		{"last good ttl", []Option{WithFallback(nil, LastGood(0, 10))}, "ttl"},
		{"last good size", []Option{WithFallback(nil, LastGood(time.Second, 0))}, "max entries"},
		{"static status", []Option{WithFallback(nil, Static(42, nil, nil))}, "status 42"},
		{"transport", []Option{WithTransport(nil)}, "nil transport"},
		{"logger", []Option{WithLogger(nil)}, "nil logger"},
		{"meter", []Option{WithMeterProvider(nil)}, "nil meter"},
		{"policy", Policy{MaxAttempts: -1, BudgetWindow: -1}.Options(), "max attempts -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := New("member", tc.opts...)
			if err == nil || c != nil {
				t.Fatalf("New = %v, %v; want an error", c, err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), `new resilience client "member": `) {
				t.Errorf("error %q, want it to name %q", err, tc.want)
			}
		})
	}
	if _, err := New(""); err == nil {
		t.Error("New with an empty name succeeded")
	}
}

// TestPolicyOptions pins that the zero Policy is the default configuration
// and that each field reaches its setting.
func TestPolicyOptions(t *testing.T) {
	t.Parallel()
	if opts := (Policy{}).Options(); len(opts) != 0 {
		t.Errorf("zero Policy gives %d options, want none", len(opts))
	}
	p := Policy{
		AttemptTimeout: 1, Timeout: 2, MaxAttempts: 4, BackoffInitial: 5, BackoffMax: 6,
		BudgetRatio: 0.2, BudgetMinPerSecond: 3, BudgetWindow: time.Second,
		Breaker:        BreakerSettings{FailureRatio: 0.7, OpenTimeout: time.Minute},
		DisableBreaker: true, MaxBufferedBody: 9,
	}
	c, err := New("member", p.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	got := c.cfg
	if got.attemptTimeout != 1 || got.timeout != 2 || got.maxAttempts != 4 || got.backoffInitial != 5 || got.backoffMax != 6 ||
		got.budgetRatio != 0.2 || got.budgetMin != 3 || got.budgetWindow != time.Second ||
		got.breaker.FailureRatio != 0.7 || got.breaker.OpenTimeout != time.Minute ||
		got.breaker.MinRequests != DefaultBreakerMinRequests || !got.breakerOff || c.breaker != nil || got.maxBufferedBody != 9 {
		t.Errorf("config %+v does not match %+v", got, p)
	}
	d, err := New("member")
	if err != nil {
		t.Fatal(err)
	}
	tr, ok := d.cfg.transport.(*http.Transport)
	if !ok || tr == http.DefaultTransport || tr.Proxy != nil || tr.MaxIdleConnsPerHost < 2 {
		t.Errorf("default transport %#v: want a clone without proxy", d.cfg.transport)
	}
}

// TestDoRejectsBadRequests pins that Do reports a nil request or URL as an
// error rather than panicking.
func TestDoRejectsBadRequests(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	if _, err := c.Do(nil); err == nil {
		t.Error("Do(nil) succeeded")
	}
	if _, err := c.Do(&http.Request{Method: "GET"}); err == nil {
		t.Error("Do without URL succeeded")
	}
	req, _ := http.NewRequest("GET", "gopher://x/", nil)
	_, err := c.Do(req)
	var e *Error
	if !asError(err, &e) || e.Attempts != 1 {
		t.Errorf("unsupported scheme: %v, want an *Error after 1 attempt (not retried)", err)
	}
}
