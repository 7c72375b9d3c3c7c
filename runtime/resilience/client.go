package resilience

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/sony/gobreaker/v2"
)

// A Client sends HTTP requests to one target service with the policies of
// the package: attempt timeouts, an overall deadline, bounded retries with
// backoff, a retry budget, a circuit breaker and fallbacks. Create one per
// target with [New] and share it: its budget and breaker only work if every
// call to that target goes through the same Client.
//
// A Client is an HttpRequestDoer for oapi-codegen clients (pass it to their
// WithHTTPClient option) and, through [Client.RoundTripper], a transport for
// an [http.Client]. It is safe for concurrent use.
type Client struct {
	name      string
	cfg       config
	breaker   *gobreaker.TwoStepCircuitBreaker[struct{}] // nil when off
	budget    *budget
	metrics   *metrics
	recorders []recorderRule
}

type recorderRule struct {
	match func(*http.Request) bool
	rec   Recorder
}

// New returns a Client for the target service called name (used in errors,
// logs, metrics and as the breaker's name), configured by opts on top of the
// defaults. It returns an error, and no Client, if name is empty or an option
// is out of range.
func New(name string, opts ...Option) (*Client, error) {
	if name == "" {
		return nil, errors.New("new resilience client: empty target name")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("new resilience client %q: %w", name, err)
	}
	m, err := newMetrics(cfg.meterProvider, name)
	if err != nil {
		return nil, fmt.Errorf("new resilience client %q: metrics: %w", name, err)
	}
	c := &Client{
		name:    name,
		cfg:     cfg,
		budget:  newBudget(cfg.budgetRatio, cfg.budgetMin, cfg.budgetWindow),
		metrics: m,
	}
	for _, r := range cfg.fallbacks {
		if rec, ok := r.fb.(Recorder); ok {
			c.recorders = append(c.recorders, recorderRule{match: r.match, rec: rec})
		}
	}
	if !cfg.breakerOff {
		c.breaker = c.newBreaker()
	}
	return c, nil
}

// Name returns the target name the Client was created with.
func (c *Client) Name() string { return c.name }

// errFailure and errExcluded report an attempt's outcome to the breaker.
var (
	errFailure  = errors.New("attempt failed")
	errExcluded = errors.New("attempt abandoned by the caller")
)

func (c *Client) newBreaker() *gobreaker.TwoStepCircuitBreaker[struct{}] {
	s := c.cfg.breaker
	consecutive, minRequests := uint32(s.ConsecutiveFailures), uint32(s.MinRequests)
	return gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         c.name,
		MaxRequests:  uint32(s.HalfOpenProbes),
		Interval:     s.Window,
		BucketPeriod: s.Window / 10,
		Timeout:      s.OpenTimeout,
		ReadyToTrip: func(n gobreaker.Counts) bool {
			if n.ConsecutiveFailures >= consecutive {
				return true
			}
			total := n.TotalSuccesses + n.TotalFailures
			return total >= minRequests && float64(n.TotalFailures) >= s.FailureRatio*float64(total)
		},
		OnStateChange: func(name string, from, to gobreaker.State) {
			level := slog.LevelInfo
			if to == gobreaker.StateOpen {
				level = slog.LevelWarn
			}
			c.cfg.logger.LogAttrs(context.Background(), level, "circuit breaker state changed",
				slog.String("target", name), slog.String("from", from.String()), slog.String("to", to.String()))
			c.metrics.transition(from.String(), to.String())
		},
		IsSuccessful: func(err error) bool { return err == nil },
		IsExcluded:   func(err error) bool { return err == errExcluded },
	})
}

// Do sends req to the target under the Client's policies and returns the
// response, like [http.RoundTripper]: it does not follow redirects or
// handle cookies (use [Client.RoundTripper] in an [http.Client] for that),
// and it does not modify req. Do closes req.Body, even on errors.
//
// Do returns the response as it came when its status is not retryable
// (every status but 429, 502, 503 and 504), when the request may not be
// retried (see the package documentation), and when a 429 or 503 asks, with
// Retry-After, for a longer wait than the deadline leaves. When Do gives up
// — the breaker is open, attempts or the retry budget ran out, the deadline
// passed, or a transport error cannot be retried — it returns an [*Error],
// unless a fallback answers for it. When the request's context ends, Do
// returns at once with an *Error wrapping the context's error and no
// fallback.
//
// The caller must close the returned body. A body of up to
// [WithMaxBufferedBody] bytes is already in memory; the rest of a longer one
// is read from the network, and must be read within the attempt timeout.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	if req == nil {
		return nil, fmt.Errorf("%s: nil request", c.name)
	}
	if req.URL == nil {
		closeBody(req)
		return nil, fmt.Errorf("%s: request without URL", c.name)
	}
	parent := req.Context()
	resp, err := c.send(parent, req)
	if err != nil {
		if parent.Err() == nil {
			if fb := c.serveFallback(req, err); fb != nil {
				return fb, nil
			}
		}
		return nil, err
	}
	if len(c.recorders) > 0 && recordable(resp) {
		switch b := resp.Body.(type) {
		case *streamBody:
			c.recordStream(req, resp, b)
		case *bufferedBody:
			c.record(req, resp, b.bytes())
		default: // http.NoBody
			c.record(req, resp, []byte{})
		}
	}
	return resp, nil
}

// recordable reports whether a Recorder is shown resp.
func recordable(resp *http.Response) bool {
	return resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests
}

func (c *Client) record(req *http.Request, resp *http.Response, body []byte) {
	for _, r := range c.recorders {
		if r.match == nil || r.match(req) {
			r.rec.Record(req, resp, body)
		}
	}
}

func (c *Client) recordStream(req *http.Request, resp *http.Response, b *streamBody) {
	for _, r := range c.recorders {
		if r.match == nil || r.match(req) {
			b.tee = new(bytes.Buffer)
			b.record = func(body []byte) { c.record(req, resp, body) }
			return
		}
	}
}

// Sentinel causes for giving up on the deadline.
var (
	errDeadline   = fmt.Errorf("call deadline passed: %w", context.DeadlineExceeded)
	errNoTimeLeft = fmt.Errorf("no time left for a retry: %w", context.DeadlineExceeded)
)

// send runs the attempts of one call. parent is the request's context; the
// call ends by its deadline or the call timeout, whichever is first. Each
// attempt runs in a child of parent whose deadline is the earlier of the
// attempt timeout and the call's deadline, so a call costs one context per
// attempt and none more.
func (c *Client) send(parent context.Context, req *http.Request) (*http.Response, error) {
	c.budget.call()
	retryable := idempotent(req) && replayable(req)
	deadline := time.Now().Add(c.cfg.timeout)
	if d, ok := parent.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var (
		attempts   int
		lastStatus int
		lastErr    error
	)
	giveUp := func(reason error) error {
		if errors.Is(reason, context.DeadlineExceeded) && errors.Is(lastErr, context.DeadlineExceeded) {
			lastErr = nil
		}
		return &Error{
			Target:     c.name,
			Method:     method(req),
			URL:        req.URL.Redacted(),
			Attempts:   attempts,
			StatusCode: lastStatus,
			Err:        wrapCause(reason, lastErr),
		}
	}
	// The backoff computes the ceiling of each wait; the wait itself is
	// drawn uniformly below it (full jitter). The loop drives NextBackOff
	// itself rather than calling backoff.Retry because Retry-After, the
	// budget, the breaker and the deadline all decide whether to go on.
	bo := backoff.ExponentialBackOff{
		InitialInterval: c.cfg.backoffInitial,
		Multiplier:      2,
		MaxInterval:     c.cfg.backoffMax,
	}
	bo.Reset()

	for {
		body := req.Body
		if attempts > 0 && body != nil && body != http.NoBody {
			var err error
			if body, err = req.GetBody(); err != nil {
				lastErr = fmt.Errorf("rewind request body: %w", err)
				return nil, giveUp(nil)
			}
		}
		if err := parent.Err(); err != nil { // the caller gave up: send nothing
			if body != nil {
				body.Close()
			}
			return nil, giveUp(err)
		}
		done := func(error) {}
		if c.breaker != nil {
			d, err := c.breaker.Allow()
			if err != nil {
				c.metrics.add(parent, c.metrics.rejections)
				if body != nil {
					body.Close()
				}
				return nil, giveUp(ErrCircuitOpen)
			}
			done = d
		}
		attempts++
		c.metrics.add(parent, c.metrics.attempts)
		resp, expired, err := c.attempt(parent, req, body, deadline)

		if err != nil {
			if perr := parent.Err(); perr != nil {
				if errors.Is(perr, context.Canceled) {
					done(errExcluded)
				} else {
					done(errFailure)
				}
				lastErr = err
				return nil, giveUp(perr)
			}
			done(errFailure)
			lastErr = err
			if expired && !time.Now().Before(deadline) {
				return nil, giveUp(errDeadline)
			}
			if expired {
				lastErr = fmt.Errorf("attempt timed out after %v: %w", c.cfg.attemptTimeout, err)
			}
			if !retryable || !expired && !retryableErr(err) {
				return nil, giveUp(nil)
			}
		} else {
			status := resp.StatusCode
			if status >= 500 || status == http.StatusTooManyRequests {
				done(errFailure)
			} else {
				done(nil)
			}
			if !(retryableStatus(status) || inFlightDuplicate(req, resp)) || !retryable {
				return resp, nil
			}
			lastStatus, lastErr = status, nil
		}

		// The outcome is retryable; see whether a retry may follow.
		if attempts >= c.cfg.maxAttempts {
			closeResponse(resp)
			return nil, giveUp(ErrAttemptsExhausted)
		}
		wait := jitter(bo.NextBackOff())
		left := time.Until(deadline)
		if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusConflict) {
			if ra, ok := retryAfter(resp.Header); ok {
				if ra > left {
					return resp, nil // the target's own answer: come back later
				}
				wait = max(wait, ra)
			}
		}
		closeResponse(resp)
		if wait >= left {
			return nil, giveUp(errNoTimeLeft)
		}
		if !c.budget.retry() {
			c.metrics.add(parent, c.metrics.exhausted)
			return nil, giveUp(ErrBudgetExhausted)
		}
		if err := sleep(parent, wait); err != nil {
			return nil, giveUp(err)
		}
		c.metrics.add(parent, c.metrics.retries)
	}
}

// attempt sends one attempt with body as the request body and buffers the
// response body, in a context that ends at the attempt timeout or at
// deadline, whichever is first. A streamed response keeps that context until
// its body is closed. expired reports whether err came from that context's
// deadline.
func (c *Client) attempt(parent context.Context, req *http.Request, body io.ReadCloser, deadline time.Time) (resp *http.Response, expired bool, err error) {
	if d := time.Now().Add(c.cfg.attemptTimeout); d.Before(deadline) {
		deadline = d
	}
	actx, acancel := context.WithDeadline(parent, deadline)
	r := req.WithContext(actx)
	r.Body = body
	resp, err = c.cfg.transport.RoundTrip(r)
	if err == nil {
		resp.Request = req
		var sb *streamBody
		if sb, err = buffer(resp, c.cfg.maxBufferedBody, acancel); err == nil {
			if sb == nil {
				acancel()
			}
			return resp, false, nil
		}
		resp = nil
	}
	expired = errors.Is(actx.Err(), context.DeadlineExceeded) && parent.Err() == nil
	acancel()
	return nil, expired, err
}

// RoundTripper returns an [http.RoundTripper] that sends each request with
// [Client.Do], for use as an [http.Client]'s Transport. Errors reach the
// caller wrapped in a *url.Error by the http.Client; errors.Is and errors.As
// see through it.
func (c *Client) RoundTripper() http.RoundTripper { return roundTripper{c} }

type roundTripper struct{ c *Client }

func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return rt.c.Do(req) }

func (rt roundTripper) CloseIdleConnections() { rt.c.CloseIdleConnections() }

// CloseIdleConnections closes the idle connections of the Client's
// transport, if it has such a method.
func (c *Client) CloseIdleConnections() {
	if t, ok := c.cfg.transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
}

func method(req *http.Request) string {
	if req.Method == "" {
		return http.MethodGet
	}
	return req.Method
}

// jitter returns a uniformly random duration in [0, d].
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}

// sleep waits for d or until ctx ends, whichever comes first, and returns
// ctx's error if it ended.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

func closeResponse(resp *http.Response) {
	if resp != nil {
		resp.Body.Close()
	}
}
